/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ept-pmap core: one guest-physical address space built twice, in
 * lockstep, as x86-64 page tables (KPT) and as EPT tables.
 *
 * Vocabulary used everywhere in this core:
 *   table pair   one order-1 allocation; KPT table below, EPT table above.
 *   entry        slot i of a table pair: KPT value and EPT value together.
 *   present      an entry whose KPT P bit (and EPT R|W|X) is set; the two
 *                halves are always present together.
 *   intermediate a present entry above level 1 that points at a table pair.
 *   leaf         a present entry that maps a frame: 4K at level 1, 2M at
 *                level 2 ("jumbo"), 1G at level 3 ("jumbo").
 *   mapped       a gpa covered by a leaf; unmapped otherwise.
 *   attr         what a leaf grants: EPM_ATTR_{R,W,X}, a memory type and
 *                flags; the core encodes it into both formats.
 *
 * Invariants kept by every operation (epm_check() verifies them):
 *   - both halves of every entry agree (Documentation/design.md,
 *     "The lockstep invariant");
 *   - intermediates carry full permissions, leaves decide;
 *   - no table pair other than the root is ever empty;
 *   - counters equal what the tables hold.
 *
 * Callers serialise all calls on one struct epm_pmap.
 */
#ifndef _EPM_PMAP_H
#define _EPM_PMAP_H

#include "env.h"
#include "pte.h"

/* attr: permissions, bits 2:0 */
#define EPM_ATTR_R		0x1u
#define EPM_ATTR_W		0x2u
#define EPM_ATTR_X		0x4u
#define EPM_ATTR_PERM		0x7u
/* attr: memory type (EPM_MT_*), bits 10:8 */
#define EPM_ATTR_MT_SHIFT	8
#define EPM_ATTR_MT_MASK	(0x7u << EPM_ATTR_MT_SHIFT)
#define EPM_ATTR_MT(mt)		((u32)(mt) << EPM_ATTR_MT_SHIFT)
#define EPM_ATTR_GET_MT(attr)	(((attr) & EPM_ATTR_MT_MASK) >> EPM_ATTR_MT_SHIFT)
/* attr: flags */
#define EPM_ATTR_IPAT		0x10000u /* EPT ignore-PAT */
#define EPM_ATTR_AD		0x20000u /* leaves born accessed (+dirty if W) */
#define EPM_ATTR_PINW		0x40000u /* frames pinned for write (software) */
#define EPM_ATTR_ALL		(EPM_ATTR_PERM | EPM_ATTR_MT_MASK | \
				 EPM_ATTR_IPAT | EPM_ATTR_AD | EPM_ATTR_PINW)

/* What the CPU lets us build; decided by the caller once. */
struct epm_hw {
	bool ept_2m;		/* EPT 2M leaves */
	bool ept_1g;		/* EPT 1G leaves */
	bool kpt_1g;		/* 1G pages in the host format (pdpe1gb) */
	bool exec_only;		/* EPT execute-only leaves */
};

struct epm_pmap {
	u64 *root;		/* KPT half of the root pair */
	struct epm_hw hw;
	u64 nr_pairs;		/* table pairs, root included */
	u64 mapped[3];		/* bytes mapped by 4K, 2M, 1G leaves */
};

/*
 * Frame source for epm_map(): give the host-physical address backing @gpa
 * in *@hpa (4 KiB aligned) and in *@contig how many bytes are physically
 * contiguous from there (a non-zero multiple of 4 KiB). Called with
 * increasing @gpa, each time at the first byte the previous answer did not
 * cover. A negative return aborts the map with that error.
 */
typedef int (*epm_frame_fn)(void *arg, u64 gpa, u64 *hpa, u64 *contig);

/*
 * Released frames: [@hpa, @hpa + @size) with the @attr its leaves carried.
 * Each mapped byte is released exactly once; neighbouring leaves of equal
 * attr and contiguous frames come coalesced.
 */
typedef void (*epm_release_fn)(void *arg, u64 hpa, u64 size, u32 attr);

struct epm_map_req {
	u64 gpa;
	u64 size;
	u32 attr;		/* EPM_ATTR_* */
	u64 max_page;		/* EPM_SIZE_4K, _2M or _1G */
	epm_frame_fn frame;
	void *arg;
};

/* One entry as epm_for_each() shows it. */
struct epm_entry {
	unsigned int level;	/* 4 (PML4) .. 1 (PT) */
	bool leaf;
	bool post;		/* intermediate seen again after its children */
	bool visited_all;	/* post: every child was in the range */
	u64 gpa;		/* first gpa the entry covers */
	u64 kpte;
	u64 epte;
};

#define EPM_WALK_PRE		0x1u	/* every present entry, parents first */
#define EPM_WALK_POST		0x2u	/* intermediates again, after children */

/* A non-zero return stops the walk and is returned by epm_for_each(). */
typedef int (*epm_visit_fn)(void *arg, const struct epm_entry *e);

/* One gpa, walked separately through each half. */
struct epm_xlate {
	u64 kpte[EPM_LEVELS + 1];	/* [level]; 0 where the walk stopped */
	u64 epte[EPM_LEVELS + 1];
	unsigned int level;		/* level of the leaf, 0 if unmapped */
	u64 page_size;
	u64 hpa;			/* from the EPT walk, offset included */
	u64 kpt_hpa;			/* from the KPT walk */
	u32 attr;			/* decoded from the EPT leaf */
	u32 kpt_attr;			/* decoded from the KPT leaf */
};

/* Why epm_check() counted a mismatch. */
enum epm_bad {
	EPM_BAD_NONE,
	EPM_BAD_PRESENT,	/* present in one half only */
	EPM_BAD_KIND,		/* leaf in one half, table in the other */
	EPM_BAD_TABLE,		/* intermediate bits or EPT != KPT + 4 KiB */
	EPM_BAD_LEAF,		/* leaf bits do not correspond */
	EPM_BAD_LEVEL,		/* leaf at a level that cannot hold one */
	EPM_BAD_EMPTY,		/* a non-root table pair with no entry */
	EPM_BAD_COUNT,		/* counters differ from the tables */
};

struct epm_mismatch {
	enum epm_bad why;
	unsigned int level;
	u64 gpa;
	u64 kpte;
	u64 epte;
};

int epm_pmap_init(struct epm_pmap *pm, const struct epm_hw *hw);
void epm_pmap_destroy(struct epm_pmap *pm, epm_release_fn release,
		      void *arg);

int epm_check_range(u64 gpa, u64 size);
int epm_check_attr(const struct epm_hw *hw, u32 attr);

int epm_range_unmapped(struct epm_pmap *pm, u64 gpa, u64 size);
int epm_range_mapped(struct epm_pmap *pm, u64 gpa, u64 size);
int epm_map(struct epm_pmap *pm, const struct epm_map_req *req);
int epm_unmap(struct epm_pmap *pm, u64 gpa, u64 size,
	      epm_release_fn release, void *arg);
int epm_protect(struct epm_pmap *pm, u64 gpa, u64 size, u32 perm);

int epm_for_each(struct epm_pmap *pm, u64 gpa, u64 size, unsigned int flags,
		 epm_visit_fn visit, void *arg);
int epm_translate(struct epm_pmap *pm, u64 gpa, struct epm_xlate *x);
u64 epm_check(struct epm_pmap *pm, struct epm_mismatch *first);

u64 epm_kpte_leaf(unsigned int level, u64 hpa, u32 attr);
u64 epm_epte_leaf(unsigned int level, u64 hpa, u32 attr);
u64 epm_kpte_table(u64 pair_pa);
u64 epm_epte_table(u64 pair_pa);
u64 epm_eptp(const struct epm_pmap *pm, bool ad);
u64 epm_kpt_root(const struct epm_pmap *pm);

#endif /* _EPM_PMAP_H */
