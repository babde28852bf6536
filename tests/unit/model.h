/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A flat reference model of one guest address space, and the random
 * operation driver that runs the page-table core against it. Shared by
 * test_model.c (choices from a seeded PRNG), fuzz.c (choices read from the
 * fuzzer's input bytes) and test_failinj.c (the model and the comparisons
 * only).
 *
 * The model knows nothing of tables or page sizes: it is a sorted array of
 * extents, each a run of mapped gpa pages backed by contiguous frames with
 * one attr. The driver predicts every result from it (errno, frames
 * released, what a translation must show, every leaf's bits) and fails on
 * the first disagreement, keeping a description of the operation.
 */
#ifndef _EPM_MODEL_H
#define _EPM_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "pmap.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

/*
 * Where the driver's choices come from: a xoshiro256** stream, or a fuzz
 * input cut in blocks of MD_BLOCK bytes, one per op (and one for
 * md_init()), so that a mutation of one block changes one op. An op's
 * first choices are read from its block; further ones come from a stream
 * seeded with the block, so the op stays a function of its block alone.
 */
#define MD_BLOCK	8

struct md_src {
	u64 s[4];
	const u8 *data;
	size_t len;
	size_t pos;
	u8 block[MD_BLOCK];
	unsigned int bpos;
	bool dry;		/* the input is used up */
};

void md_src_seed(struct md_src *src, u64 seed);
void md_src_bytes(struct md_src *src, const u8 *data, size_t len);
/*
 * Start on the next block: false (and @dry set) when the input has no
 * whole block left. Always true for a seeded stream.
 */
bool md_src_next(struct md_src *src);
/* A choice in [0, @n); 0 when @n <= 1. */
u64 md_below(struct md_src *src, u64 n);

static inline bool md_chance(struct md_src *src, unsigned int pct)
{
	return md_below(src, 100) < pct;
}

/*
 * One extent: [gpa, gpa + size) mapped to [hpa, hpa + size). The attr is
 * the one asked for at map time (permissions as last protected) plus two
 * bits of the model's own, above EPM_ATTR_ALL.
 */
struct md_ext {
	u64 gpa;
	u64 size;
	u64 hpa;
	u32 attr;
};

/* Leaves were born dirty: mapped with EPM_ATTR_AD and EPM_ATTR_W. */
#define MD_DIRTY		(1u << 31)
/* log512 of the map's max_page: a leaf may not be larger. */
#define MD_MAXPG_SHIFT		28
#define MD_MAXPG_MASK		(3u << MD_MAXPG_SHIFT)
#define MD_MAXPG(attr)		(EPM_SIZE_4K << (EPM_PTRS_SHIFT * \
				 (((attr) & MD_MAXPG_MASK) >> MD_MAXPG_SHIFT)))

/* The model attr of a successful map with @attr and @max_page. */
u32 md_map_attr(u32 attr, u64 max_page);

/* What the core reports releasing for a leaf carrying @attr. */
static inline u32 md_release_attr(u32 attr)
{
	return attr & EPM_ATTR_ALL & ~EPM_ATTR_AD;
}

/* A growable array of extents: the model, and lists of frames. */
struct md_list {
	struct md_ext *e;
	size_t n;
	size_t cap;
};

void md_list_push(struct md_list *l, u64 gpa, u64 size, u64 hpa, u32 attr);
void md_list_free(struct md_list *l);

/* The model: extents sorted by gpa, disjoint, @bytes mapped in all. */
struct model {
	struct md_list l;
	u64 bytes;
};

void model_free(struct model *m);
/* Is @gpa mapped? Then its frame (offset included) and attr. */
bool model_lookup(const struct model *m, u64 gpa, u64 *hpa, u32 *attr);
/* Is any byte of [gpa, gpa + size) mapped? */
bool model_any(const struct model *m, u64 gpa, u64 size);
/* Is every byte of [gpa, gpa + size) mapped? */
bool model_full(const struct model *m, u64 gpa, u64 size);
/* First unmapped gpa at or after @gpa. */
u64 model_run_end(const struct model *m, u64 gpa);
/*
 * Is [gpa, gpa + size) mapped to the contiguous frames from @hpa, with
 * @attr throughout? (What one leaf of that size must be.)
 */
bool model_is_run(const struct model *m, u64 gpa, u64 size, u64 hpa,
		  u32 attr);
/* Map an unmapped range. */
void model_insert(struct model *m, u64 gpa, u64 size, u64 hpa, u32 attr);
/* Unmap a range, holes allowed. */
void model_remove(struct model *m, u64 gpa, u64 size);
/* Set the permissions of a fully mapped range. */
void model_protect(struct model *m, u64 gpa, u64 size, u32 perm);
/* Append the frames mapped in [gpa, gpa + size) to @out, attrs released. */
void model_frames(const struct model *m, u64 gpa, u64 size,
		  struct md_list *out);

/*
 * The two halves of the leaf at @level for @hpa and a model attr, written
 * here from Documentation/design.md and pte.h (not with the core's
 * encoder), A/D bits as the core sets them at birth.
 */
void md_leaf_bits(unsigned int level, u64 hpa, u32 attr, u64 *kpte,
		  u64 *epte);

/*
 * Frames released during one operation, in call order. @uncoalesced counts
 * calls that continued the previous one (same attr, next frame): the core
 * promises to coalesce those.
 */
struct md_rel {
	struct md_list l;
	u64 uncoalesced;
};

void md_rel_add(struct md_rel *r, u64 hpa, u64 size, u32 attr);
/*
 * Were exactly the frames the model maps in [gpa, gpa + size) released,
 * each once, with their attrs? 0 if so, else -1 and a reason in @why.
 */
int md_rel_match(const struct model *m, u64 gpa, u64 size,
		 const struct md_rel *r, char *why, size_t len);

/*
 * The whole tree against the model: epm_check() finds nothing, every leaf
 * is a run of the model at a size the CPU and the map allowed, with the
 * exact bits md_leaf_bits() gives, and the leaves cover all the model
 * maps. 0 if so, else -1 and a reason in @why.
 */
int md_compare(struct epm_pmap *pm, const struct model *m, char *why,
	       size_t len);
/* epm_check() finds nothing: 0, else -1 and the first mismatch in @why. */
int md_check(struct epm_pmap *pm, char *why, size_t len);
/*
 * md_compare() without epm_check() over the leaves that cover a byte of
 * [gpa, gpa + size), which must map what the model maps there.
 */
int md_compare_range(struct epm_pmap *pm, const struct model *m, u64 gpa,
		     u64 size, char *why, size_t len);

/*
 * A hash of nr_pairs, mapped[] and every present entry that covers a byte
 * of [gpa, gpa + size).
 */
u64 md_digest(struct epm_pmap *pm, u64 gpa, u64 size);

/* The driver. */
#define MD_REGIONS		3
#define MD_REGION_SIZE		(4 * EPM_SIZE_1G)

struct md_op {
	enum { MD_MAP, MD_UNMAP, MD_PROTECT } kind;
	u64 gpa;
	u64 size;
	u32 attr;		/* map: attr; protect: permissions */
	u64 max_page;
	u64 align;		/* frames: hpa == gpa modulo this */
	unsigned int frag;	/* frames: 0 one run, 1 some breaks, 2 many */
	unsigned int fault_call; /* frames: this call answers badly; 0 never */
	unsigned int fault_kind;
	unsigned int fail_at;	/* the op's fail_at-th allocation fails */
};

struct md_stats {
	u64 ops;
	u64 map_ok, map_err;
	u64 unmap_ok, unmap_err;
	u64 protect_ok, protect_err;
	u64 enomem;		/* injected allocation failures that hit */
	u64 faults;		/* frame source errors that hit */
	u64 splits;		/* pairs allocated by unmap and protect */
	u64 xlate[EPM_LEVELS];	/* translations that hit a leaf, by level */
	u64 full;		/* full comparisons */
	u64 max_pairs;
	u64 max_ext;
	u64 max_1g;		/* most bytes mapped by 1G leaves at once */
	u64 max_2m;
};

struct md_ctx {
	struct epm_pmap pm;
	struct model m;
	struct md_src *src;
	u64 reg[MD_REGIONS];	/* base of each window, MD_REGION_SIZE long */
	u64 live0;		/* epm_user_mem.live before init */
	bool up;

	unsigned int check_every; /* epm_check() every this many ops */
	unsigned int full_every; /* md_compare() every this many ops */
	unsigned int xlates;	/* translations checked after each op */

	u64 hpa_next;		/* frames are never handed out twice */
	u64 handed;		/* bytes of frames mapped by successful maps */
	u64 released;		/* bytes of frames released */

	/* The op in flight. */
	struct md_op op;
	struct md_list pend;	/* frames handed out to it */
	unsigned int frame_calls;
	u64 frame_next;		/* the gpa the core must ask for next */
	int fault_err;		/* what the faulty frame answer must give */
	struct md_rel rel;
	bool rel_ok;		/* releases expected now */

	struct md_stats st;
	bool failed;
	char opdesc[160];
	char why[480];
};

/*
 * Set up a fresh address space on @hw (or on one drawn from @src when
 * NULL) with windows drawn from @src. 0, or -ENOMEM.
 */
int md_init(struct md_ctx *c, struct md_src *src, const struct epm_hw *hw);
/* One random operation, checked. 0, or -1 once anything disagreed. */
int md_step(struct md_ctx *c);
/*
 * Tear down: with @unmap_first, unmap everything as a checked op and check
 * that only the root is left, then destroy (releasing whatever is still
 * mapped) and check every frame came back exactly once and nothing
 * leaked. 0, or -1 if anything disagreed now or before.
 */
int md_finish(struct md_ctx *c, bool unmap_first);
/* Print why it failed (to stderr). */
void md_report(const struct md_ctx *c, const char *who);

#endif /* _EPM_MODEL_H */
