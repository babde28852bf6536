// SPDX-License-Identifier: GPL-2.0
/*
 * ept-pmap core: the KPT and EPT halves built in lockstep by one walker.
 *
 * Every function below works on the KPT half of a table pair and reaches
 * the EPT twin of entry p at p + EPM_PTRS. The formats differ only through
 * struct epm_fmt, so encoding, decoding and checking are one code path
 * taking a format. Failures never leave a partial change behind: map
 * validates and then rolls back what it built, unmap and protect do all
 * their allocations (jumbo splits) first and undo them on failure, before
 * any translation changes.
 */
#include "pmap.h"

/* How one half encodes attributes. */
struct epm_fmt {
	u64 present;		/* any of these: present */
	u64 table;		/* an intermediate entry's bits */
	u64 leaf;		/* bits every leaf has */
	u64 r, w, x;		/* set when the permission is granted */
	u64 nx;			/* set when execute is not granted */
	u64 ps;			/* 2M/1G leaf */
	u64 ipat;
	u64 a, d;
	u64 pinw;
	u64 mt[2][8];		/* memory type bits: [large][EPM_MT_*] */
	u64 mt_mask[2];
	unsigned int mt_ok;	/* bit m set: memory type m can be encoded */
};

#define EPM_MT_BITS ((1u << EPM_MT_UC) | (1u << EPM_MT_WC) | \
		     (1u << EPM_MT_WT) | (1u << EPM_MT_WP) | (1u << EPM_MT_WB))

/*
 * The KPT encodes memory types through the PAT index (PAT:PCD:PWT) and
 * assumes the PAT layout Linux programs: 0 WB, 1 WC, 3 UC, 5 WP, 7 WT.
 */
static const struct epm_fmt epm_kpt = {
	.present = KPTE_P,
	.table = KPTE_TABLE,
	.leaf = KPTE_P | KPTE_U,
	.w = KPTE_W,
	.nx = KPTE_NX,
	.ps = KPTE_PS,
	.a = KPTE_A,
	.d = KPTE_D,
	.pinw = KPTE_SW_PINW,
	.mt = {
		{
			[EPM_MT_WB] = 0,
			[EPM_MT_WC] = KPTE_PWT,
			[EPM_MT_UC] = KPTE_PCD | KPTE_PWT,
			[EPM_MT_WP] = KPTE_PAT_4K | KPTE_PWT,
			[EPM_MT_WT] = KPTE_PAT_4K | KPTE_PCD | KPTE_PWT,
		}, {
			[EPM_MT_WB] = 0,
			[EPM_MT_WC] = KPTE_PWT,
			[EPM_MT_UC] = KPTE_PCD | KPTE_PWT,
			[EPM_MT_WP] = KPTE_PAT_LARGE | KPTE_PWT,
			[EPM_MT_WT] = KPTE_PAT_LARGE | KPTE_PCD | KPTE_PWT,
		},
	},
	.mt_mask = {
		KPTE_PAT_4K | KPTE_PCD | KPTE_PWT,
		KPTE_PAT_LARGE | KPTE_PCD | KPTE_PWT,
	},
	.mt_ok = EPM_MT_BITS,
};

static const struct epm_fmt epm_ept = {
	.present = EPTE_R | EPTE_W | EPTE_X,
	.table = EPTE_TABLE,
	.r = EPTE_R,
	.w = EPTE_W,
	.x = EPTE_X,
	.ps = EPTE_PS,
	.ipat = EPTE_IPAT,
	.a = EPTE_A,
	.d = EPTE_D,
	.pinw = EPTE_SW_PINW,
	.mt = {
		{
			[EPM_MT_UC] = (u64)EPM_MT_UC << EPTE_MT_SHIFT,
			[EPM_MT_WC] = (u64)EPM_MT_WC << EPTE_MT_SHIFT,
			[EPM_MT_WT] = (u64)EPM_MT_WT << EPTE_MT_SHIFT,
			[EPM_MT_WP] = (u64)EPM_MT_WP << EPTE_MT_SHIFT,
			[EPM_MT_WB] = (u64)EPM_MT_WB << EPTE_MT_SHIFT,
		}, {
			[EPM_MT_UC] = (u64)EPM_MT_UC << EPTE_MT_SHIFT,
			[EPM_MT_WC] = (u64)EPM_MT_WC << EPTE_MT_SHIFT,
			[EPM_MT_WT] = (u64)EPM_MT_WT << EPTE_MT_SHIFT,
			[EPM_MT_WP] = (u64)EPM_MT_WP << EPTE_MT_SHIFT,
			[EPM_MT_WB] = (u64)EPM_MT_WB << EPTE_MT_SHIFT,
		},
	},
	.mt_mask = { EPTE_MT_MASK, EPTE_MT_MASK },
	.mt_ok = EPM_MT_BITS,
};

static inline unsigned int epm_index(u64 gpa, unsigned int level)
{
	return (gpa >> EPM_LEVEL_SHIFT(level)) & (EPM_PTRS - 1);
}

/* First gpa after the entry at @level that covers @gpa, capped at @end. */
static inline u64 epm_entry_end(u64 gpa, unsigned int level, u64 end)
{
	u64 next = (gpa | (EPM_LEVEL_SIZE(level) - 1)) + 1;

	return next < end ? next : end;
}

static inline bool epm_is_present(const struct epm_fmt *f, u64 pte)
{
	return pte & f->present;
}

static inline bool epm_is_leaf(const struct epm_fmt *f, u64 pte,
			       unsigned int level)
{
	return level == 1 || (pte & f->ps);
}

static inline u64 *epm_table_of(u64 pte)
{
	return epm_va(pte & EPM_PTE_ADDR);
}

static inline u64 *epm_ept_half(u64 *kptep)
{
	return kptep + EPM_PTRS;
}

/* Frame of a leaf; in a KPT jumbo, bit 12 is the PAT bit, not address. */
static inline u64 epm_leaf_addr(u64 pte, unsigned int level)
{
	return pte & EPM_PTE_ADDR & ~(EPM_LEVEL_SIZE(level) - 1);
}

static u64 epm_encode_leaf(const struct epm_fmt *f, unsigned int level,
			   u64 hpa, u32 attr)
{
	bool large = level > 1;
	u64 pte = f->leaf | epm_leaf_addr(hpa, level);

	if (attr & EPM_ATTR_R)
		pte |= f->r;
	if (attr & EPM_ATTR_W)
		pte |= f->w;
	pte |= (attr & EPM_ATTR_X) ? f->x : f->nx;
	pte |= f->mt[large][EPM_ATTR_GET_MT(attr)];
	if (large)
		pte |= f->ps;
	if (attr & EPM_ATTR_IPAT)
		pte |= f->ipat;
	if (attr & EPM_ATTR_AD)
		pte |= f->a | ((attr & EPM_ATTR_W) ? f->d : 0);
	if (attr & EPM_ATTR_PINW)
		pte |= f->pinw;
	return pte;
}

/*
 * Decode a leaf back into an attr. Returns false when the memory type bits
 * match no type this format can hold. The AD flag is left out: hardware
 * sets A/D on its own, so they say nothing about what was asked.
 */
static bool epm_decode_leaf(const struct epm_fmt *f, unsigned int level,
			    u64 pte, u32 *attr)
{
	bool large = level > 1;
	u64 mt_bits = pte & f->mt_mask[large];
	unsigned int mt;
	u32 a = 0;

	if (!f->r || (pte & f->r))
		a |= EPM_ATTR_R;
	if (pte & f->w)
		a |= EPM_ATTR_W;
	if (f->x ? (pte & f->x) : !(pte & f->nx))
		a |= EPM_ATTR_X;
	if (f->ipat && (pte & f->ipat))
		a |= EPM_ATTR_IPAT;
	if (pte & f->pinw)
		a |= EPM_ATTR_PINW;
	for (mt = 0; mt < 8; mt++) {
		if ((f->mt_ok & (1u << mt)) && f->mt[large][mt] == mt_bits)
			break;
	}
	if (mt == 8)
		return false;
	*attr = a | EPM_ATTR_MT(mt);
	return true;
}

/* The entry bits a hardware walker may set by itself. */
static inline u64 epm_hw_bits(const struct epm_fmt *f)
{
	return f->a | f->d;
}

u64 epm_kpte_leaf(unsigned int level, u64 hpa, u32 attr)
{
	return epm_encode_leaf(&epm_kpt, level, hpa, attr);
}

u64 epm_epte_leaf(unsigned int level, u64 hpa, u32 attr)
{
	return epm_encode_leaf(&epm_ept, level, hpa, attr);
}

u64 epm_kpte_table(u64 pair_pa)
{
	return pair_pa | epm_kpt.table;
}

u64 epm_epte_table(u64 pair_pa)
{
	return (pair_pa + EPM_PAGE_SIZE) | epm_ept.table;
}

u64 epm_eptp(const struct epm_pmap *pm, bool ad)
{
	return (epm_pa(pm->root) + EPM_PAGE_SIZE) | EPTP_MT_WB | EPTP_WALK_4 |
	       (ad ? EPTP_AD : 0);
}

u64 epm_kpt_root(const struct epm_pmap *pm)
{
	return epm_pa(pm->root);
}

static inline void epm_set_pair(u64 *kptep, u64 kpte, u64 epte)
{
	epm_set_pte(kptep, kpte);
	epm_set_pte(epm_ept_half(kptep), epte);
}

static inline void epm_set_leaf(u64 *kptep, unsigned int level, u64 hpa,
				u32 attr)
{
	epm_set_pair(kptep, epm_kpte_leaf(level, hpa, attr),
		     epm_epte_leaf(level, hpa, attr));
}

/* Attr of a leaf as built (EPT half), AD flag kept from the entry. */
static u32 epm_leaf_attr(const u64 *kptep, unsigned int level)
{
	u64 epte = epm_ept_half((u64 *)kptep)[0];
	u32 attr = 0;

	epm_decode_leaf(&epm_ept, level, epte, &attr);
	if (epte & EPTE_A)
		attr |= EPM_ATTR_AD;
	return attr;
}

static u64 *epm_new_pair(struct epm_pmap *pm)
{
	u64 *pair = epm_pair_alloc();

	if (pair)
		pm->nr_pairs++;
	return pair;
}

static void epm_free_pair(struct epm_pmap *pm, u64 *pair)
{
	pm->nr_pairs--;
	epm_pair_free(pair);
}

static void epm_link(u64 *kptep, u64 *pair)
{
	u64 pa = epm_pa(pair);

	epm_set_pair(kptep, epm_kpte_table(pa), epm_epte_table(pa));
}

static bool epm_table_empty(const u64 *table)
{
	unsigned int i;

	for (i = 0; i < EPM_PTRS; i++) {
		if (table[i])
			return false;
	}
	return true;
}

int epm_check_range(u64 gpa, u64 size)
{
	if (!size || (gpa | size) & (EPM_PAGE_SIZE - 1))
		return -EINVAL;
	if (gpa >= EPM_GPA_LIMIT || size > EPM_GPA_LIMIT - gpa)
		return -EINVAL;
	return 0;
}

/*
 * Returns 0 when @attr can be built on @hw, -EINVAL for a malformed attr
 * (unknown bits, no permission, W without R, a memory type EPT does not
 * define) and -EOPNOTSUPP for execute-only on a CPU without it.
 */
int epm_check_attr(const struct epm_hw *hw, u32 attr)
{
	u32 perm = attr & EPM_ATTR_PERM;

	if (attr & ~EPM_ATTR_ALL)
		return -EINVAL;
	if (!(EPM_MT_BITS & (1u << EPM_ATTR_GET_MT(attr))))
		return -EINVAL;
	if (!perm || ((perm & EPM_ATTR_W) && !(perm & EPM_ATTR_R)))
		return -EINVAL;
	if (perm == EPM_ATTR_X && !hw->exec_only)
		return -EOPNOTSUPP;
	return 0;
}

int epm_pmap_init(struct epm_pmap *pm, const struct epm_hw *hw)
{
	pm->hw = *hw;
	/* a 1G leaf that must be split needs 2M leaves to split into */
	if (!hw->ept_2m)
		pm->hw.ept_1g = false;
	pm->nr_pairs = 0;
	memset(pm->mapped, 0, sizeof(pm->mapped));
	pm->root = epm_new_pair(pm);
	return pm->root ? 0 : -ENOMEM;
}

/* Can a leaf at @level (2 or 3) be built here at all? */
static bool epm_level_allowed(const struct epm_pmap *pm, unsigned int level,
			      u64 max_page)
{
	if (EPM_LEVEL_SIZE(level) > max_page)
		return false;
	if (level == 2)
		return pm->hw.ept_2m;
	if (level == 3)
		return pm->hw.ept_1g && pm->hw.kpt_1g;
	return level == 1;
}

/* -EEXIST if any leaf covers a byte of [gpa, end). */
static int epm_range_empty(const u64 *table, unsigned int level, u64 gpa,
			   u64 end)
{
	unsigned int i = epm_index(gpa, level);
	int ret;

	for (; gpa < end; gpa = epm_entry_end(gpa, level, end), i++) {
		u64 kpte = table[i];

		if (!epm_is_present(&epm_kpt, kpte))
			continue;
		if (epm_is_leaf(&epm_kpt, kpte, level))
			return -EEXIST;
		ret = epm_range_empty(epm_table_of(kpte), level - 1, gpa,
				      epm_entry_end(gpa, level, end));
		if (ret)
			return ret;
	}
	return 0;
}

/* -ENOENT if any byte of [gpa, end) is unmapped. */
static int epm_range_full(const u64 *table, unsigned int level, u64 gpa,
			  u64 end)
{
	unsigned int i = epm_index(gpa, level);
	int ret;

	for (; gpa < end; gpa = epm_entry_end(gpa, level, end), i++) {
		u64 kpte = table[i];

		if (!epm_is_present(&epm_kpt, kpte))
			return -ENOENT;
		if (epm_is_leaf(&epm_kpt, kpte, level))
			continue;
		ret = epm_range_full(epm_table_of(kpte), level - 1, gpa,
				     epm_entry_end(gpa, level, end));
		if (ret)
			return ret;
	}
	return 0;
}

/* 0 when nothing in [gpa, gpa + size) is mapped, else -EEXIST. */
int epm_range_unmapped(struct epm_pmap *pm, u64 gpa, u64 size)
{
	int ret = epm_check_range(gpa, size);

	return ret ? ret : epm_range_empty(pm->root, EPM_LEVELS, gpa,
					   gpa + size);
}

/* 0 when every byte of [gpa, gpa + size) is mapped, else -ENOENT. */
int epm_range_mapped(struct epm_pmap *pm, u64 gpa, u64 size)
{
	int ret = epm_check_range(gpa, size);

	return ret ? ret : epm_range_full(pm->root, EPM_LEVELS, gpa,
					  gpa + size);
}

struct epm_map_state {
	const struct epm_map_req *req;
	u64 hpa;		/* frame for the current gpa */
	u64 contig;		/* bytes contiguous from hpa; 0: ask */
	u64 kpte[EPM_LEVELS];	/* leaf templates per level, no address */
	u64 epte[EPM_LEVELS];
};

static int epm_next_frame(struct epm_map_state *st, u64 gpa)
{
	u64 hpa = 0, contig = 0;
	int ret;

	ret = st->req->frame(st->req->arg, gpa, &hpa, &contig);
	if (ret)
		return ret < 0 ? ret : -EINVAL;
	if ((hpa | contig) & (EPM_PAGE_SIZE - 1) || !contig ||
	    hpa & ~EPM_PTE_ADDR || contig > EPM_PTE_ADDR + EPM_PAGE_SIZE - hpa)
		return -EINVAL;
	st->hpa = hpa;
	st->contig = contig;
	return 0;
}

/*
 * Build leaves for [gpa, end) under @table at @level. The range is known
 * to be unmapped. On error the caller removes what was built.
 */
static int epm_map_level(struct epm_pmap *pm, u64 *table, unsigned int level,
			 u64 gpa, u64 end, struct epm_map_state *st)
{
	unsigned int i = epm_index(gpa, level);
	u64 size = EPM_LEVEL_SIZE(level);
	int ret;

	if (level == 1) {
		u64 kbits = st->kpte[0], ebits = st->epte[0];
		u64 hpa = st->hpa, contig = st->contig;
		u64 start = gpa;

		/*
		 * One tight loop per contiguous run, hpa in a register: the
		 * PTE stores are volatile and could alias *st, so touching
		 * st in the loop reloads and stores it for every entry.
		 */
		ret = 0;
		while (gpa < end) {
			u64 stop;

			if (!contig) {
				ret = epm_next_frame(st, gpa);
				if (ret)
					break;
				hpa = st->hpa;
				contig = st->contig;
			}
			stop = gpa + (end - gpa < contig ? end - gpa : contig);
			contig -= stop - gpa;
			for (; gpa < stop; gpa += size, hpa += size, i++)
				epm_set_pair(&table[i], kbits | hpa,
					     ebits | hpa);
		}
		st->hpa = hpa;
		st->contig = contig;
		pm->mapped[0] += gpa - start;
		return ret;
	}

	for (; gpa < end; gpa = epm_entry_end(gpa, level, end), i++) {
		u64 next = epm_entry_end(gpa, level, end);
		u64 *child;

		if (!st->contig) {
			ret = epm_next_frame(st, gpa);
			if (ret)
				return ret;
		}
		if (!table[i] && next - gpa == size &&
		    epm_level_allowed(pm, level, st->req->max_page) &&
		    !(st->hpa & (size - 1)) && st->contig >= size) {
			epm_set_pair(&table[i], st->kpte[level - 1] | st->hpa,
				     st->epte[level - 1] | st->hpa);
			pm->mapped[level - 1] += size;
			st->hpa += size;
			st->contig -= size;
			continue;
		}
		if (table[i]) {
			child = epm_table_of(table[i]);
		} else {
			child = epm_new_pair(pm);
			if (!child)
				return -ENOMEM;
			epm_link(&table[i], child);
		}
		ret = epm_map_level(pm, child, level - 1, gpa, next, st);
		if (ret)
			return ret;
		epm_cond_resched();
		if (epm_fatal_signal())
			return -EINTR;
	}
	return 0;
}

struct epm_release_run {
	epm_release_fn release;
	void *arg;
	u64 hpa;
	u64 size;
	u32 attr;
};

static void epm_release_flush(struct epm_release_run *run)
{
	if (run->size && run->release)
		run->release(run->arg, run->hpa, run->size, run->attr);
	run->size = 0;
}

static void epm_release_add(struct epm_release_run *run, u64 hpa, u64 size,
			    u32 attr)
{
	if (run->size && run->hpa + run->size == hpa && run->attr == attr) {
		run->size += size;
		return;
	}
	epm_release_flush(run);
	run->hpa = hpa;
	run->size = size;
	run->attr = attr;
}

/*
 * Level 1 of epm_unmap_level(), the hot loop: the run is kept in locals
 * (the volatile PTE stores could alias *run and *pm), and the attr of a
 * leaf is decoded only when its EPT bits differ from the previous leaf's.
 */
static inline void epm_unmap_pt(struct epm_pmap *pm, u64 *table, u64 gpa,
				u64 end, struct epm_release_run *run,
				bool clear)
{
	const u64 keep = ~(EPM_PTE_ADDR | epm_hw_bits(&epm_ept));
	unsigned int i = epm_index(gpa, 1);
	u64 rhpa = run->hpa, rsize = run->size;
	u32 rattr = run->attr, attr = 0;
	u64 last = 0, cleared = 0;

	for (; gpa < end; gpa += EPM_SIZE_4K, i++) {
		u64 kpte = table[i], epte = table[EPM_PTRS + i];
		u64 hpa = epm_leaf_addr(kpte, 1);

		if (!epm_is_present(&epm_kpt, kpte))
			continue;
		if (!cleared || (epte & keep) != last) {
			last = epte & keep;
			attr = epm_leaf_attr(&table[i], 1) & ~EPM_ATTR_AD;
		}
		if (clear)
			epm_set_pair(&table[i], 0, 0);
		cleared += EPM_SIZE_4K;
		if (rsize && rhpa + rsize == hpa && rattr == attr) {
			rsize += EPM_SIZE_4K;
			continue;
		}
		if (rsize && run->release)
			run->release(run->arg, rhpa, rsize, rattr);
		rhpa = hpa;
		rsize = EPM_SIZE_4K;
		rattr = attr;
	}
	run->hpa = rhpa;
	run->size = rsize;
	run->attr = rattr;
	pm->mapped[0] -= cleared;
}

/*
 * A whole PT that is going away and holds 512 leaves of one attr over
 * contiguous frames (what a map of a contiguous run builds) is released
 * in one step. Returns false, having done nothing, for any other PT.
 */
static bool epm_release_whole_pt(struct epm_pmap *pm, const u64 *pt,
				 struct epm_release_run *run)
{
	const u64 kmask = ~epm_hw_bits(&epm_kpt);
	const u64 emask = ~epm_hw_bits(&epm_ept);
	u64 k0 = pt[0], e0 = pt[EPM_PTRS];
	u64 kdiff = 0, ediff = 0;
	unsigned int i;

	if (!epm_is_present(&epm_kpt, k0))
		return false;
	for (i = 0; i < EPM_PTRS; i++) {
		u64 off = (u64)i << EPM_PAGE_SHIFT;

		kdiff |= pt[i] ^ (k0 + off);
		ediff |= pt[EPM_PTRS + i] ^ (e0 + off);
	}
	if ((kdiff & kmask) || (ediff & emask))
		return false;
	epm_release_add(run, epm_leaf_addr(k0, 1), EPM_SIZE_2M,
			epm_leaf_attr(pt, 1) & ~EPM_ATTR_AD);
	pm->mapped[0] -= EPM_SIZE_2M;
	return true;
}

/*
 * Clear every leaf in [gpa, end) under @table and free the table pairs that
 * become empty. Leaves that the range covers only partly must have been
 * split before.
 */
static void epm_unmap_level(struct epm_pmap *pm, u64 *table,
			    unsigned int level, u64 gpa, u64 end,
			    struct epm_release_run *run)
{
	unsigned int i = epm_index(gpa, level);
	u64 size = EPM_LEVEL_SIZE(level);

	if (level == 1) {
		epm_unmap_pt(pm, table, gpa, end, run, true);
		return;
	}
	for (; gpa < end; gpa = epm_entry_end(gpa, level, end), i++) {
		u64 next = epm_entry_end(gpa, level, end);
		u64 kpte = table[i];
		u64 *child;

		if (!epm_is_present(&epm_kpt, kpte))
			continue;
		if (epm_is_leaf(&epm_kpt, kpte, level)) {
			epm_release_add(run, epm_leaf_addr(kpte, level), size,
					epm_leaf_attr(&table[i], level) &
					~EPM_ATTR_AD);
			epm_set_pair(&table[i], 0, 0);
			pm->mapped[level - 1] -= size;
			continue;
		}
		child = epm_table_of(kpte);
		if (level == 2 && next - gpa == size) {
			/*
			 * A whole PT goes: unlink it, then only read it for
			 * the release; a freed pair is zeroed on reuse.
			 */
			epm_set_pair(&table[i], 0, 0);
			if (!epm_release_whole_pt(pm, child, run))
				epm_unmap_pt(pm, child, gpa, next, run, false);
			epm_free_pair(pm, child);
			epm_cond_resched();
			continue;
		}
		epm_unmap_level(pm, child, level - 1, gpa, next, run);
		if (next - gpa == size || epm_table_empty(child)) {
			epm_set_pair(&table[i], 0, 0);
			epm_free_pair(pm, child);
		}
		if (level == 2)
			epm_cond_resched();
	}
}

/* Remove [gpa, gpa + size), releasing nothing: rollback of a failed map. */
static void epm_unbuild(struct epm_pmap *pm, u64 gpa, u64 size)
{
	struct epm_release_run run = { 0 };

	epm_unmap_level(pm, pm->root, EPM_LEVELS, gpa, gpa + size, &run);
}

/*
 * Map req->gpa..+size onto the frames req->frame gives. Returns 0, or an
 * errno with nothing built: EEXIST (part of the range is mapped), ENOMEM,
 * the frame source's error, or EINTR when the caller is killed meanwhile
 * (checked once per page table built, so a 1 GiB map of 4K leaves stops
 * within 512 entries).
 */
int epm_map(struct epm_pmap *pm, const struct epm_map_req *req)
{
	struct epm_map_state st = { .req = req };
	unsigned int level;
	int ret;

	ret = epm_check_range(req->gpa, req->size);
	if (ret)
		return ret;
	ret = epm_check_attr(&pm->hw, req->attr);
	if (ret)
		return ret;
	if (req->max_page != EPM_SIZE_4K && req->max_page != EPM_SIZE_2M &&
	    req->max_page != EPM_SIZE_1G)
		return -EINVAL;
	ret = epm_range_empty(pm->root, EPM_LEVELS, req->gpa,
			      req->gpa + req->size);
	if (ret)
		return ret;

	for (level = 1; level <= 3; level++) {
		st.kpte[level - 1] = epm_kpte_leaf(level, 0, req->attr);
		st.epte[level - 1] = epm_epte_leaf(level, 0, req->attr);
	}
	ret = epm_map_level(pm, pm->root, EPM_LEVELS, req->gpa,
			    req->gpa + req->size, &st);
	if (ret)
		epm_unbuild(pm, req->gpa, req->size);
	return ret;
}

/*
 * Jumbo splits are the only allocations of unmap and protect. They are
 * made first and logged, so that a later failure can put every jumbo back
 * as it was. A range has two edges and each edge can split a 1G leaf and
 * then a 2M leaf.
 */
#define EPM_MAX_SPLITS	4

struct epm_split_log {
	unsigned int n;
	struct {
		u64 *kptep;
		u64 kpte;
		u64 epte;
		unsigned int level;
	} e[EPM_MAX_SPLITS];
};

/* Replace the leaf at @kptep (at @level > 1) by a table of smaller ones. */
static int epm_split(struct epm_pmap *pm, u64 *kptep, unsigned int level,
		     struct epm_split_log *log)
{
	u64 kpte = kptep[0], epte = epm_ept_half(kptep)[0];
	u64 hw_k = kpte & epm_hw_bits(&epm_kpt);
	u64 hw_e = epte & epm_hw_bits(&epm_ept);
	u64 hpa = epm_leaf_addr(kpte, level);
	u64 sub = EPM_LEVEL_SIZE(level - 1);
	u32 attr = epm_leaf_attr(kptep, level) & ~EPM_ATTR_AD;
	u64 kbits, ebits;
	u64 *pair;
	unsigned int i;

	pair = epm_new_pair(pm);
	if (!pair)
		return -ENOMEM;
	/* The smaller leaves inherit what hardware recorded on the big one. */
	kbits = epm_kpte_leaf(level - 1, 0, attr) | hw_k;
	ebits = epm_epte_leaf(level - 1, 0, attr) | hw_e;
	for (i = 0; i < EPM_PTRS; i++) {
		pair[i] = kbits | (hpa + i * sub);
		pair[EPM_PTRS + i] = ebits | (hpa + i * sub);
	}
	log->e[log->n].kptep = kptep;
	log->e[log->n].kpte = kpte;
	log->e[log->n].epte = epte;
	log->e[log->n].level = level;
	log->n++;
	epm_link(kptep, pair);
	pm->mapped[level - 1] -= EPM_LEVEL_SIZE(level);
	pm->mapped[level - 2] += EPM_LEVEL_SIZE(level);
	return 0;
}

static void epm_split_undo(struct epm_pmap *pm, struct epm_split_log *log)
{
	while (log->n) {
		unsigned int level;
		u64 *kptep, *pair;

		log->n--;
		kptep = log->e[log->n].kptep;
		level = log->e[log->n].level;
		pair = epm_table_of(*kptep);
		epm_set_pair(kptep, log->e[log->n].kpte, log->e[log->n].epte);
		pm->mapped[level - 2] -= EPM_LEVEL_SIZE(level);
		pm->mapped[level - 1] += EPM_LEVEL_SIZE(level);
		epm_free_pair(pm, pair);
	}
}

/* Make @edge the start of a leaf (or of a hole): split what straddles it. */
static int epm_split_at(struct epm_pmap *pm, u64 edge,
			struct epm_split_log *log)
{
	u64 *table = pm->root;
	unsigned int level;
	int ret;

	if (edge >= EPM_GPA_LIMIT)
		return 0;
	for (level = EPM_LEVELS; level > 1; level--) {
		u64 *kptep = &table[epm_index(edge, level)];

		if (!epm_is_present(&epm_kpt, *kptep))
			return 0;
		if (epm_is_leaf(&epm_kpt, *kptep, level)) {
			if (!(edge & (EPM_LEVEL_SIZE(level) - 1)))
				return 0;
			ret = epm_split(pm, kptep, level, log);
			if (ret)
				return ret;
		}
		table = epm_table_of(*kptep);
	}
	return 0;
}

static int epm_split_edges(struct epm_pmap *pm, u64 gpa, u64 end,
			   struct epm_split_log *log)
{
	int ret;

	log->n = 0;
	ret = epm_split_at(pm, gpa, log);
	if (!ret)
		ret = epm_split_at(pm, end, log);
	if (ret)
		epm_split_undo(pm, log);
	return ret;
}

int epm_unmap(struct epm_pmap *pm, u64 gpa, u64 size,
	      epm_release_fn release, void *arg)
{
	struct epm_release_run run = { .release = release, .arg = arg };
	struct epm_split_log log;
	int ret;

	ret = epm_check_range(gpa, size);
	if (ret)
		return ret;
	ret = epm_split_edges(pm, gpa, gpa + size, &log);
	if (ret)
		return ret;
	epm_unmap_level(pm, pm->root, EPM_LEVELS, gpa, gpa + size, &run);
	epm_release_flush(&run);
	return 0;
}

void epm_pmap_destroy(struct epm_pmap *pm, epm_release_fn release, void *arg)
{
	if (!pm->root)
		return;
	epm_unmap(pm, 0, EPM_GPA_LIMIT, release, arg);
	epm_free_pair(pm, pm->root);
	pm->root = NULL;
}

static void epm_protect_level(u64 *table, unsigned int level, u64 gpa,
			      u64 end, u32 perm)
{
	unsigned int i = epm_index(gpa, level);

	for (; gpa < end; gpa = epm_entry_end(gpa, level, end), i++) {
		u64 kpte = table[i], epte = epm_ept_half(&table[i])[0];
		u32 attr;

		if (!epm_is_leaf(&epm_kpt, kpte, level)) {
			epm_protect_level(epm_table_of(kpte), level - 1, gpa,
					  epm_entry_end(gpa, level, end), perm);
			if (level == 2)
				epm_cond_resched();
			continue;
		}
		attr = epm_leaf_attr(&table[i], level);
		attr = (attr & ~(EPM_ATTR_PERM | EPM_ATTR_AD)) | perm;
		epm_set_pair(&table[i],
			     epm_kpte_leaf(level, kpte, attr) |
			     (kpte & epm_hw_bits(&epm_kpt)),
			     epm_epte_leaf(level, kpte, attr) |
			     (epte & epm_hw_bits(&epm_ept)));
	}
}

int epm_protect(struct epm_pmap *pm, u64 gpa, u64 size, u32 perm)
{
	struct epm_split_log log;
	int ret;

	ret = epm_check_range(gpa, size);
	if (ret)
		return ret;
	if (perm & ~EPM_ATTR_PERM)
		return -EINVAL;
	ret = epm_check_attr(&pm->hw, perm | EPM_ATTR_MT(EPM_MT_WB));
	if (ret)
		return ret;
	ret = epm_range_full(pm->root, EPM_LEVELS, gpa, gpa + size);
	if (ret)
		return ret;
	ret = epm_split_edges(pm, gpa, gpa + size, &log);
	if (ret)
		return ret;
	epm_protect_level(pm->root, EPM_LEVELS, gpa, gpa + size, perm);
	return 0;
}

static int epm_visit_level(u64 *table, unsigned int level, u64 gpa, u64 end,
			   unsigned int flags, epm_visit_fn visit, void *arg)
{
	unsigned int i = epm_index(gpa, level);
	int ret;

	for (; gpa < end; gpa = epm_entry_end(gpa, level, end), i++) {
		u64 next = epm_entry_end(gpa, level, end);
		struct epm_entry e = {
			.level = level,
			.gpa = gpa & ~(EPM_LEVEL_SIZE(level) - 1),
			.kpte = table[i],
			.epte = epm_ept_half(&table[i])[0],
		};

		if (!epm_is_present(&epm_kpt, e.kpte))
			continue;
		e.leaf = epm_is_leaf(&epm_kpt, e.kpte, level);
		if (flags & EPM_WALK_PRE || (e.leaf && flags & EPM_WALK_POST)) {
			ret = visit(arg, &e);
			if (ret)
				return ret;
		}
		if (e.leaf)
			continue;
		ret = epm_visit_level(epm_table_of(e.kpte), level - 1, gpa,
				      next, flags, visit, arg);
		if (ret)
			return ret;
		if (level == 2)
			epm_cond_resched();
		if (flags & EPM_WALK_POST) {
			e.post = true;
			e.visited_all = next - gpa == EPM_LEVEL_SIZE(level);
			ret = visit(arg, &e);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/*
 * Visit the present entries that cover [gpa, gpa + size), depth first in
 * gpa order. Leaves are visited once; intermediates before their children
 * (EPM_WALK_PRE) and/or after them (EPM_WALK_POST, with visited_all telling
 * whether the range held every child). The callback must not change the
 * tables.
 */
int epm_for_each(struct epm_pmap *pm, u64 gpa, u64 size, unsigned int flags,
		 epm_visit_fn visit, void *arg)
{
	int ret = epm_check_range(gpa, size);

	if (ret)
		return ret;
	if (!flags || flags & ~(EPM_WALK_PRE | EPM_WALK_POST))
		return -EINVAL;
	return epm_visit_level(pm->root, EPM_LEVELS, gpa, gpa + size, flags,
			       visit, arg);
}

/*
 * Walk @gpa through one half starting at @table, like the hardware does:
 * each step follows the address in the entry of that half. Fills @ptes,
 * returns the leaf level or 0.
 */
static unsigned int epm_walk_half(const struct epm_fmt *f, const u64 *table,
				  u64 gpa, u64 *ptes)
{
	unsigned int level;

	for (level = EPM_LEVELS; level >= 1; level--) {
		u64 pte = table[epm_index(gpa, level)];

		ptes[level] = pte;
		if (!epm_is_present(f, pte))
			return 0;
		if (epm_is_leaf(f, pte, level))
			return level;
		table = epm_table_of(pte);
	}
	return 0;
}

/*
 * Translate @gpa through both halves. Returns 0 and fills @x when mapped,
 * -ENOENT when not (@x still shows the entries walked), -EINVAL for a gpa
 * beyond 48 bits, -EIO when the halves disagree on the leaf level.
 */
int epm_translate(struct epm_pmap *pm, u64 gpa, struct epm_xlate *x)
{
	unsigned int klevel, elevel;
	u64 off;

	*x = (struct epm_xlate){ 0 };
	if (gpa >= EPM_GPA_LIMIT)
		return -EINVAL;
	klevel = epm_walk_half(&epm_kpt, pm->root, gpa, x->kpte);
	elevel = epm_walk_half(&epm_ept, epm_ept_half(pm->root), gpa,
			       x->epte);
	if (klevel != elevel)
		return -EIO;
	if (!klevel)
		return -ENOENT;
	x->level = klevel;
	x->page_size = EPM_LEVEL_SIZE(klevel);
	off = gpa & (x->page_size - 1);
	x->hpa = epm_leaf_addr(x->epte[klevel], klevel) + off;
	x->kpt_hpa = epm_leaf_addr(x->kpte[klevel], klevel) + off;
	epm_decode_leaf(&epm_ept, klevel, x->epte[klevel], &x->attr);
	epm_decode_leaf(&epm_kpt, klevel, x->kpte[klevel], &x->kpt_attr);
	return 0;
}

struct epm_check_state {
	u64 bad;
	struct epm_mismatch *first;
	u64 pairs;
	u64 mapped[3];
};

static void epm_mismatch(struct epm_check_state *cs, enum epm_bad why,
			 unsigned int level, u64 gpa, u64 kpte, u64 epte)
{
	if (!cs->bad++ && cs->first) {
		cs->first->why = why;
		cs->first->level = level;
		cs->first->gpa = gpa;
		cs->first->kpte = kpte;
		cs->first->epte = epte;
	}
}

/*
 * Do the two halves of a leaf say the same thing? Both are rebuilt from
 * what the EPT half grants (the KPT cannot say "not readable", so it is
 * expected to grant R on top) and compared bit for bit, the bits hardware
 * sets on its own left out.
 */
static bool epm_leaf_pair_ok(unsigned int level, u64 kpte, u64 epte)
{
	u32 attr;

	if (epm_leaf_addr(kpte, level) != epm_leaf_addr(epte, level))
		return false;
	if (!epm_decode_leaf(&epm_ept, level, epte, &attr))
		return false;
	if (!(attr & EPM_ATTR_PERM) ||
	    (attr & EPM_ATTR_PERM) == EPM_ATTR_W ||
	    (attr & EPM_ATTR_PERM) == (EPM_ATTR_W | EPM_ATTR_X))
		return false;
	if ((epte & ~epm_hw_bits(&epm_ept)) !=
	    epm_epte_leaf(level, epte, attr))
		return false;
	attr = (attr | EPM_ATTR_R) & ~EPM_ATTR_IPAT;
	return (kpte & ~epm_hw_bits(&epm_kpt)) ==
	       epm_kpte_leaf(level, kpte, attr);
}

/* Why the two halves of a present entry disagree, or EPM_BAD_NONE. */
static enum epm_bad epm_pair_bad(unsigned int level, u64 kpte, u64 epte)
{
	bool kleaf = epm_is_leaf(&epm_kpt, kpte, level);

	if (epm_is_present(&epm_kpt, kpte) != epm_is_present(&epm_ept, epte))
		return EPM_BAD_PRESENT;
	if (kleaf != epm_is_leaf(&epm_ept, epte, level))
		return EPM_BAD_KIND;
	if (kleaf && level > 3)
		return EPM_BAD_LEVEL;
	if (kleaf)
		return epm_leaf_pair_ok(level, kpte, epte) ? EPM_BAD_NONE :
							     EPM_BAD_LEAF;
	if ((kpte & ~epm_kpt.a) != epm_kpte_table(kpte & EPM_PTE_ADDR) ||
	    (epte & ~epm_ept.a) != epm_epte_table(kpte & EPM_PTE_ADDR))
		return EPM_BAD_TABLE;
	return EPM_BAD_NONE;
}

/*
 * Compare every entry of a table pair, then go on through the KPT half
 * like every other walker here, so that one bad entry counts once and the
 * counters are taken from what the tables hold.
 */
static void epm_check_level(struct epm_check_state *cs, const u64 *table,
			    unsigned int level, u64 base)
{
	u64 size = EPM_LEVEL_SIZE(level);
	unsigned int i, used = 0;

	cs->pairs++;
	for (i = 0; i < EPM_PTRS; i++) {
		u64 kpte = table[i], epte = table[EPM_PTRS + i];
		u64 gpa = base + i * size;
		enum epm_bad why;

		if (!kpte && !epte)
			continue;
		why = epm_pair_bad(level, kpte, epte);
		if (!epm_is_present(&epm_kpt, kpte) &&
		    !epm_is_present(&epm_ept, epte))
			why = EPM_BAD_PRESENT;	/* stray bits, not present */
		if (why != EPM_BAD_NONE)
			epm_mismatch(cs, why, level, gpa, kpte, epte);
		if (!epm_is_present(&epm_kpt, kpte))
			continue;
		used++;
		if (!epm_is_leaf(&epm_kpt, kpte, level)) {
			epm_check_level(cs, epm_table_of(kpte), level - 1, gpa);
			if (level == 2)
				epm_cond_resched();
		} else if (level <= 3) {
			cs->mapped[level - 1] += size;
		}
	}
	if (!used && level < EPM_LEVELS)
		epm_mismatch(cs, EPM_BAD_EMPTY, level + 1, base, 0, 0);
}

/*
 * Verify the lockstep invariant over the whole space. Returns the number
 * of mismatches; the first is described in @first (if not NULL, and left
 * untouched when there is none).
 */
u64 epm_check(struct epm_pmap *pm, struct epm_mismatch *first)
{
	struct epm_check_state cs = { .first = first };
	unsigned int i;

	epm_check_level(&cs, pm->root, EPM_LEVELS, 0);
	if (cs.pairs != pm->nr_pairs)
		epm_mismatch(&cs, EPM_BAD_COUNT, 0, 0, cs.pairs, pm->nr_pairs);
	for (i = 0; i < 3; i++) {
		if (cs.mapped[i] != pm->mapped[i])
			epm_mismatch(&cs, EPM_BAD_COUNT, i + 1, 0,
				     cs.mapped[i], pm->mapped[i]);
	}
	return cs.bad;
}
