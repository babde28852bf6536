// SPDX-License-Identifier: GPL-2.0
/*
 * Table-driven tests of the page-table core (src/pmap.c).
 *
 * Expected entry values are written out by hand from the Intel SDM bit
 * definitions and the lockstep table of Documentation/design.md, never
 * computed by the encoders under test. Every test builds and destroys its
 * own address space; the runner counts leaked table pairs.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define ULL(x)		((unsigned long long)(x))

#define SZ_4K		0x1000ULL
#define SZ_2M		0x200000ULL
#define SZ_1G		0x40000000ULL
#define SZ_512G		0x8000000000ULL
#define GPA_LIMIT	0x1000000000000ULL	/* 2^48 */
#define PHYS_LIMIT	0x10000000000000ULL	/* 2^52 */
#define BIG		BIT_ULL(40)		/* "contiguous enough" */
#define DELTA		0x100000000ULL		/* hpa = gpa + 4G */

#define P_R		EPM_ATTR_R
#define P_RW		(EPM_ATTR_R | EPM_ATTR_W)
#define P_RX		(EPM_ATTR_R | EPM_ATTR_X)
#define P_RWX		(EPM_ATTR_R | EPM_ATTR_W | EPM_ATTR_X)
#define P_X		EPM_ATTR_X
#define P_W		EPM_ATTR_W
#define P_WX		(EPM_ATTR_W | EPM_ATTR_X)
#define MT_UC		EPM_ATTR_MT(EPM_MT_UC)
#define MT_WC		EPM_ATTR_MT(EPM_MT_WC)
#define MT_WT		EPM_ATTR_MT(EPM_MT_WT)
#define MT_WP		EPM_ATTR_MT(EPM_MT_WP)
#define MT_WB		EPM_ATTR_MT(EPM_MT_WB)
#define F_IPAT		EPM_ATTR_IPAT
#define F_AD		EPM_ATTR_AD
#define F_PINW		EPM_ATTR_PINW
#define RW_WB		(P_RW | MT_WB)
#define NX		0x8000000000000000ULL

static const struct epm_hw hw_full = {
	.ept_2m = true, .ept_1g = true, .kpt_1g = true, .exec_only = true,
};

static const struct epm_hw hw_noxo = {
	.ept_2m = true, .ept_1g = true, .kpt_1g = true,
};

static const struct epm_hw hw_no_ept1g = {
	.ept_2m = true, .kpt_1g = true, .exec_only = true,
};

static const struct epm_hw hw_no_kpt1g = {
	.ept_2m = true, .ept_1g = true, .exec_only = true,
};

static const struct epm_hw hw_4k_only = {
	.kpt_1g = true, .exec_only = true,
};

/* Print which table row a failed check belongs to. */
#define NOTE_CASE(before, fmt, ...) do {				\
	if (unit_tally.checks_failed_here != (before))			\
		fprintf(stderr, "  ^ in case: " fmt "\n", __VA_ARGS__);	\
} while (0)

/* ---- frame sources ---- */

/* hpa = gpa + delta; every answer claims @contig bytes. */
struct lin_src {
	u64 delta;
	u64 contig;
	u64 calls;
	u64 next;		/* first gpa the last answer left uncovered */
	bool out_of_order;	/* a call not at @next */
};

static int lin_frame(void *arg, u64 gpa, u64 *hpa, u64 *contig)
{
	struct lin_src *s = arg;

	if (s->calls && gpa != s->next)
		s->out_of_order = true;
	s->calls++;
	*hpa = gpa + s->delta;
	*contig = s->contig;
	s->next = gpa + s->contig;
	return 0;
}

/* Scripted answers, one per call, each expecting a given gpa. */
struct frame_ans {
	u64 gpa;
	u64 hpa;
	u64 contig;
	int ret;
};

#define FA(g, h, c)	{ .gpa = (g), .hpa = (h), .contig = (c) }

struct list_src {
	const struct frame_ans *ans;
	unsigned int n;
	unsigned int calls;
	bool wrong_gpa;
};

static int list_frame(void *arg, u64 gpa, u64 *hpa, u64 *contig)
{
	struct list_src *s = arg;
	const struct frame_ans *a;

	if (s->calls >= s->n) {
		s->wrong_gpa = true;
		return -E2BIG;
	}
	a = &s->ans[s->calls++];
	if (a->gpa != gpa)
		s->wrong_gpa = true;
	*hpa = a->hpa;
	*contig = a->contig;
	return a->ret;
}

static int map_src(struct epm_pmap *pm, u64 gpa, u64 size, u32 attr,
		   u64 max_page, struct lin_src *src)
{
	struct epm_map_req req = {
		.gpa = gpa, .size = size, .attr = attr, .max_page = max_page,
		.frame = lin_frame, .arg = src,
	};

	return epm_map(pm, &req);
}

static int map_lin(struct epm_pmap *pm, u64 gpa, u64 size, u32 attr,
		   u64 delta)
{
	struct lin_src src = { .delta = delta, .contig = BIG };

	return map_src(pm, gpa, size, attr, SZ_1G, &src);
}

static int map_list(struct epm_pmap *pm, u64 gpa, u64 size, u32 attr,
		    struct list_src *src)
{
	struct epm_map_req req = {
		.gpa = gpa, .size = size, .attr = attr, .max_page = SZ_1G,
		.frame = list_frame, .arg = src,
	};

	return epm_map(pm, &req);
}

/* ---- observing the tree ---- */

struct dump {
	struct epm_entry *e;
	size_t n, cap;
};

static int dump_visit(void *arg, const struct epm_entry *e)
{
	struct dump *d = arg;

	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->e = realloc(d->e, d->cap * sizeof(*d->e));
		if (!d->e)
			abort();
	}
	d->e[d->n++] = *e;
	return 0;
}

static bool entry_same(const struct epm_entry *a, const struct epm_entry *b)
{
	return a->level == b->level && a->leaf == b->leaf &&
	       a->post == b->post && a->visited_all == b->visited_all &&
	       a->gpa == b->gpa && a->kpte == b->kpte && a->epte == b->epte;
}

static void dump_take(struct epm_pmap *pm, struct dump *d)
{
	d->n = 0;
	UNIT_EXPECT_EQ(0, epm_for_each(pm, 0, GPA_LIMIT, EPM_WALK_PRE,
				       dump_visit, d));
}

static bool dump_same(const struct dump *a, const struct dump *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		if (!entry_same(&a->e[i], &b->e[i]))
			return false;
	}
	return true;
}

/* Everything an operation that fails must leave as it was. */
struct snap {
	struct dump d;
	u64 nr_pairs;
	u64 mapped[3];
	u64 live;
};

static void snap_take(struct epm_pmap *pm, struct snap *s)
{
	dump_take(pm, &s->d);
	s->nr_pairs = pm->nr_pairs;
	memcpy(s->mapped, pm->mapped, sizeof(s->mapped));
	s->live = epm_user_mem.live;
}

static bool snap_same(struct epm_pmap *pm, const struct snap *s)
{
	struct snap now = { 0 };
	bool same;

	snap_take(pm, &now);
	same = dump_same(&s->d, &now.d) && now.nr_pairs == s->nr_pairs &&
	       !memcmp(now.mapped, s->mapped, sizeof(s->mapped)) &&
	       now.live == s->live;
	free(now.d.e);
	return same;
}

struct census {
	u64 leaves[EPM_LEVELS + 1];	/* [level] */
	u64 tables;			/* intermediates */
	u64 writable;			/* leaves whose EPT half has W */
};

static int census_visit(void *arg, const struct epm_entry *e)
{
	struct census *c = arg;

	if (!e->leaf) {
		c->tables++;
		return 0;
	}
	c->leaves[e->level]++;
	if (e->epte & 0x2)
		c->writable++;
	return 0;
}

static struct census census_of(struct epm_pmap *pm)
{
	struct census c;

	memset(&c, 0, sizeof(c));

	UNIT_EXPECT_EQ(0, epm_for_each(pm, 0, GPA_LIMIT, EPM_WALK_PRE,
				       census_visit, &c));
	return c;
}

/* Leaves of each size, counted in the tree and by the counters. */
static bool mix_is(struct epm_pmap *pm, u64 n4k, u64 n2m, u64 n1g)
{
	struct census c = census_of(pm);
	bool ok;

	ok = c.leaves[1] == n4k && c.leaves[2] == n2m && c.leaves[3] == n1g &&
	     !c.leaves[4] && pm->mapped[0] == n4k * SZ_4K &&
	     pm->mapped[1] == n2m * SZ_2M && pm->mapped[2] == n1g * SZ_1G;
	if (ok)
		return true;
	fprintf(stderr, "  leaves 4K/2M/1G: want %llu/%llu/%llu,",
		ULL(n4k), ULL(n2m), ULL(n1g));
	fprintf(stderr, " tree %llu/%llu/%llu,", ULL(c.leaves[1]),
		ULL(c.leaves[2]), ULL(c.leaves[3]));
	fprintf(stderr, " counters 0x%llx/0x%llx/0x%llx\n",
		ULL(pm->mapped[0]), ULL(pm->mapped[1]), ULL(pm->mapped[2]));
	return false;
}

/* @gpa is mapped by a leaf at @level to @hpa with these decoded attrs. */
static bool xlate_is(struct epm_pmap *pm, u64 gpa, unsigned int level,
		     u64 hpa, u32 attr, u32 kpt_attr)
{
	struct epm_xlate x;
	int ret = epm_translate(pm, gpa, &x);

	if (!ret && x.level == level &&
	    x.page_size == EPM_LEVEL_SIZE(level) && x.hpa == hpa &&
	    x.kpt_hpa == hpa && x.attr == attr && x.kpt_attr == kpt_attr)
		return true;
	fprintf(stderr, "  translate 0x%llx: ret %d level %u size 0x%llx",
		ULL(gpa), ret, x.level, ULL(x.page_size));
	fprintf(stderr, " hpa 0x%llx/0x%llx attr 0x%x/0x%x\n", ULL(x.hpa),
		ULL(x.kpt_hpa), x.attr, x.kpt_attr);
	return false;
}

/* The leaf at @level covering @gpa holds exactly these two values. */
static bool leaf_is(struct epm_pmap *pm, u64 gpa, unsigned int level,
		    u64 kpte, u64 epte)
{
	struct epm_xlate x;
	int ret = epm_translate(pm, gpa, &x);

	if (!ret && x.level == level && x.kpte[level] == kpte &&
	    x.epte[level] == epte)
		return true;
	level = level <= EPM_LEVELS ? level : 0;
	fprintf(stderr, "  leaf at 0x%llx: ret %d level %u", ULL(gpa), ret,
		x.level);
	fprintf(stderr, " kpte 0x%llx epte 0x%llx\n", ULL(x.kpte[level]),
		ULL(x.epte[level]));
	return false;
}

static bool is_unmapped(struct epm_pmap *pm, u64 gpa)
{
	struct epm_xlate x;

	return epm_translate(pm, gpa, &x) == -ENOENT && !x.level;
}

static unsigned int idx(u64 gpa, unsigned int level)
{
	return (gpa >> EPM_LEVEL_SHIFT(level)) & (EPM_PTRS - 1);
}

/* KPT slot of the entry at @level covering @gpa (EPT twin: + EPM_PTRS). */
static u64 *kslot(struct epm_pmap *pm, u64 gpa, unsigned int level)
{
	u64 *table = pm->root;
	unsigned int l;

	for (l = EPM_LEVELS; l > level; l--) {
		u64 e = table[idx(gpa, l)];

		if (!(e & 0x1) || (e & 0x80))
			return NULL;
		table = epm_va(e & EPM_PTE_ADDR);
	}
	return &table[idx(gpa, level)];
}

#define REL_MAX 64

struct rel_log {
	unsigned int n;
	u64 bytes;
	struct {
		u64 hpa, size;
		u32 attr;
	} r[REL_MAX];
};

static void rel_record(void *arg, u64 hpa, u64 size, u32 attr)
{
	struct rel_log *l = arg;

	if (l->n < REL_MAX) {
		l->r[l->n].hpa = hpa;
		l->r[l->n].size = size;
		l->r[l->n].attr = attr;
	}
	l->n++;
	l->bytes += size;
}

static bool rel_is(const struct rel_log *l, unsigned int i, u64 hpa,
		   u64 size, u32 attr)
{
	if (i < l->n && i < REL_MAX && l->r[i].hpa == hpa &&
	    l->r[i].size == size && l->r[i].attr == attr)
		return true;
	if (i < l->n && i < REL_MAX)
		fprintf(stderr, "  release %u: 0x%llx+0x%llx attr 0x%x\n", i,
			ULL(l->r[i].hpa), ULL(l->r[i].size), l->r[i].attr);
	else
		fprintf(stderr, "  release %u missing (%u calls)\n", i, l->n);
	return false;
}

static void pm_init(struct epm_pmap *pm, const struct epm_hw *hw)
{
	UNIT_EXPECT_EQ(0, epm_pmap_init(pm, hw));
}

static void pm_fini(struct epm_pmap *pm)
{
	UNIT_EXPECT_EQ(0, epm_check(pm, NULL));
	epm_pmap_destroy(pm, NULL, NULL);
}

/* One leaf of each size: 1G at 1G, 2M at 2G + 2M, 4K at 2G + 6M + 20K. */
#define T1G	0x40000000ULL
#define T2M	0x80200000ULL
#define T4K	0x80605000ULL

static void build_three(struct epm_pmap *pm)
{
	UNIT_EXPECT_EQ(0, map_lin(pm, T1G, SZ_1G, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, map_lin(pm, T2M, SZ_2M, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, map_lin(pm, T4K, SZ_4K, RW_WB, DELTA));
	UNIT_EXPECT(mix_is(pm, 1, 1, 1));
	UNIT_EXPECT_EQ(4, pm->nr_pairs);
}

/* ---- leaf size choice ---- */

struct size_case {
	const char *what;
	const struct epm_hw *hw;
	u64 gpa, size, hpa, contig, max_page;
	u64 n4k, n2m, n1g;
};

static void run_size_cases(const struct size_case *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, c++) {
		unsigned long before = unit_tally.checks_failed_here;
		struct lin_src src = {
			.delta = c->hpa - c->gpa, .contig = c->contig,
		};
		u64 last = c->gpa + c->size - 1;
		struct epm_xlate x;
		struct epm_pmap pm;

		pm_init(&pm, c->hw);
		UNIT_EXPECT_EQ(0, map_src(&pm, c->gpa, c->size, RW_WB,
					  c->max_page, &src));
		UNIT_EXPECT(mix_is(&pm, c->n4k, c->n2m, c->n1g));
		UNIT_EXPECT(!src.out_of_order);
		UNIT_EXPECT_EQ(0, epm_translate(&pm, c->gpa, &x));
		UNIT_EXPECT_EQ(c->hpa, x.hpa);
		UNIT_EXPECT_EQ(0, epm_translate(&pm, last, &x));
		UNIT_EXPECT_EQ(c->hpa + c->size - 1, x.hpa);
		UNIT_EXPECT(is_unmapped(&pm, c->gpa - SZ_4K));
		if (c->gpa + c->size < GPA_LIMIT)
			UNIT_EXPECT(is_unmapped(&pm, c->gpa + c->size));
		pm_fini(&pm);
		NOTE_CASE(before, "%s", c->what);
	}
}

static void leaf_size_follows_alignment(void)
{
	static const struct size_case cases[] = {
		{ "low 20 bits shared, bit 20 differs: 4K only", &hw_full,
		  0x456000, 2 * SZ_2M, 0x156000, BIG, SZ_1G, 1024, 0, 0 },
		{ "both 2M aligned: one 2M", &hw_full,
		  0x200000, SZ_2M, 0x40200000, BIG, SZ_1G, 0, 1, 0 },
		{ "gpa 2M aligned, hpa not: 4K", &hw_full,
		  0x200000, SZ_2M, 0x40201000, BIG, SZ_1G, 512, 0, 0 },
		{ "hpa 2M aligned, gpa not: 4K", &hw_full,
		  0x201000, SZ_2M, 0x40200000, BIG, SZ_1G, 512, 0, 0 },
		{ "both 1G aligned: one 1G", &hw_full,
		  0x40000000, SZ_1G, 0x80000000, BIG, SZ_1G, 0, 0, 1 },
		{ "gpa 1G aligned, hpa 2M: 2M", &hw_full,
		  0x40000000, SZ_1G, 0x80200000, BIG, SZ_1G, 0, 512, 0 },
		{ "gpa 2M aligned, hpa 1G: 2M", &hw_full,
		  0x40200000, SZ_1G, 0x80000000, BIG, SZ_1G, 0, 512, 0 },
		{ "two 1G", &hw_full,
		  0x40000000, 2 * SZ_1G, 0x100000000, BIG, SZ_1G, 0, 0, 2 },
		{ "1G on each side of a 512G boundary", &hw_full,
		  SZ_512G - SZ_1G, 2 * SZ_1G, SZ_512G - SZ_1G, BIG, SZ_1G,
		  0, 0, 2 },
		{ "1G at the top of the physical space", &hw_full,
		  0x40000000, SZ_1G, PHYS_LIMIT - SZ_1G, SZ_1G, SZ_1G,
		  0, 0, 1 },
		{ "4K at the top of the physical space", &hw_full,
		  0x5000, SZ_4K, PHYS_LIMIT - SZ_4K, SZ_4K, SZ_1G, 1, 0, 0 },
		{ "last 4K of the gpa space", &hw_full,
		  GPA_LIMIT - SZ_4K, SZ_4K, 0x7000, SZ_4K, SZ_1G, 1, 0, 0 },
		{ "last 1G of the gpa space", &hw_full,
		  GPA_LIMIT - SZ_1G, SZ_1G, 0xc0000000, SZ_1G, SZ_1G,
		  0, 0, 1 },
	};

	run_size_cases(cases, ARRAY_SIZE(cases));
}

static void leaf_size_follows_contiguity(void)
{
	static const struct size_case cases[] = {
		{ "contig 2M - 4K: 4K only", &hw_full,
		  0x200000, 2 * SZ_2M, 0x200000, SZ_2M - SZ_4K, SZ_1G,
		  1024, 0, 0 },
		{ "contig 2M: 2M", &hw_full,
		  0x200000, 2 * SZ_2M, 0x200000, SZ_2M, SZ_1G, 0, 2, 0 },
		{ "contig 4K: 4K", &hw_full,
		  0x200000, SZ_2M, 0x200000, SZ_4K, SZ_1G, 512, 0, 0 },
		{ "contig 3M from a 2M boundary", &hw_full,
		  0x200000, 3 * SZ_2M, 0x200000, 3 * SZ_2M / 2, SZ_1G,
		  512, 2, 0 },
		{ "contig 1G - 4K: 511 2M then 512 4K", &hw_full,
		  0x40000000, SZ_1G, 0x40000000, SZ_1G - SZ_4K, SZ_1G,
		  512, 511, 0 },
		{ "contig 1G: one 1G per answer", &hw_full,
		  0x40000000, 2 * SZ_1G, 0x40000000, SZ_1G, SZ_1G, 0, 0, 2 },
	};

	run_size_cases(cases, ARRAY_SIZE(cases));
}

static void leaf_size_follows_max_page(void)
{
	static const struct size_case cases[] = {
		{ "max 4K on 2M-aligned memory", &hw_full,
		  0x200000, 2 * SZ_2M, 0x200000, BIG, SZ_4K, 1024, 0, 0 },
		{ "max 4K on 1G-aligned memory", &hw_full,
		  0x40000000, 2 * SZ_2M, 0x40000000, BIG, SZ_4K, 1024, 0, 0 },
		{ "max 2M on 1G-aligned memory", &hw_full,
		  0x40000000, SZ_1G, 0x80000000, BIG, SZ_2M, 0, 512, 0 },
		{ "max 1G on 1G-aligned memory", &hw_full,
		  0x40000000, SZ_1G, 0x80000000, BIG, SZ_1G, 0, 0, 1 },
	};

	run_size_cases(cases, ARRAY_SIZE(cases));
}

static void leaf_size_follows_hw(void)
{
	static const struct size_case cases[] = {
		{ "no EPT 1G: 2M", &hw_no_ept1g,
		  0x40000000, SZ_1G, 0x80000000, BIG, SZ_1G, 0, 512, 0 },
		{ "no KPT 1G: 2M", &hw_no_kpt1g,
		  0x40000000, SZ_1G, 0x80000000, BIG, SZ_1G, 0, 512, 0 },
		{ "no EPT 2M/1G: 4K", &hw_4k_only,
		  0x200000, 2 * SZ_2M, 0x200000, BIG, SZ_1G, 1024, 0, 0 },
		{ "no EPT 2M/1G on a whole 1G: 4K", &hw_4k_only,
		  0x40000000, SZ_1G, 0x80000000, BIG, SZ_1G, 262144, 0, 0 },
		{ "no exec-only changes nothing", &hw_noxo,
		  0x40000000, SZ_1G, 0x80000000, BIG, SZ_1G, 0, 0, 1 },
	};

	run_size_cases(cases, ARRAY_SIZE(cases));
}

/* [0x1ff000, 0x40201000), hpa = gpa: 4K, 511 2M, 2M, 4K; no 1G fits. */
static void leaf_size_head_tail_2m(void)
{
	const u32 a = RW_WB;
	struct epm_pmap pm;
	struct dump d = { 0 };
	struct lin_src src = { .contig = BIG };

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_src(&pm, 0x1ff000, 0x40201000 - 0x1ff000, a,
				  SZ_1G, &src));
	UNIT_EXPECT_EQ(1, src.calls);
	UNIT_EXPECT(mix_is(&pm, 2, 512, 0));
	UNIT_EXPECT_EQ(0x2000, pm.mapped[0]);
	UNIT_EXPECT_EQ(0x40000000, pm.mapped[1]);
	UNIT_EXPECT_EQ(0, pm.mapped[2]);
	/* root, PDPT, two PDs, two PTs */
	UNIT_EXPECT_EQ(6, pm.nr_pairs);
	UNIT_EXPECT(xlate_is(&pm, 0x1ff000, 1, 0x1ff000, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x1ffabc, 1, 0x1ffabc, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x200000, 2, 0x200000, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x3fffffff, 2, 0x3fffffff, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x40000000, 2, 0x40000000, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x401fffff, 2, 0x401fffff, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x40200fff, 1, 0x40200fff, a, a));
	UNIT_EXPECT(is_unmapped(&pm, 0x1fe000));
	UNIT_EXPECT(is_unmapped(&pm, 0x40201000));
	/* the leaves come in gpa order: 4K first, 4K last */
	dump_take(&pm, &d);
	UNIT_EXPECT(d.n > 2);
	if (d.n > 2) {
		UNIT_EXPECT_EQ(1, d.e[3].level);
		UNIT_EXPECT_EQ(0x1ff000, d.e[3].gpa);
		UNIT_EXPECT_EQ(1, d.e[d.n - 1].level);
		UNIT_EXPECT_EQ(0x40200000, d.e[d.n - 1].gpa);
	}
	free(d.e);
	pm_fini(&pm);
}

/* [1G - 2M - 4K, 2G + 2M + 4K), hpa = gpa + 4G: 4K, 2M, 1G, 2M, 4K. */
static void leaf_size_head_tail_1g(void)
{
	const u32 a = P_RWX | MT_WB;
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x3fdff000, 0x80201000 - 0x3fdff000,
				  a, DELTA));
	UNIT_EXPECT(mix_is(&pm, 2, 2, 1));
	UNIT_EXPECT_EQ(0x2000, pm.mapped[0]);
	UNIT_EXPECT_EQ(0x400000, pm.mapped[1]);
	UNIT_EXPECT_EQ(0x40000000, pm.mapped[2]);
	/* root, PDPT, PD and PT below 1G, PD and PT above 2G */
	UNIT_EXPECT_EQ(6, pm.nr_pairs);
	UNIT_EXPECT(xlate_is(&pm, 0x3fdff000, 1, 0x13fdff000, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x3fe00000, 2, 0x13fe00000, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x40123456, 3, 0x140123456, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x7fffffff, 3, 0x17fffffff, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x80000000, 2, 0x180000000, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x80200008, 1, 0x180200008, a, a));
	UNIT_EXPECT(is_unmapped(&pm, 0x3fdfe000));
	UNIT_EXPECT(is_unmapped(&pm, 0x80201000));
	pm_fini(&pm);
}

/* Scripted, discontiguous frames: the leaves follow the answers. */
static void leaf_size_follows_frame_list(void)
{
	static const struct frame_ans a1[] = {
		FA(0x0, 0x10000000, SZ_4K),
		FA(0x1000, 0x20001000, 0x3ff000),
	};
	static const struct frame_ans a2[] = {
		FA(0x0, 0x30000000, 0x203000),
		FA(0x203000, 0x50003000, 0x1fd000),
	};
	struct list_src s1 = { .ans = a1, .n = ARRAY_SIZE(a1) };
	struct list_src s2 = { .ans = a2, .n = ARRAY_SIZE(a2) };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_list(&pm, 0, 2 * SZ_2M, RW_WB, &s1));
	UNIT_EXPECT_EQ(2, s1.calls);
	UNIT_EXPECT(!s1.wrong_gpa);
	UNIT_EXPECT(mix_is(&pm, 512, 1, 0));
	UNIT_EXPECT(xlate_is(&pm, 0x0, 1, 0x10000000, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x1000, 1, 0x20001000, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x1fffff, 1, 0x201fffff, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x200000, 2, 0x20200000, RW_WB, RW_WB));
	pm_fini(&pm);

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_list(&pm, 0, 2 * SZ_2M, RW_WB, &s2));
	UNIT_EXPECT_EQ(2, s2.calls);
	UNIT_EXPECT(!s2.wrong_gpa);
	UNIT_EXPECT(mix_is(&pm, 512, 1, 0));
	UNIT_EXPECT(xlate_is(&pm, 0x1fffff, 2, 0x301fffff, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x202fff, 1, 0x30202fff, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x203000, 1, 0x50003000, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x3fffff, 1, 0x501fffff, RW_WB, RW_WB));
	pm_fini(&pm);
}

/* The frame source is asked at the first byte its last answer missed. */
static void map_asks_frames_in_order(void)
{
	struct lin_src src = { .delta = 0x1000000, .contig = 0x3000 };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_src(&pm, 0, 4 * SZ_2M, RW_WB, SZ_1G, &src));
	/* 8M / 12K = 682.67: 683 answers */
	UNIT_EXPECT_EQ(683, src.calls);
	UNIT_EXPECT(!src.out_of_order);
	UNIT_EXPECT(mix_is(&pm, 2048, 0, 0));
	pm_fini(&pm);
}

/* ---- encoders ---- */

struct enc_case {
	unsigned int level;
	u32 attr;
	u64 kbits;	/* expected KPT leaf without the frame */
	u64 ebits;	/* expected EPT leaf without the frame */
};

static const u64 enc_hpa[4] = { 0, 0x123456000, 0x123400000, 0x140000000 };

static void run_enc_cases(const struct enc_case *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, c++) {
		unsigned long before = unit_tally.checks_failed_here;
		u64 hpa = enc_hpa[c->level];
		u64 size = EPM_LEVEL_SIZE(c->level);
		u64 gpa = 5 * size;
		struct epm_pmap pm;

		UNIT_EXPECT_EQ(hpa | c->kbits,
			       epm_kpte_leaf(c->level, hpa, c->attr));
		UNIT_EXPECT_EQ(hpa | c->ebits,
			       epm_epte_leaf(c->level, hpa, c->attr));
		/* and epm_map() writes exactly those into the tree */
		pm_init(&pm, &hw_full);
		UNIT_EXPECT_EQ(0, map_lin(&pm, gpa, size, c->attr,
					  hpa - gpa));
		UNIT_EXPECT(leaf_is(&pm, gpa, c->level, hpa | c->kbits,
				    hpa | c->ebits));
		pm_fini(&pm);
		NOTE_CASE(before, "level %u attr 0x%x", c->level, c->attr);
	}
}

/* Documentation/design.md table: KPT P,U,(W),(NX); EPT R,(W),(X); WB = 6. */
static void enc_leaf_permissions(void)
{
	static const struct enc_case cases[] = {
		{ 1, P_R | MT_WB,	NX | 0x005, 0x031 },
		{ 1, P_RW | MT_WB,	NX | 0x007, 0x033 },
		{ 1, P_RX | MT_WB,	0x005, 0x035 },
		{ 1, P_RWX | MT_WB,	0x007, 0x037 },
		{ 1, P_X | MT_WB,	0x005, 0x034 },
		{ 2, P_R | MT_WB,	NX | 0x085, 0x0b1 },
		{ 2, P_RW | MT_WB,	NX | 0x087, 0x0b3 },
		{ 2, P_RX | MT_WB,	0x085, 0x0b5 },
		{ 2, P_RWX | MT_WB,	0x087, 0x0b7 },
		{ 2, P_X | MT_WB,	0x085, 0x0b4 },
		{ 3, P_R | MT_WB,	NX | 0x085, 0x0b1 },
		{ 3, P_RW | MT_WB,	NX | 0x087, 0x0b3 },
		{ 3, P_RX | MT_WB,	0x085, 0x0b5 },
		{ 3, P_RWX | MT_WB,	0x087, 0x0b7 },
		{ 3, P_X | MT_WB,	0x085, 0x0b4 },
	};

	run_enc_cases(cases, ARRAY_SIZE(cases));
}

/*
 * KPT: PAT index PAT:PCD:PWT into Linux' PAT (0 WB, 1 WC, 3 UC, 5 WP,
 * 7 WT), PAT bit 7 on 4K and bit 12 on 2M/1G. EPT: type in bits 5:3.
 */
static void enc_leaf_memtypes(void)
{
	static const struct enc_case cases[] = {
		{ 1, P_RW | MT_UC,	NX | 0x01f, 0x003 },
		{ 1, P_RW | MT_WC,	NX | 0x00f, 0x00b },
		{ 1, P_RW | MT_WT,	NX | 0x09f, 0x023 },
		{ 1, P_RW | MT_WP,	NX | 0x08f, 0x02b },
		{ 1, P_RW | MT_WB,	NX | 0x007, 0x033 },
		{ 2, P_RW | MT_UC,	NX | 0x09f, 0x083 },
		{ 2, P_RW | MT_WC,	NX | 0x08f, 0x08b },
		{ 2, P_RW | MT_WT,	NX | 0x109f, 0x0a3 },
		{ 2, P_RW | MT_WP,	NX | 0x108f, 0x0ab },
		{ 2, P_RW | MT_WB,	NX | 0x087, 0x0b3 },
		{ 3, P_RW | MT_UC,	NX | 0x09f, 0x083 },
		{ 3, P_RW | MT_WC,	NX | 0x08f, 0x08b },
		{ 3, P_RW | MT_WT,	NX | 0x109f, 0x0a3 },
		{ 3, P_RW | MT_WP,	NX | 0x108f, 0x0ab },
		{ 3, P_RW | MT_WB,	NX | 0x087, 0x0b3 },
	};

	run_enc_cases(cases, ARRAY_SIZE(cases));
}

/* IPAT: EPT bit 6 only. AD: KPT A5/D6, EPT A8/D9, D only with W. PINW. */
static void enc_leaf_flags(void)
{
	static const struct enc_case cases[] = {
		{ 1, RW_WB | F_IPAT,		NX | 0x007, 0x073 },
		{ 2, RW_WB | F_IPAT,		NX | 0x087, 0x0f3 },
		{ 1, P_R | MT_WB | F_AD,	NX | 0x025, 0x131 },
		{ 1, P_RW | MT_WB | F_AD,	NX | 0x067, 0x333 },
		{ 1, P_RX | MT_WB | F_AD,	0x025, 0x135 },
		{ 1, P_X | MT_WB | F_AD,	0x025, 0x134 },
		{ 2, P_RWX | MT_WB | F_AD,	0x0e7, 0x3b7 },
		{ 3, P_R | MT_WB | F_AD,	NX | 0x0a5, 0x1b1 },
		{ 1, RW_WB | F_PINW,		NX | 0x207, 0x833 },
		{ 3, P_RX | MT_WB | F_PINW,	0x285, 0x8b5 },
		{ 1, P_RWX | MT_WT | F_IPAT | F_AD | F_PINW, 0x2ff, 0xb67 },
		{ 2, P_RWX | MT_WT | F_IPAT | F_AD | F_PINW, 0x12ff, 0xbe7 },
		{ 3, P_R | MT_UC | F_IPAT | F_AD | F_PINW, NX | 0x2bd, 0x9c1 },
	};

	run_enc_cases(cases, ARRAY_SIZE(cases));
}

/* Intermediates: KPT P|W|U; EPT R|W|X at the pair + 4 KiB. */
static void enc_table_entries(void)
{
	struct epm_pmap pm;
	unsigned int level;

	UNIT_EXPECT_EQ(0x12344007, epm_kpte_table(0x12344000));
	UNIT_EXPECT_EQ(0x12345007, epm_epte_table(0x12344000));
	UNIT_EXPECT_EQ(0xffffffffe007ULL, epm_kpte_table(0xffffffffe000ULL));
	UNIT_EXPECT_EQ(0xfffffffff007ULL, epm_epte_table(0xffffffffe000ULL));

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K, RW_WB, 0));
	for (level = EPM_LEVELS; level > 1; level--) {
		u64 *k = kslot(&pm, 0x1000, level);

		UNIT_EXPECT(k);
		if (!k)
			break;
		UNIT_EXPECT_EQ(0x7, k[0] & ~EPM_PTE_ADDR);
		UNIT_EXPECT_EQ(0x7, k[EPM_PTRS] & ~EPM_PTE_ADDR);
		UNIT_EXPECT_EQ((k[0] & EPM_PTE_ADDR) + 0x1000,
			       k[EPM_PTRS] & EPM_PTE_ADDR);
		/* an order-1 pair: 8 KiB aligned, both halves live */
		UNIT_EXPECT_EQ(0, k[0] & 0x1fff & EPM_PTE_ADDR);
		UNIT_EXPECT_EQ((char *)epm_va(k[0] & EPM_PTE_ADDR) + 0x1000,
			       epm_va(k[EPM_PTRS] & EPM_PTE_ADDR));
	}
	pm_fini(&pm);
}

/* EPTP: WB (6) in 2:0, walk length 4 as 3 in 5:3, A/D enable bit 6. */
static void enc_eptp(void)
{
	struct epm_pmap pm;
	u64 root;

	pm_init(&pm, &hw_full);
	root = epm_pa(pm.root);
	UNIT_EXPECT_EQ(root, epm_kpt_root(&pm));
	UNIT_EXPECT_EQ(0, root & 0xfff);
	UNIT_EXPECT_EQ((root + 0x1000) | 0x1e, epm_eptp(&pm, false));
	UNIT_EXPECT_EQ((root + 0x1000) | 0x5e, epm_eptp(&pm, true));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0, SZ_1G, RW_WB, 0));
	UNIT_EXPECT_EQ(root, epm_kpt_root(&pm));
	UNIT_EXPECT_EQ((root + 0x1000) | 0x1e, epm_eptp(&pm, false));
	pm_fini(&pm);
}

/* ---- validation: errno, and nothing changed ---- */

static void check_range_values(void)
{
	static const struct {
		u64 gpa, size;
		int ret;
	} cases[] = {
		{ 0x1000, 0, -EINVAL },
		{ 0x1800, 0x1000, -EINVAL },
		{ 0x1000, 0x1800, -EINVAL },
		{ 0x1000, 0x10, -EINVAL },
		{ 0xfffffffffffff000ULL, 0x2000, -EINVAL },
		{ 0x1000, 0xfffffffffffff000ULL, -EINVAL },
		{ GPA_LIMIT, 0x1000, -EINVAL },
		{ GPA_LIMIT - 0x1000, 0x2000, -EINVAL },
		{ 0, GPA_LIMIT + 0x1000, -EINVAL },
		{ 0, 0x1000, 0 },
		{ 0, GPA_LIMIT, 0 },
		{ GPA_LIMIT - 0x1000, 0x1000, 0 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long before = unit_tally.checks_failed_here;

		UNIT_EXPECT_EQ(cases[i].ret,
			       epm_check_range(cases[i].gpa, cases[i].size));
		NOTE_CASE(before, "gpa 0x%llx size 0x%llx", ULL(cases[i].gpa),
			  ULL(cases[i].size));
	}
}

static void check_attr_values(void)
{
	static const struct {
		const struct epm_hw *hw;
		u32 attr;
		int ret;
	} cases[] = {
		{ &hw_noxo, P_R | MT_WB, 0 },
		{ &hw_noxo, P_RWX | MT_UC | F_IPAT | F_AD | F_PINW, 0 },
		{ &hw_noxo, P_W | MT_WB, -EINVAL },
		{ &hw_noxo, P_WX | MT_WB, -EINVAL },
		{ &hw_noxo, MT_WB, -EINVAL },
		{ &hw_noxo, P_X | MT_WB, -EOPNOTSUPP },
		{ &hw_full, P_X | MT_WB, 0 },
		{ &hw_full, P_W | MT_WB, -EINVAL },
		{ &hw_noxo, P_R | EPM_ATTR_MT(2), -EINVAL },
		{ &hw_noxo, P_R | EPM_ATTR_MT(3), -EINVAL },
		{ &hw_noxo, P_R | EPM_ATTR_MT(7), -EINVAL },
		{ &hw_noxo, P_R | MT_WB | 0x8, -EINVAL },
		{ &hw_noxo, P_R | MT_WB | 0x800, -EINVAL },
		{ &hw_noxo, P_R | MT_WB | 0x80000, -EINVAL },
		{ &hw_noxo, P_R | MT_WB | 0x80000000, -EINVAL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long before = unit_tally.checks_failed_here;

		UNIT_EXPECT_EQ(cases[i].ret,
			       epm_check_attr(cases[i].hw, cases[i].attr));
		NOTE_CASE(before, "attr 0x%x", cases[i].attr);
	}
}

static void map_bad_range_changes_nothing(void)
{
	static const struct {
		u64 gpa, size;
	} cases[] = {
		{ 0x1000, 0 },
		{ 0x1800, 0x1000 },
		{ 0x1000, 0x1800 },
		{ 0xfffffffffffff000ULL, 0x2000 },
		{ 0x1000, 0xfffffffffffff000ULL },
		{ GPA_LIMIT, 0x1000 },
		{ GPA_LIMIT + SZ_1G, SZ_1G },
		{ GPA_LIMIT - 0x1000, 0x2000 },
		{ 0, GPA_LIMIT + 0x1000 },
	};
	struct epm_pmap pm;
	struct snap s = { 0 };
	size_t i;

	pm_init(&pm, &hw_full);
	build_three(&pm);
	snap_take(&pm, &s);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long before = unit_tally.checks_failed_here;
		struct lin_src src = { .contig = BIG };

		UNIT_EXPECT_EQ(-EINVAL, map_src(&pm, cases[i].gpa,
						cases[i].size, RW_WB, SZ_1G,
						&src));
		UNIT_EXPECT_EQ(0, src.calls);
		UNIT_EXPECT(snap_same(&pm, &s));
		NOTE_CASE(before, "gpa 0x%llx size 0x%llx", ULL(cases[i].gpa),
			  ULL(cases[i].size));
	}
	free(s.d.e);
	pm_fini(&pm);
}

static void map_bad_attr_changes_nothing(void)
{
	static const struct {
		const struct epm_hw *hw;
		u32 attr;
		int ret;
	} cases[] = {
		{ &hw_noxo, P_W | MT_WB, -EINVAL },
		{ &hw_full, P_W | MT_WB, -EINVAL },
		{ &hw_noxo, P_WX | MT_WB, -EINVAL },
		{ &hw_full, P_WX | MT_WB, -EINVAL },
		{ &hw_noxo, MT_WB, -EINVAL },
		{ &hw_noxo, 0, -EINVAL },
		{ &hw_noxo, P_X | MT_WB, -EOPNOTSUPP },
		{ &hw_noxo, P_RW | EPM_ATTR_MT(2), -EINVAL },
		{ &hw_noxo, P_RW | EPM_ATTR_MT(3), -EINVAL },
		{ &hw_noxo, P_RW | EPM_ATTR_MT(7), -EINVAL },
		{ &hw_noxo, RW_WB | 0x8, -EINVAL },
		{ &hw_noxo, RW_WB | 0x80, -EINVAL },
		{ &hw_noxo, RW_WB | 0x800, -EINVAL },
		{ &hw_noxo, RW_WB | 0x8000, -EINVAL },
		{ &hw_noxo, RW_WB | 0x80000, -EINVAL },
		{ &hw_noxo, RW_WB | 0x80000000, -EINVAL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long before = unit_tally.checks_failed_here;
		struct lin_src src = { .contig = BIG };
		struct epm_pmap pm;
		struct snap s = { 0 };

		pm_init(&pm, cases[i].hw);
		build_three(&pm);
		snap_take(&pm, &s);
		UNIT_EXPECT_EQ(cases[i].ret,
			       map_src(&pm, 0x1000, SZ_4K, cases[i].attr,
				       SZ_1G, &src));
		UNIT_EXPECT_EQ(0, src.calls);
		UNIT_EXPECT(snap_same(&pm, &s));
		free(s.d.e);
		pm_fini(&pm);
		NOTE_CASE(before, "attr 0x%x exec_only %d", cases[i].attr,
			  cases[i].hw->exec_only);
	}
}

static void map_bad_max_page_changes_nothing(void)
{
	static const u64 bad[] = {
		0, 0x3000, 0x1001, 0x400000, 2 * SZ_1G, SZ_512G, ~0ULL,
	};
	struct epm_pmap pm;
	struct snap s = { 0 };
	size_t i;

	pm_init(&pm, &hw_full);
	build_three(&pm);
	snap_take(&pm, &s);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		unsigned long before = unit_tally.checks_failed_here;
		struct lin_src src = { .contig = BIG };

		UNIT_EXPECT_EQ(-EINVAL, map_src(&pm, 0, SZ_2M, RW_WB, bad[i],
						&src));
		UNIT_EXPECT_EQ(0, src.calls);
		UNIT_EXPECT(snap_same(&pm, &s));
		NOTE_CASE(before, "max_page 0x%llx", ULL(bad[i]));
	}
	free(s.d.e);
	pm_fini(&pm);
}

struct range {
	u64 gpa, size;
};

static void run_overlaps(const struct range *r, size_t n)
{
	struct epm_pmap pm;
	struct snap s = { 0 };
	size_t i;

	pm_init(&pm, &hw_full);
	build_three(&pm);
	snap_take(&pm, &s);
	for (i = 0; i < n; i++) {
		unsigned long before = unit_tally.checks_failed_here;
		struct lin_src src = { .contig = BIG };

		UNIT_EXPECT_EQ(-EEXIST, map_src(&pm, r[i].gpa, r[i].size,
						RW_WB, SZ_1G, &src));
		UNIT_EXPECT_EQ(0, src.calls);
		UNIT_EXPECT(snap_same(&pm, &s));
		NOTE_CASE(before, "gpa 0x%llx size 0x%llx", ULL(r[i].gpa),
			  ULL(r[i].size));
	}
	free(s.d.e);
	pm_fini(&pm);
}

static void map_overlap_1g_leaf_eexist(void)
{
	static const struct range r[] = {
		{ T1G - 0x1000, 0x2000 },		/* start edge */
		{ T1G + SZ_1G - 0x1000, 0x2000 },	/* end edge */
		{ T1G + 0x123000, 0x1000 },		/* middle */
		{ T1G + SZ_2M, SZ_2M },			/* middle, 2M */
		{ T1G, SZ_1G },				/* exactly */
		{ 0, 4 * SZ_1G },			/* around */
		{ T1G - SZ_1G, SZ_1G + SZ_4K },		/* 1G then 4K */
	};

	run_overlaps(r, ARRAY_SIZE(r));
}

static void map_overlap_2m_leaf_eexist(void)
{
	static const struct range r[] = {
		{ T2M - 0x1000, 0x2000 },
		{ T2M + SZ_2M - 0x1000, 0x2000 },
		{ T2M + 0x100000, 0x1000 },
		{ T2M, SZ_2M },
		{ T2M - SZ_2M, 3 * SZ_2M },
		{ 0x80000000, SZ_1G },
	};

	run_overlaps(r, ARRAY_SIZE(r));
}

static void map_overlap_4k_leaf_eexist(void)
{
	static const struct range r[] = {
		{ T4K - 0x1000, 0x2000 },
		{ T4K, 0x2000 },
		{ T4K, 0x1000 },
		{ 0x80400000, 2 * SZ_2M },	/* a hole, then the leaf */
		{ 0x80600000, SZ_2M },
	};

	run_overlaps(r, ARRAY_SIZE(r));
}

/* Right next to every leaf is free. */
static void map_adjacent_to_leaves_ok(void)
{
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	build_three(&pm);
	UNIT_EXPECT_EQ(0, map_lin(&pm, T1G - 0x1000, 0x1000, RW_WB, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x80000000, SZ_2M, RW_WB, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x80400000, 0x205000, RW_WB, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, T4K + 0x1000, 0x1000, RW_WB, 0));
	UNIT_EXPECT(mix_is(&pm, 1 + 1 + 5 + 1, 1 + 1 + 1, 1));
	UNIT_EXPECT(xlate_is(&pm, T4K + 0x1000, 1, T4K + 0x1000, RW_WB,
			     RW_WB));
	UNIT_EXPECT(xlate_is(&pm, T4K, 1, T4K + DELTA, RW_WB, RW_WB));
	pm_fini(&pm);
}

/* Tables under a 4K leaf are shared, not duplicated. */
static void map_shares_tables(void)
{
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K, RW_WB, 0));
	UNIT_EXPECT_EQ(4, pm.nr_pairs);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x3000, SZ_4K, RW_WB, 0));
	UNIT_EXPECT_EQ(4, pm.nr_pairs);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x201000, SZ_4K, RW_WB, 0));
	UNIT_EXPECT_EQ(5, pm.nr_pairs);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x400000, SZ_2M, RW_WB, 0));
	UNIT_EXPECT_EQ(5, pm.nr_pairs);
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_1G, SZ_1G, RW_WB, 0));
	UNIT_EXPECT_EQ(5, pm.nr_pairs);
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_512G, SZ_1G, RW_WB, 0));
	UNIT_EXPECT_EQ(6, pm.nr_pairs);
	UNIT_EXPECT_EQ(epm_user_mem.live, pm.nr_pairs);
	pm_fini(&pm);
}

/*
 * A map that builds 4K leaves next to an existing one, 2M leaves, a new
 * PD and a new PT, answered by these frames in this order.
 */
static const struct frame_ans chain[] = {
	FA(0x2000, 0x10002000, 0x1fe000),
	FA(0x200000, 0x10200000, 0x3fe00000),
	FA(0x40000000, 0x20000000, SZ_2M),
	FA(0x40200000, 0x20200000, SZ_4K),
	FA(0x40201000, 0x20201000, 0x1ff000),
};

#define CHAIN_GPA	0x2000ULL
#define CHAIN_SIZE	(0x40400000ULL - CHAIN_GPA)

static void map_frame_chain_ok(void)
{
	struct list_src src = { .ans = chain, .n = ARRAY_SIZE(chain) };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K, RW_WB, 0));
	UNIT_EXPECT_EQ(0, map_list(&pm, CHAIN_GPA, CHAIN_SIZE, RW_WB, &src));
	UNIT_EXPECT_EQ(5, src.calls);
	UNIT_EXPECT(!src.wrong_gpa);
	UNIT_EXPECT(mix_is(&pm, 1 + 510 + 512, 512, 0));
	/* root, PDPT, PD0, PT0, PD1, PT1 */
	UNIT_EXPECT_EQ(6, pm.nr_pairs);
	UNIT_EXPECT(xlate_is(&pm, 0x1fffff, 1, 0x101fffff, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x3fffffff, 2, 0x4fffffff, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x40000000, 2, 0x20000000, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x403fffff, 1, 0x203fffff, RW_WB, RW_WB));
	pm_fini(&pm);
}

/* A failing frame source: its error comes back, nothing stays built. */
static void map_frame_error_rolls_back(void)
{
	static const int errs[] = { -EFAULT, -ENOMEM, -EIO, -EAGAIN, 1 };
	unsigned int k, e;

	for (k = 0; k < ARRAY_SIZE(chain); k++) {
		for (e = 0; e < ARRAY_SIZE(errs); e++) {
			unsigned long before = unit_tally.checks_failed_here;
			struct frame_ans ans[ARRAY_SIZE(chain)];
			struct list_src src = {
				.ans = ans, .n = ARRAY_SIZE(ans),
			};
			struct snap s = { 0 };
			struct epm_pmap pm;

			memcpy(ans, chain, sizeof(ans));
			ans[k].ret = errs[e];
			pm_init(&pm, &hw_full);
			UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K, RW_WB,
						  0));
			snap_take(&pm, &s);
			UNIT_EXPECT_EQ(errs[e] < 0 ? errs[e] : -EINVAL,
				       map_list(&pm, CHAIN_GPA, CHAIN_SIZE,
						RW_WB, &src));
			UNIT_EXPECT_EQ(k + 1, src.calls);
			UNIT_EXPECT(snap_same(&pm, &s));
			UNIT_EXPECT_EQ(4, pm.nr_pairs);
			free(s.d.e);
			pm_fini(&pm);
			NOTE_CASE(before, "error %d at answer %u", errs[e], k);
		}
	}
}

/* An answer the core cannot use: -EINVAL, nothing stays built. */
static void map_frame_bad_answer_rolls_back(void)
{
	static const struct {
		const char *what;
		u64 hpa_or, hpa_set, contig;
	} bad[] = {
		{ "hpa not 4K aligned", 0x800, 0, 0 },
		{ "hpa bit 0", 0x1, 0, 0 },
		{ "contig 0", 0, 0, 1 },
		{ "contig 2K", 0, 0, 0x800 },
		{ "contig 6K", 0, 0, 0x1800 },
		{ "hpa 2^52", 0, PHYS_LIMIT, 0 },
		{ "hpa bit 63", 0, 0x8000000000000000ULL, 0 },
	};
	unsigned int k, b;

	for (k = 0; k < ARRAY_SIZE(chain); k++) {
		for (b = 0; b < ARRAY_SIZE(bad); b++) {
			unsigned long before = unit_tally.checks_failed_here;
			struct frame_ans ans[ARRAY_SIZE(chain)];
			struct list_src src = {
				.ans = ans, .n = ARRAY_SIZE(ans),
			};
			struct snap s = { 0 };
			struct epm_pmap pm;

			memcpy(ans, chain, sizeof(ans));
			ans[k].hpa |= bad[b].hpa_or;
			if (bad[b].hpa_set)
				ans[k].hpa = bad[b].hpa_set;
			if (bad[b].contig)
				ans[k].contig = bad[b].contig == 1 ?
						0 : bad[b].contig;
			pm_init(&pm, &hw_full);
			UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K, RW_WB,
						  0));
			snap_take(&pm, &s);
			UNIT_EXPECT_EQ(-EINVAL, map_list(&pm, CHAIN_GPA,
							 CHAIN_SIZE, RW_WB,
							 &src));
			UNIT_EXPECT_EQ(k + 1, src.calls);
			UNIT_EXPECT(snap_same(&pm, &s));
			free(s.d.e);
			pm_fini(&pm);
			NOTE_CASE(before, "%s at answer %u", bad[b].what, k);
		}
	}
}

/*
 * Contiguity that runs past the 52-bit physical space cannot be real:
 * the frame after 2^52 - 4K has no address. Mapping it must fail, not
 * wrap to hpa 0 (bit 52 would land in an ignored PTE bit).
 */
static void map_frame_contig_past_phys_limit_einval(void)
{
	static const struct frame_ans a4k[] = {
		FA(0x0, PHYS_LIMIT - SZ_4K, 0x2000),
		FA(0x1000, PHYS_LIMIT, SZ_4K),
	};
	static const struct frame_ans a2m[] = {
		FA(0x200000, PHYS_LIMIT - SZ_2M, 2 * SZ_2M),
		FA(0x400000, PHYS_LIMIT, SZ_2M),
	};
	struct list_src s4k = { .ans = a4k, .n = ARRAY_SIZE(a4k) };
	struct list_src s2m = { .ans = a2m, .n = ARRAY_SIZE(a2m) };
	struct epm_pmap pm;
	struct snap s = { 0 };

	pm_init(&pm, &hw_full);
	snap_take(&pm, &s);
	UNIT_EXPECT_EQ(-EINVAL, map_list(&pm, 0, 0x2000, RW_WB, &s4k));
	UNIT_EXPECT(snap_same(&pm, &s));
	UNIT_EXPECT(is_unmapped(&pm, 0x1000));
	UNIT_EXPECT_EQ(-EINVAL, map_list(&pm, 0x200000, 2 * SZ_2M, RW_WB,
					 &s2m));
	UNIT_EXPECT(snap_same(&pm, &s));
	UNIT_EXPECT(is_unmapped(&pm, 0x400000));
	free(s.d.e);
	pm_fini(&pm);
}

static void protect_hole_enoent(void)
{
	static const struct range r[] = {
		{ 0x1000, 0x4000 },		/* hole at 0x3000 */
		{ 0x10000, 0x1000 },		/* nothing there */
		{ 0x0, 0x2000 },		/* hole before */
		{ 0x4000, 0x2000 },		/* hole after */
		{ T2M + SZ_2M / 2, SZ_2M },	/* half a 2M, then hole */
		{ T1G - SZ_2M, SZ_1G },		/* hole, then most of 1G */
		{ T1G + SZ_1G - SZ_4K, 0x2000 },	/* 1G end */
		{ 0, GPA_LIMIT },
	};
	struct epm_pmap pm;
	struct snap s = { 0 };
	size_t i;

	pm_init(&pm, &hw_full);
	build_three(&pm);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, 0x2000, RW_WB, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x4000, 0x1000, RW_WB, 0));
	snap_take(&pm, &s);
	for (i = 0; i < ARRAY_SIZE(r); i++) {
		unsigned long before = unit_tally.checks_failed_here;

		UNIT_EXPECT_EQ(-ENOENT, epm_protect(&pm, r[i].gpa, r[i].size,
						    P_R));
		/* no jumbo was split on the way */
		UNIT_EXPECT(snap_same(&pm, &s));
		NOTE_CASE(before, "gpa 0x%llx size 0x%llx", ULL(r[i].gpa),
			  ULL(r[i].size));
	}
	free(s.d.e);
	pm_fini(&pm);
}

static void protect_bad_args_change_nothing(void)
{
	static const struct {
		const struct epm_hw *hw;
		u64 gpa, size;
		u32 perm;
		int ret;
	} cases[] = {
		{ &hw_noxo, T1G, SZ_4K, 0, -EINVAL },
		{ &hw_noxo, T1G, SZ_4K, P_W, -EINVAL },
		{ &hw_noxo, T1G, SZ_4K, P_WX, -EINVAL },
		{ &hw_full, T1G, SZ_4K, P_W, -EINVAL },
		{ &hw_noxo, T1G, SZ_4K, P_X, -EOPNOTSUPP },
		{ &hw_noxo, T1G, SZ_4K, P_R | MT_WB, -EINVAL },
		{ &hw_noxo, T1G, SZ_4K, P_R | 0x8, -EINVAL },
		{ &hw_noxo, T1G, SZ_4K, P_R | F_IPAT, -EINVAL },
		{ &hw_noxo, T1G, SZ_4K, P_R | F_AD, -EINVAL },
		{ &hw_noxo, T1G, SZ_4K, P_R | F_PINW, -EINVAL },
		{ &hw_noxo, T1G, 0, P_R, -EINVAL },
		{ &hw_noxo, T1G + 0x800, SZ_4K, P_R, -EINVAL },
		{ &hw_noxo, T1G, 0x800, P_R, -EINVAL },
		{ &hw_noxo, GPA_LIMIT, SZ_4K, P_R, -EINVAL },
		{ &hw_noxo, GPA_LIMIT - SZ_4K, 2 * SZ_4K, P_R, -EINVAL },
		{ &hw_noxo, T1G, 0xfffffffffffff000ULL, P_R, -EINVAL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long before = unit_tally.checks_failed_here;
		struct epm_pmap pm;
		struct snap s = { 0 };

		pm_init(&pm, cases[i].hw);
		build_three(&pm);
		snap_take(&pm, &s);
		UNIT_EXPECT_EQ(cases[i].ret,
			       epm_protect(&pm, cases[i].gpa + SZ_2M,
					   cases[i].size, cases[i].perm));
		UNIT_EXPECT(snap_same(&pm, &s));
		free(s.d.e);
		pm_fini(&pm);
		NOTE_CASE(before, "case %zu perm 0x%x", i, cases[i].perm);
	}
}

static void unmap_bad_range_changes_nothing(void)
{
	static const struct range r[] = {
		{ T1G, 0 },
		{ T1G + 0x800, 0x1000 },
		{ T1G, 0x1800 },
		{ 0xfffffffffffff000ULL, 0x2000 },
		{ T1G, 0xfffffffffffff000ULL },
		{ GPA_LIMIT, 0x1000 },
		{ GPA_LIMIT - 0x1000, 0x2000 },
		{ 0, GPA_LIMIT + SZ_4K },
	};
	struct epm_pmap pm;
	struct snap s = { 0 };
	size_t i;

	pm_init(&pm, &hw_full);
	build_three(&pm);
	snap_take(&pm, &s);
	for (i = 0; i < ARRAY_SIZE(r); i++) {
		unsigned long before = unit_tally.checks_failed_here;
		struct rel_log rel = { 0 };

		UNIT_EXPECT_EQ(-EINVAL, epm_unmap(&pm, r[i].gpa, r[i].size,
						  rel_record, &rel));
		UNIT_EXPECT_EQ(0, rel.n);
		UNIT_EXPECT(snap_same(&pm, &s));
		NOTE_CASE(before, "gpa 0x%llx size 0x%llx", ULL(r[i].gpa),
			  ULL(r[i].size));
	}
	free(s.d.e);
	pm_fini(&pm);
}

static void range_queries(void)
{
	static const struct {
		u64 gpa, size;
		int unmapped, mapped;
	} cases[] = {
		{ T1G - SZ_4K, SZ_4K, 0, -ENOENT },
		{ T1G - SZ_4K, 2 * SZ_4K, -EEXIST, -ENOENT },
		{ T1G + 0x123000, SZ_4K, -EEXIST, 0 },
		{ T1G, SZ_1G, -EEXIST, 0 },
		{ T1G + SZ_1G - SZ_4K, 2 * SZ_4K, -EEXIST, -ENOENT },
		{ T1G + SZ_1G, SZ_2M, 0, -ENOENT },
		{ T2M, SZ_2M, -EEXIST, 0 },
		{ T2M + SZ_2M, SZ_4K, 0, -ENOENT },
		{ T4K, SZ_4K, -EEXIST, 0 },
		{ T4K + SZ_4K, SZ_4K, 0, -ENOENT },
		{ 0, GPA_LIMIT, -EEXIST, -ENOENT },
		{ 0x1000, 0, -EINVAL, -EINVAL },
		{ 0x1800, SZ_4K, -EINVAL, -EINVAL },
		{ GPA_LIMIT, SZ_4K, -EINVAL, -EINVAL },
		{ GPA_LIMIT - SZ_4K, 2 * SZ_4K, -EINVAL, -EINVAL },
	};
	struct epm_pmap pm;
	struct snap s = { 0 };
	size_t i;

	pm_init(&pm, &hw_full);
	build_three(&pm);
	snap_take(&pm, &s);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long before = unit_tally.checks_failed_here;

		UNIT_EXPECT_EQ(cases[i].unmapped,
			       epm_range_unmapped(&pm, cases[i].gpa,
						  cases[i].size));
		UNIT_EXPECT_EQ(cases[i].mapped,
			       epm_range_mapped(&pm, cases[i].gpa,
						cases[i].size));
		NOTE_CASE(before, "gpa 0x%llx size 0x%llx", ULL(cases[i].gpa),
			  ULL(cases[i].size));
	}
	UNIT_EXPECT(snap_same(&pm, &s));
	free(s.d.e);
	pm_fini(&pm);
}

/* ---- unmap ---- */

static void unmap_middle_of_1g_leaf(void)
{
	struct rel_log rel = { 0 };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_1G, SZ_1G, RW_WB, DELTA));
	UNIT_EXPECT_EQ(2, pm.nr_pairs);		/* root, PDPT */
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, SZ_1G + 0x123000, 0x5000,
				    rel_record, &rel));
	UNIT_EXPECT(mix_is(&pm, 512 - 5, 511, 0));
	UNIT_EXPECT_EQ(507 * SZ_4K, pm.mapped[0]);
	UNIT_EXPECT_EQ(511 * SZ_2M, pm.mapped[1]);
	UNIT_EXPECT_EQ(0, pm.mapped[2]);
	UNIT_EXPECT_EQ(4, pm.nr_pairs);		/* root, PDPT, PD, PT */
	UNIT_EXPECT_EQ(1, rel.n);
	UNIT_EXPECT(rel_is(&rel, 0, 0x140123000, 0x5000, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x40122fff, 1, 0x140122fff, RW_WB, RW_WB));
	UNIT_EXPECT(is_unmapped(&pm, 0x40123000));
	UNIT_EXPECT(is_unmapped(&pm, 0x40127fff));
	UNIT_EXPECT(xlate_is(&pm, 0x40128000, 1, 0x140128000, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x40200000, 2, 0x140200000, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x7fffffff, 2, 0x17fffffff, RW_WB, RW_WB));
	UNIT_EXPECT(leaf_is(&pm, 0x40128000, 1, NX | 0x140128007,
			    0x140128033));
	UNIT_EXPECT(leaf_is(&pm, 0x40000000, 1, NX | 0x140000007,
			    0x140000033));
	UNIT_EXPECT(leaf_is(&pm, 0x40200000, 2, NX | 0x140200087,
			    0x1402000b3));
	pm_fini(&pm);
}

/* Splits keep memory type, IPAT, PINW, perms and the PAT bit position. */
static void unmap_split_keeps_attr(void)
{
	const u32 a = P_RX | MT_WT | F_IPAT | F_PINW;
	struct rel_log rel = { 0 };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_1G, SZ_1G, a, DELTA));
	UNIT_EXPECT(leaf_is(&pm, SZ_1G, 3, 0x14000129d, 0x1400008e5));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, SZ_1G + SZ_2M, SZ_4K, rel_record,
				    &rel));
	UNIT_EXPECT(rel_is(&rel, 0, 0x140200000, SZ_4K, a));
	UNIT_EXPECT(leaf_is(&pm, SZ_1G, 2, 0x14000129d, 0x1400008e5));
	UNIT_EXPECT(leaf_is(&pm, SZ_1G + SZ_2M + SZ_4K, 1, 0x14020129d,
			    0x140201865));
	UNIT_EXPECT(xlate_is(&pm, SZ_1G + SZ_2M + SZ_4K, 1,
			     0x140201000, a, (a | P_R) & ~F_IPAT));
	pm_fini(&pm);
}

/* Smaller leaves inherit the A/D bits of the jumbo they came from. */
static void unmap_split_keeps_accessed_dirty(void)
{
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_1G, SZ_1G, RW_WB | F_AD, DELTA));
	UNIT_EXPECT(leaf_is(&pm, SZ_1G, 3, NX | 0x1400000e7, 0x1400003b3));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, SZ_1G + SZ_4K, SZ_4K, NULL, NULL));
	UNIT_EXPECT(leaf_is(&pm, SZ_1G, 1, NX | 0x140000067, 0x140000333));
	UNIT_EXPECT(leaf_is(&pm, SZ_1G + SZ_2M, 2, NX | 0x1402000e7,
			    0x1402003b3));
	UNIT_EXPECT(xlate_is(&pm, SZ_1G + SZ_2M, 2, 0x140200000, RW_WB,
			     RW_WB));
	pm_fini(&pm);
}

static void unmap_edges_of_2m_leaf(void)
{
	u64 base = epm_user_mem.live;
	struct rel_log rel = { 0 };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x200000, SZ_2M, RW_WB, 0x40000000));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0x200000, SZ_4K, rel_record, &rel));
	UNIT_EXPECT(mix_is(&pm, 511, 0, 0));
	UNIT_EXPECT_EQ(4, pm.nr_pairs);
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0x3ff000, SZ_4K, rel_record, &rel));
	UNIT_EXPECT(mix_is(&pm, 510, 0, 0));
	UNIT_EXPECT_EQ(4, pm.nr_pairs);
	UNIT_EXPECT_EQ(2, rel.n);
	UNIT_EXPECT(rel_is(&rel, 0, 0x40200000, SZ_4K, RW_WB));
	UNIT_EXPECT(rel_is(&rel, 1, 0x403ff000, SZ_4K, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x201000, 1, 0x40201000, RW_WB, RW_WB));
	UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));
	/* the rest, with holes at both ends: one call, every table freed */
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0x200000, SZ_2M, rel_record, &rel));
	UNIT_EXPECT_EQ(3, rel.n);
	UNIT_EXPECT(rel_is(&rel, 2, 0x40201000, 510 * SZ_4K, RW_WB));
	UNIT_EXPECT_EQ(SZ_2M, rel.bytes);
	UNIT_EXPECT(mix_is(&pm, 0, 0, 0));
	UNIT_EXPECT_EQ(1, pm.nr_pairs);
	UNIT_EXPECT_EQ(base + 1, epm_user_mem.live);
	pm_fini(&pm);
}

static void unmap_range_with_holes(void)
{
	struct rel_log rel = { 0 };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, 0x2000, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x200000, SZ_2M, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_1G, SZ_1G, RW_WB, DELTA));
	/* partial: 4K at 0x2000, the 2M, the first 4K of the 1G */
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0x2000, SZ_1G + 0x1000 - 0x2000,
				    rel_record, &rel));
	UNIT_EXPECT_EQ(3, rel.n);
	UNIT_EXPECT(rel_is(&rel, 0, 0x100002000, SZ_4K, RW_WB));
	UNIT_EXPECT(rel_is(&rel, 1, 0x100200000, SZ_2M, RW_WB));
	UNIT_EXPECT(rel_is(&rel, 2, 0x140000000, SZ_4K, RW_WB));
	UNIT_EXPECT(mix_is(&pm, 1 + 511, 511, 0));
	/* root, PDPT, PD0, PT0, PD1, PT1 */
	UNIT_EXPECT_EQ(6, pm.nr_pairs);
	UNIT_EXPECT(xlate_is(&pm, 0x1000, 1, 0x100001000, RW_WB, RW_WB));
	UNIT_EXPECT(is_unmapped(&pm, 0x2000));
	UNIT_EXPECT(is_unmapped(&pm, 0x200000));
	UNIT_EXPECT(is_unmapped(&pm, SZ_1G));
	UNIT_EXPECT(xlate_is(&pm, SZ_1G + 0x1000, 1, 0x140001000, RW_WB,
			     RW_WB));
	UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));
	/* the rest: everything below 2G */
	rel.n = 0;
	rel.bytes = 0;
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0, 2 * SZ_1G, rel_record, &rel));
	UNIT_EXPECT_EQ(2, rel.n);
	UNIT_EXPECT(rel_is(&rel, 0, 0x100001000, SZ_4K, RW_WB));
	UNIT_EXPECT(rel_is(&rel, 1, 0x140001000, SZ_1G - SZ_4K, RW_WB));
	UNIT_EXPECT(mix_is(&pm, 0, 0, 0));
	UNIT_EXPECT_EQ(1, pm.nr_pairs);
	pm_fini(&pm);
}

static void unmap_nothing_mapped(void)
{
	struct rel_log rel = { 0 };
	struct epm_pmap pm;
	struct snap s = { 0 };

	pm_init(&pm, &hw_full);
	snap_take(&pm, &s);
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0, GPA_LIMIT, rel_record, &rel));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0x1000, 0x1000, rel_record, &rel));
	UNIT_EXPECT_EQ(0, rel.n);
	UNIT_EXPECT(snap_same(&pm, &s));
	UNIT_EXPECT_EQ(1, pm.nr_pairs);
	free(s.d.e);

	/* tables exist around the range, no leaf inside it */
	build_three(&pm);
	snap_take(&pm, &s);
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0x80400000, SZ_2M, rel_record,
				    &rel));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, T4K + SZ_4K, 0x1000, rel_record,
				    &rel));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0, SZ_1G, rel_record, &rel));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 2 * SZ_1G, SZ_2M, rel_record,
				    &rel));
	UNIT_EXPECT_EQ(0, rel.n);
	UNIT_EXPECT(snap_same(&pm, &s));
	free(s.d.e);
	pm_fini(&pm);
}

static void unmap_everything_frees_tables(void)
{
	u64 base = epm_user_mem.live;
	struct rel_log rel = { 0 };
	struct epm_pmap pm;
	u64 total;

	pm_init(&pm, &hw_full);
	build_three(&pm);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, 0x5000, RW_WB, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 3 * SZ_512G + 0x3ff000, 0x2000,
				  RW_WB, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, GPA_LIMIT - SZ_4K, SZ_4K, RW_WB, 0));
	total = pm.mapped[0] + pm.mapped[1] + pm.mapped[2];
	UNIT_EXPECT(pm.nr_pairs > 4);
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0, GPA_LIMIT, rel_record, &rel));
	UNIT_EXPECT_EQ(total, rel.bytes);
	UNIT_EXPECT(mix_is(&pm, 0, 0, 0));
	UNIT_EXPECT_EQ(1, pm.nr_pairs);
	UNIT_EXPECT_EQ(base + 1, epm_user_mem.live);
	UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));
	/* and the space is usable again */
	UNIT_EXPECT_EQ(0, map_lin(&pm, T1G, SZ_1G, RW_WB, 0));
	UNIT_EXPECT(mix_is(&pm, 0, 0, 1));
	pm_fini(&pm);
}

/* Emptied tables go at once, partial ranges included. */
static void unmap_frees_emptied_tables(void)
{
	u64 base = epm_user_mem.live;
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K, RW_WB, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_512G, SZ_4K, RW_WB, 0));
	UNIT_EXPECT_EQ(7, pm.nr_pairs);
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0x1000, SZ_4K, NULL, NULL));
	UNIT_EXPECT_EQ(4, pm.nr_pairs);
	UNIT_EXPECT_EQ(base + 4, epm_user_mem.live);
	UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, SZ_512G - SZ_4K, 0x2000, NULL,
				    NULL));
	UNIT_EXPECT_EQ(1, pm.nr_pairs);
	UNIT_EXPECT_EQ(base + 1, epm_user_mem.live);
	pm_fini(&pm);
}

static void unmap_release_coalesces_contiguous(void)
{
	struct rel_log rel = { 0 };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0, 0x10000, RW_WB, 0x5000000));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0, 0x10000, rel_record, &rel));
	UNIT_EXPECT_EQ(1, rel.n);
	UNIT_EXPECT(rel_is(&rel, 0, 0x5000000, 0x10000, RW_WB));

	/* 4K, 2M, 4K leaves; two separate maps; one call */
	rel.n = 0;
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1ff000, 0x201000, RW_WB,
				  0x40000000));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x400000, 0x1000, RW_WB, 0x40000000));
	UNIT_EXPECT(mix_is(&pm, 2, 1, 0));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0, SZ_1G, rel_record, &rel));
	UNIT_EXPECT_EQ(1, rel.n);
	UNIT_EXPECT(rel_is(&rel, 0, 0x401ff000, 0x202000, RW_WB));
	pm_fini(&pm);
}

static void unmap_release_splits_discontiguous(void)
{
	static const struct frame_ans ans[] = {
		FA(0x0, 0x100000, 0x2000),
		FA(0x2000, 0x500000, 0x1000),
		FA(0x3000, 0x501000, 0x1000),	/* follows the last one */
		FA(0x4000, 0x102000, 0x1000),	/* follows the first one */
	};
	struct list_src src = { .ans = ans, .n = ARRAY_SIZE(ans) };
	struct rel_log rel = { 0 };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_list(&pm, 0, 0x5000, RW_WB, &src));
	UNIT_EXPECT_EQ(4, src.calls);
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0, 0x5000, rel_record, &rel));
	UNIT_EXPECT_EQ(3, rel.n);
	UNIT_EXPECT(rel_is(&rel, 0, 0x100000, 0x2000, RW_WB));
	UNIT_EXPECT(rel_is(&rel, 1, 0x500000, 0x2000, RW_WB));
	UNIT_EXPECT(rel_is(&rel, 2, 0x102000, 0x1000, RW_WB));
	pm_fini(&pm);
}

/* Contiguous frames of different attrs are released separately. */
static void unmap_release_splits_attr(void)
{
	struct rel_log rel = { 0 };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x10000, 0x2000, RW_WB, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x12000, 0x2000, P_R | MT_WB, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x14000, 0x1000, P_R | MT_UC, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x15000, 0x1000,
				  P_R | MT_UC | F_PINW, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x16000, 0x1000,
				  P_R | MT_UC | F_PINW | F_AD, 0));
	UNIT_EXPECT_EQ(0, epm_unmap(&pm, 0x10000, 0x7000, rel_record, &rel));
	/* AD is not part of what a release reports: the last two merge */
	UNIT_EXPECT_EQ(4, rel.n);
	UNIT_EXPECT(rel_is(&rel, 0, 0x10000, 0x2000, RW_WB));
	UNIT_EXPECT(rel_is(&rel, 1, 0x12000, 0x2000, P_R | MT_WB));
	UNIT_EXPECT(rel_is(&rel, 2, 0x14000, 0x1000, P_R | MT_UC));
	UNIT_EXPECT(rel_is(&rel, 3, 0x15000, 0x2000,
			   P_R | MT_UC | F_PINW));
	pm_fini(&pm);
}

/* ---- protect ---- */

static void protect_splits_2m_leaf_at_edge(void)
{
	const u32 a = RW_WB | F_IPAT | F_PINW;
	const u32 r = P_R | MT_WB | F_IPAT | F_PINW;
	struct epm_pmap pm;
	struct census c;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x200000, SZ_2M, a, 0x40000000));
	UNIT_EXPECT_EQ(3, pm.nr_pairs);
	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x300000, 0x100000, P_R));
	UNIT_EXPECT(mix_is(&pm, 512, 0, 0));
	UNIT_EXPECT_EQ(4, pm.nr_pairs);
	c = census_of(&pm);
	UNIT_EXPECT_EQ(256, c.writable);
	UNIT_EXPECT(xlate_is(&pm, 0x2ff000, 1, 0x402ff000, a, a & ~F_IPAT));
	UNIT_EXPECT(xlate_is(&pm, 0x300000, 1, 0x40300000, r, r & ~F_IPAT));
	UNIT_EXPECT(leaf_is(&pm, 0x2ff000, 1, NX | 0x402ff207, 0x402ff873));
	UNIT_EXPECT(leaf_is(&pm, 0x300000, 1, NX | 0x40300205, 0x40300871));
	UNIT_EXPECT(leaf_is(&pm, 0x3ff000, 1, NX | 0x403ff205, 0x403ff871));
	pm_fini(&pm);
}

static void protect_splits_1g_leaf_at_edge(void)
{
	const u32 rx = P_RX | MT_WB;
	struct epm_pmap pm;
	struct census c;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_1G, SZ_1G, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x40201000, 0x1ff000, P_RX));
	UNIT_EXPECT(mix_is(&pm, 512, 511, 0));
	UNIT_EXPECT_EQ(4, pm.nr_pairs);
	c = census_of(&pm);
	UNIT_EXPECT_EQ(1 + 511, c.writable);
	UNIT_EXPECT(xlate_is(&pm, 0x40200000, 1, 0x140200000, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x40201000, 1, 0x140201000, rx, rx));
	UNIT_EXPECT(xlate_is(&pm, 0x403fffff, 1, 0x1403fffff, rx, rx));
	UNIT_EXPECT(leaf_is(&pm, 0x40201000, 1, 0x140201005, 0x140201035));
	UNIT_EXPECT(leaf_is(&pm, 0x401ff000, 2, NX | 0x140000087,
			    0x1400000b3));
	UNIT_EXPECT(leaf_is(&pm, 0x40400000, 2, NX | 0x140400087,
			    0x1404000b3));
	pm_fini(&pm);
}

/* Both edges split, whole 2M leaves inside change in place. */
static void protect_splits_both_edges(void)
{
	const u32 r = P_R | MT_WB;
	struct epm_pmap pm;
	struct census c;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_1G, SZ_1G, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x401ff000, 0x402000, P_R));
	UNIT_EXPECT(mix_is(&pm, 1024, 510, 0));
	UNIT_EXPECT_EQ(5, pm.nr_pairs);
	c = census_of(&pm);
	UNIT_EXPECT_EQ(1022 + 508, c.writable);
	UNIT_EXPECT(xlate_is(&pm, 0x401fe000, 1, 0x1401fe000, RW_WB, RW_WB));
	UNIT_EXPECT(xlate_is(&pm, 0x401ff000, 1, 0x1401ff000, r, r));
	UNIT_EXPECT(xlate_is(&pm, 0x40200000, 2, 0x140200000, r, r));
	UNIT_EXPECT(xlate_is(&pm, 0x40400000, 2, 0x140400000, r, r));
	UNIT_EXPECT(xlate_is(&pm, 0x40600000, 1, 0x140600000, r, r));
	UNIT_EXPECT(xlate_is(&pm, 0x40601000, 1, 0x140601000, RW_WB, RW_WB));
	UNIT_EXPECT(leaf_is(&pm, 0x40200000, 2, NX | 0x140200085,
			    0x1402000b1));
	pm_fini(&pm);
}

/* Whole leaves change in place: no table is added. */
static void protect_whole_leaves_no_split(void)
{
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	build_three(&pm);
	UNIT_EXPECT_EQ(0, epm_protect(&pm, T1G, SZ_1G, P_R));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, T2M, SZ_2M, P_RX));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, T4K, SZ_4K, P_RWX));
	UNIT_EXPECT(mix_is(&pm, 1, 1, 1));
	UNIT_EXPECT_EQ(4, pm.nr_pairs);
	UNIT_EXPECT(leaf_is(&pm, T1G, 3, NX | 0x140000085, 0x1400000b1));
	UNIT_EXPECT(leaf_is(&pm, T2M, 2, 0x180200085, 0x1802000b5));
	UNIT_EXPECT(leaf_is(&pm, T4K, 1, 0x180605007, 0x180605037));
	pm_fini(&pm);
}

static void protect_keeps_memtype_ipat_pinw(void)
{
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x200000, SZ_2M,
				  P_RW | MT_WP | F_IPAT | F_PINW, 0x40000000));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K,
				  P_RW | MT_UC | F_PINW, 0x40000000));
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_1G, SZ_1G,
				  P_RWX | MT_WT | F_IPAT, DELTA));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x1000, SZ_4K, P_RX));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x200000, SZ_2M, P_RX));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, SZ_1G, SZ_1G, P_RX));
	UNIT_EXPECT(leaf_is(&pm, 0x200000, 2, 0x4020128d, 0x402008ed));
	UNIT_EXPECT(leaf_is(&pm, 0x1000, 1, 0x4000121d, 0x40001805));
	UNIT_EXPECT(leaf_is(&pm, SZ_1G, 3, 0x14000109d, 0x1400000e5));
	UNIT_EXPECT(xlate_is(&pm, 0x200000, 2, 0x40200000,
			     P_RX | MT_WP | F_IPAT | F_PINW,
			     P_RX | MT_WP | F_PINW));
	UNIT_EXPECT(xlate_is(&pm, 0x1000, 1, 0x40001000,
			     P_RX | MT_UC | F_PINW, P_RX | MT_UC | F_PINW));
	/* the KPT PAT bit (12) of a jumbo is no address bit */
	UNIT_EXPECT(xlate_is(&pm, SZ_1G + 0x1234, 3, 0x140001234,
			     P_RX | MT_WT | F_IPAT, P_RX | MT_WT));
	pm_fini(&pm);
}

/* RW -> R -> RWX -> RW gives back the very same tree. */
static void protect_round_trip(void)
{
	struct dump before = { 0 }, after = { 0 };
	struct epm_pmap pm;
	u64 pairs;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1ff000, 0x202000, RW_WB, 0x1000000));
	UNIT_EXPECT(mix_is(&pm, 2, 1, 0));
	pairs = pm.nr_pairs;
	dump_take(&pm, &before);

	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x1ff000, 0x202000, P_R));
	UNIT_EXPECT(leaf_is(&pm, 0x1ff000, 1, NX | 0x11ff005, 0x11ff031));
	UNIT_EXPECT(leaf_is(&pm, 0x200000, 2, NX | 0x1200085, 0x12000b1));
	UNIT_EXPECT(leaf_is(&pm, 0x400000, 1, NX | 0x1400005, 0x1400031));
	UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));

	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x1ff000, 0x202000, P_RWX));
	UNIT_EXPECT(leaf_is(&pm, 0x1ff000, 1, 0x11ff007, 0x11ff037));
	UNIT_EXPECT(leaf_is(&pm, 0x200000, 2, 0x1200087, 0x12000b7));
	UNIT_EXPECT(leaf_is(&pm, 0x400000, 1, 0x1400007, 0x1400037));
	UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));

	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x1ff000, 0x202000, P_RW));
	dump_take(&pm, &after);
	UNIT_EXPECT(dump_same(&before, &after));
	UNIT_EXPECT_EQ(pairs, pm.nr_pairs);
	free(before.e);
	free(after.e);
	pm_fini(&pm);
}

/* Execute-only where the CPU has it; the KPT half grants R on top. */
static void protect_exec_only(void)
{
	const u32 x = P_X | MT_WB, kx = P_RX | MT_WB;
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K, RW_WB, 0x40000000));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x200000, SZ_2M, RW_WB, 0x40000000));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x3000, SZ_4K, x, 0x40000000));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x1000, SZ_4K, P_X));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x200000, SZ_2M, P_X));
	UNIT_EXPECT(leaf_is(&pm, 0x1000, 1, 0x40001005, 0x40001034));
	UNIT_EXPECT(leaf_is(&pm, 0x3000, 1, 0x40003005, 0x40003034));
	UNIT_EXPECT(leaf_is(&pm, 0x200000, 2, 0x40200085, 0x402000b4));
	UNIT_EXPECT(xlate_is(&pm, 0x1000, 1, 0x40001000, x, kx));
	UNIT_EXPECT(xlate_is(&pm, 0x200000, 2, 0x40200000, x, kx));
	UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x1000, SZ_4K, P_R));
	UNIT_EXPECT(leaf_is(&pm, 0x1000, 1, NX | 0x40001005, 0x40001031));
	pm_fini(&pm);
}

/* Protect rewrites what was asked and keeps A/D, which hardware owns. */
static void protect_keeps_accessed_dirty(void)
{
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K, RW_WB | F_AD,
				  0x40000000));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x2000, SZ_4K, RW_WB, 0x40000000));
	UNIT_EXPECT(leaf_is(&pm, 0x1000, 1, NX | 0x40001067, 0x40001333));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x1000, 0x2000, P_R));
	UNIT_EXPECT(leaf_is(&pm, 0x1000, 1, NX | 0x40001065, 0x40001331));
	UNIT_EXPECT(leaf_is(&pm, 0x2000, 1, NX | 0x40002005, 0x40002031));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, 0x1000, 0x2000, P_RW));
	UNIT_EXPECT(leaf_is(&pm, 0x1000, 1, NX | 0x40001067, 0x40001333));
	UNIT_EXPECT(leaf_is(&pm, 0x2000, 1, NX | 0x40002007, 0x40002033));
	pm_fini(&pm);
}

/* ---- for_each ---- */

struct walk_step {
	unsigned int level;
	u64 gpa;
	bool leaf, post, all;
};

#define W_TAB(l, g)		{ l, g, false, false, false }
#define W_LEAF(l, g)		{ l, g, true, false, false }
#define W_POST(l, g, all)	{ l, g, false, true, all }

#define WALK_HI	SZ_512G

/* 4K at 4K, 2M at 2M, 1G at 1G, 4K at 512G; hpa = gpa + 4G. */
static void build_walk_tree(struct epm_pmap *pm)
{
	UNIT_EXPECT_EQ(0, map_lin(pm, 0x1000, SZ_4K, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, map_lin(pm, 0x200000, SZ_2M, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, map_lin(pm, SZ_1G, SZ_1G, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, map_lin(pm, WALK_HI, SZ_4K, RW_WB, DELTA));
}

static bool walk_is(struct epm_pmap *pm, u64 gpa, u64 size,
		    unsigned int flags, const struct walk_step *want,
		    size_t n)
{
	struct dump d = { 0 };
	int ret = epm_for_each(pm, gpa, size, flags, dump_visit, &d);
	bool ok = !ret && d.n == n;
	size_t i;

	for (i = 0; ok && i < n; i++) {
		const struct epm_entry *e = &d.e[i];

		ok = e->level == want[i].level && e->gpa == want[i].gpa &&
		     e->leaf == want[i].leaf && e->post == want[i].post &&
		     e->visited_all == want[i].all;
		/* both halves shown: tables P|W|U and R|W|X at + 4 KiB */
		if (ok && !e->leaf)
			ok = (e->kpte & ~EPM_PTE_ADDR) == 0x7 &&
			     e->epte == e->kpte + 0x1000;
		if (ok && e->leaf)
			ok = e->kpte == (NX | (e->gpa + DELTA) | 0x7 |
					 (e->level > 1 ? 0x80 : 0)) &&
			     e->epte == ((e->gpa + DELTA) | 0x33 |
					 (e->level > 1 ? 0x80 : 0));
	}
	if (!ok) {
		fprintf(stderr, "  walk 0x%llx+0x%llx flags %u: ret %d:\n",
			ULL(gpa), ULL(size), flags, ret);
		for (i = 0; i < d.n; i++) {
			const struct epm_entry *e = &d.e[i];

			fprintf(stderr, "    L%u 0x%llx leaf %d post %d all %d",
				e->level, ULL(e->gpa), e->leaf, e->post,
				e->visited_all);
			fprintf(stderr, " kpte 0x%llx epte 0x%llx\n",
				ULL(e->kpte), ULL(e->epte));
		}
	}
	free(d.e);
	return ok;
}

static void walk_pre_parents_first(void)
{
	static const struct walk_step want[] = {
		W_TAB(4, 0), W_TAB(3, 0), W_TAB(2, 0), W_LEAF(1, 0x1000),
		W_LEAF(2, 0x200000), W_LEAF(3, SZ_1G),
		W_TAB(4, WALK_HI), W_TAB(3, WALK_HI), W_TAB(2, WALK_HI),
		W_LEAF(1, WALK_HI),
	};
	static const struct walk_step part[] = {
		W_TAB(4, 0), W_TAB(3, 0), W_LEAF(2, 0x200000),
	};
	static const struct walk_step inside[] = {
		W_TAB(4, 0), W_LEAF(3, SZ_1G),
	};
	static const struct walk_step hole[] = {
		W_TAB(4, 0),
	};
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	build_walk_tree(&pm);
	UNIT_EXPECT(walk_is(&pm, 0, GPA_LIMIT, EPM_WALK_PRE, want,
			    ARRAY_SIZE(want)));
	UNIT_EXPECT(walk_is(&pm, 0x200000, SZ_1G - 0x200000, EPM_WALK_PRE,
			    part, ARRAY_SIZE(part)));
	UNIT_EXPECT(walk_is(&pm, SZ_1G + 0x123000, SZ_4K, EPM_WALK_PRE,
			    inside, ARRAY_SIZE(inside)));
	UNIT_EXPECT(walk_is(&pm, 2 * SZ_1G, SZ_1G, EPM_WALK_PRE, hole,
			    ARRAY_SIZE(hole)));
	UNIT_EXPECT(walk_is(&pm, 2 * SZ_512G, SZ_512G, EPM_WALK_PRE, NULL, 0));
	pm_fini(&pm);
}

static void walk_post_children_first(void)
{
	static const struct walk_step want[] = {
		W_LEAF(1, 0x1000), W_POST(2, 0, true),
		W_LEAF(2, 0x200000), W_POST(3, 0, true),
		W_LEAF(3, SZ_1G), W_POST(4, 0, true),
		W_LEAF(1, WALK_HI), W_POST(2, WALK_HI, true),
		W_POST(3, WALK_HI, true), W_POST(4, WALK_HI, true),
	};
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	build_walk_tree(&pm);
	UNIT_EXPECT(walk_is(&pm, 0, GPA_LIMIT, EPM_WALK_POST, want,
			    ARRAY_SIZE(want)));
	pm_fini(&pm);
}

static void walk_pre_and_post(void)
{
	static const struct walk_step want[] = {
		W_TAB(4, 0), W_TAB(3, 0), W_TAB(2, 0), W_LEAF(1, 0x1000),
		W_POST(2, 0, true), W_LEAF(2, 0x200000), W_POST(3, 0, true),
		W_LEAF(3, SZ_1G), W_POST(4, 0, true),
		W_TAB(4, WALK_HI), W_TAB(3, WALK_HI), W_TAB(2, WALK_HI),
		W_LEAF(1, WALK_HI), W_POST(2, WALK_HI, true),
		W_POST(3, WALK_HI, true), W_POST(4, WALK_HI, true),
	};
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	build_walk_tree(&pm);
	UNIT_EXPECT(walk_is(&pm, 0, GPA_LIMIT, EPM_WALK_PRE | EPM_WALK_POST,
			    want, ARRAY_SIZE(want)));
	pm_fini(&pm);
}

/* visited_all only where the range held the whole entry. */
static void walk_post_visited_all_partial(void)
{
	static const struct walk_step from_4k[] = {
		W_LEAF(1, 0x1000), W_POST(2, 0, false),
		W_LEAF(2, 0x200000), W_POST(3, 0, false),
		W_LEAF(3, SZ_1G), W_POST(4, 0, false),
	};
	static const struct walk_step from_0[] = {
		W_LEAF(1, 0x1000), W_POST(2, 0, true),
		W_LEAF(2, 0x200000), W_POST(3, 0, true),
		W_LEAF(3, SZ_1G), W_POST(4, 0, false),
	};
	static const struct walk_step hi[] = {
		W_LEAF(1, WALK_HI), W_POST(2, WALK_HI, false),
		W_POST(3, WALK_HI, false), W_POST(4, WALK_HI, false),
	};
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	build_walk_tree(&pm);
	UNIT_EXPECT(walk_is(&pm, 0x1000, SZ_1G, EPM_WALK_POST, from_4k,
			    ARRAY_SIZE(from_4k)));
	UNIT_EXPECT(walk_is(&pm, 0, SZ_1G + 0x1000, EPM_WALK_POST, from_0,
			    ARRAY_SIZE(from_0)));
	UNIT_EXPECT(walk_is(&pm, WALK_HI, SZ_4K, EPM_WALK_POST, hi,
			    ARRAY_SIZE(hi)));
	pm_fini(&pm);
}

struct stopper {
	unsigned int calls;
	unsigned int stop_at;	/* 1-based; 0: stop at the first post */
	int ret;
};

static int stop_visit(void *arg, const struct epm_entry *e)
{
	struct stopper *s = arg;

	s->calls++;
	if (s->stop_at ? s->calls == s->stop_at : e->post)
		return s->ret;
	return 0;
}

static void walk_stops_on_nonzero(void)
{
	struct stopper s3 = { .stop_at = 3, .ret = 42 };
	struct stopper s1 = { .stop_at = 1, .ret = -EINTR };
	struct stopper sp = { .stop_at = 0, .ret = 7 };
	struct stopper s9 = { .stop_at = 9, .ret = -1 };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	build_walk_tree(&pm);
	UNIT_EXPECT_EQ(42, epm_for_each(&pm, 0, GPA_LIMIT, EPM_WALK_PRE,
					stop_visit, &s3));
	UNIT_EXPECT_EQ(3, s3.calls);
	UNIT_EXPECT_EQ(-EINTR, epm_for_each(&pm, 0, GPA_LIMIT, EPM_WALK_PRE,
					    stop_visit, &s1));
	UNIT_EXPECT_EQ(1, s1.calls);
	/* the first post visit (L2 at 0) comes second */
	UNIT_EXPECT_EQ(7, epm_for_each(&pm, 0, GPA_LIMIT, EPM_WALK_POST,
				       stop_visit, &sp));
	UNIT_EXPECT_EQ(2, sp.calls);
	/* the last of the ten */
	s9.stop_at = 10;
	UNIT_EXPECT_EQ(-1, epm_for_each(&pm, 0, GPA_LIMIT, EPM_WALK_PRE,
					stop_visit, &s9));
	UNIT_EXPECT_EQ(10, s9.calls);
	pm_fini(&pm);
}

static void walk_bad_args_einval(void)
{
	static const unsigned int flags[] = {
		0, 0x4, EPM_WALK_PRE | 0x8, 0x80000000, ~0u,
	};
	static const struct range r[] = {
		{ 0, 0 }, { 0x800, 0x1000 }, { 0, 0x800 },
		{ GPA_LIMIT, SZ_4K }, { 0, GPA_LIMIT + SZ_4K },
		{ 0xfffffffffffff000ULL, 0x2000 },
	};
	struct stopper s = { 0 };
	struct epm_pmap pm;
	size_t i;

	pm_init(&pm, &hw_full);
	build_walk_tree(&pm);
	for (i = 0; i < ARRAY_SIZE(flags); i++)
		UNIT_EXPECT_EQ(-EINVAL, epm_for_each(&pm, 0, GPA_LIMIT,
						     flags[i], stop_visit,
						     &s));
	for (i = 0; i < ARRAY_SIZE(r); i++)
		UNIT_EXPECT_EQ(-EINVAL, epm_for_each(&pm, r[i].gpa,
						     r[i].size, EPM_WALK_PRE,
						     stop_visit, &s));
	UNIT_EXPECT_EQ(0, s.calls);
	pm_fini(&pm);
}

/* ---- translate ---- */

static void translate_unmapped_shows_walk(void)
{
	struct epm_xlate x;
	struct epm_pmap pm;
	u64 *k4, *k3, *k2;
	unsigned int l;

	pm_init(&pm, &hw_full);
	memset(&x, 0xa5, sizeof(x));
	UNIT_EXPECT_EQ(-ENOENT, epm_translate(&pm, 0x1000, &x));
	for (l = 0; l <= EPM_LEVELS; l++) {
		UNIT_EXPECT_EQ(0, x.kpte[l]);
		UNIT_EXPECT_EQ(0, x.epte[l]);
	}
	UNIT_EXPECT_EQ(0, x.level);
	UNIT_EXPECT_EQ(0, x.page_size);
	UNIT_EXPECT_EQ(0, x.hpa);

	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K, RW_WB, DELTA));
	k4 = kslot(&pm, 0x1000, 4);
	k3 = kslot(&pm, 0x1000, 3);
	k2 = kslot(&pm, 0x1000, 2);
	UNIT_EXPECT(k4 && k3 && k2);
	if (!k4 || !k3 || !k2)
		goto out;
	/* a hole in the PT: three tables walked, an empty slot */
	memset(&x, 0xa5, sizeof(x));
	UNIT_EXPECT_EQ(-ENOENT, epm_translate(&pm, 0x2000, &x));
	UNIT_EXPECT_EQ(*k4, x.kpte[4]);
	UNIT_EXPECT_EQ(k4[EPM_PTRS], x.epte[4]);
	UNIT_EXPECT_EQ(*k3, x.kpte[3]);
	UNIT_EXPECT_EQ(k3[EPM_PTRS], x.epte[3]);
	UNIT_EXPECT_EQ(*k2, x.kpte[2]);
	UNIT_EXPECT_EQ(k2[EPM_PTRS], x.epte[2]);
	UNIT_EXPECT_EQ(0, x.kpte[1]);
	UNIT_EXPECT_EQ(0, x.epte[1]);
	UNIT_EXPECT_EQ(0, x.kpte[0]);
	UNIT_EXPECT_EQ(0, x.level);
	UNIT_EXPECT_EQ(0, x.hpa);
	UNIT_EXPECT_EQ(0, x.attr);
	/* a hole in the PDPT: the walk stops there */
	memset(&x, 0xa5, sizeof(x));
	UNIT_EXPECT_EQ(-ENOENT, epm_translate(&pm, SZ_1G, &x));
	UNIT_EXPECT_EQ(*k4, x.kpte[4]);
	UNIT_EXPECT_EQ(k4[EPM_PTRS], x.epte[4]);
	UNIT_EXPECT_EQ(0, x.kpte[3]);
	UNIT_EXPECT_EQ(0, x.epte[3]);
	UNIT_EXPECT_EQ(0, x.kpte[2]);
	UNIT_EXPECT_EQ(0, x.kpte[1]);
	UNIT_EXPECT_EQ(0, x.level);
out:
	pm_fini(&pm);
}

static void translate_bad_gpa_einval(void)
{
	static const u64 bad[] = {
		GPA_LIMIT, GPA_LIMIT + SZ_4K, 0x8000000000000000ULL, ~0ULL,
	};
	struct epm_xlate x;
	struct epm_pmap pm;
	size_t i;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0, SZ_1G, RW_WB, 0));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&x, 0xa5, sizeof(x));
		UNIT_EXPECT_EQ(-EINVAL, epm_translate(&pm, bad[i], &x));
		UNIT_EXPECT_EQ(0, x.level);
		UNIT_EXPECT_EQ(0, x.hpa);
		UNIT_EXPECT_EQ(0, x.kpte[4]);
	}
	/* 2^48 aliases gpa 0 in the tables; it must not translate */
	UNIT_EXPECT(xlate_is(&pm, 0, 3, 0, RW_WB, RW_WB));
	pm_fini(&pm);
}

static void translate_adds_offsets(void)
{
	const u32 a = P_RX | MT_WB;
	struct epm_xlate x;
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x5000, SZ_4K, a, 0x7000000 - 0x5000));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x400000, SZ_2M, a,
				  0x80600000 - 0x400000));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0xc0000000, SZ_1G, a,
				  0x1c0000000 - 0xc0000000));
	UNIT_EXPECT(xlate_is(&pm, 0x5000, 1, 0x7000000, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x5abc, 1, 0x7000abc, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x5fff, 1, 0x7000fff, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x400000, 2, 0x80600000, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x4fedcb, 2, 0x806fedcb, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0x5fffff, 2, 0x807fffff, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0xc0000000, 3, 0x1c0000000, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0xffffffff, 3, 0x1ffffffff, a, a));
	UNIT_EXPECT(xlate_is(&pm, 0xd2345678, 3, 0x1d2345678, a, a));
	UNIT_EXPECT_EQ(0, epm_translate(&pm, 0xd2345678, &x));
	UNIT_EXPECT_EQ(SZ_1G, x.page_size);
	UNIT_EXPECT_EQ(0x1c0000085, x.kpte[3]);
	UNIT_EXPECT_EQ(0x1c00000b5, x.epte[3]);
	pm_fini(&pm);
}

/* The two halves disagree on the leaf level: -EIO. */
static void translate_halves_disagree_eio(void)
{
	struct epm_xlate x;
	struct epm_pmap pm;
	u64 *k, saved;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, SZ_4K, RW_WB, 0));
	k = kslot(&pm, 0x1000, 1);
	UNIT_EXPECT(k);
	if (k) {
		saved = k[EPM_PTRS];
		k[EPM_PTRS] = 0;
		UNIT_EXPECT_EQ(-EIO, epm_translate(&pm, 0x1000, &x));
		k[EPM_PTRS] = saved;
		UNIT_EXPECT_EQ(0, epm_translate(&pm, 0x1000, &x));
	}
	pm_fini(&pm);
}

/* ---- check ---- */

static void check_clean_tree(void)
{
	struct epm_mismatch m = {
		.why = EPM_BAD_COUNT, .level = 9, .gpa = 1, .kpte = 2,
		.epte = 3,
	};
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, epm_check(&pm, &m));
	build_three(&pm);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1ff000, 0x202000,
				  P_RWX | MT_WT | F_AD | F_IPAT | F_PINW, 0));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, 0x1000, P_X | MT_UC, 0));
	UNIT_EXPECT_EQ(0, epm_check(&pm, &m));
	UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));
	/* left untouched */
	UNIT_EXPECT_EQ(EPM_BAD_COUNT, m.why);
	UNIT_EXPECT_EQ(9, m.level);
	UNIT_EXPECT_EQ(1, m.gpa);
	UNIT_EXPECT_EQ(2, m.kpte);
	UNIT_EXPECT_EQ(3, m.epte);
	pm_fini(&pm);
}

enum corrupt_op { C_XOR, C_SET, C_ELSEWHERE, C_SET_BOTH };

struct corrupt_case {
	const char *what;
	u64 gpa;
	unsigned int level;
	bool ept;		/* which half (C_XOR, C_SET) */
	enum corrupt_op op;
	u64 v, v2;
	enum epm_bad why;
};

/* On the tree of build_corrupt_tree(). */
static const struct corrupt_case corrupt_cases[] = {
	{ "EPT W flipped on a 4K leaf", 0x1000, 1, true, C_XOR, 0x2, 0,
	  EPM_BAD_LEAF },
	{ "EPT R cleared on a 4K leaf (W without R)", 0x1000, 1, true,
	  C_XOR, 0x1, 0, EPM_BAD_LEAF },
	{ "EPT frame differs on a 4K leaf", 0x1000, 1, true, C_XOR, 0x1000,
	  0, EPM_BAD_LEAF },
	{ "EPT PINW set alone", 0x1000, 1, true, C_XOR, 0x800, 0,
	  EPM_BAD_LEAF },
	{ "EPT half cleared on a 4K leaf", 0x1000, 1, true, C_SET, 0, 0,
	  EPM_BAD_PRESENT },
	{ "EPT half cleared on a 2M leaf", 0x200000, 2, true, C_SET, 0, 0,
	  EPM_BAD_PRESENT },
	{ "EPT half cleared on an intermediate", 0x0, 2, true, C_SET, 0, 0,
	  EPM_BAD_PRESENT },
	{ "EPT memtype 2 on a 2M leaf", 0x200000, 2, true, C_XOR, 0x20, 0,
	  EPM_BAD_LEAF },
	{ "EPT memtype 7 on a 1G leaf", SZ_1G, 3, true, C_XOR, 0x08, 0,
	  EPM_BAD_LEAF },
	{ "EPT PS cleared on a 2M leaf", 0x200000, 2, true, C_XOR, 0x80, 0,
	  EPM_BAD_KIND },
	{ "EPT bit 63 on a 1G leaf", SZ_1G, 3, true, C_XOR, NX, 0,
	  EPM_BAD_LEAF },
	{ "EPT intermediate points elsewhere", 0x0, 2, true, C_ELSEWHERE,
	  0, 0, EPM_BAD_TABLE },
	{ "EPT intermediate lost X", 0x0, 3, true, C_XOR, 0x4, 0,
	  EPM_BAD_TABLE },
	{ "KPT NX cleared on a 4K leaf", 0x1000, 1, false, C_XOR, NX, 0,
	  EPM_BAD_LEAF },
	{ "KPT W cleared on a 2M leaf", 0x200000, 2, false, C_XOR, 0x2, 0,
	  EPM_BAD_LEAF },
	{ "KPT PAT bit on a 4K leaf", 0x1000, 1, false, C_XOR, 0x80, 0,
	  EPM_BAD_LEAF },
	{ "KPT PAT bit on a 1G leaf", SZ_1G, 3, false, C_XOR, 0x1000, 0,
	  EPM_BAD_LEAF },
	{ "KPT intermediate lost U", 0x0, 4, false, C_XOR, 0x4, 0,
	  EPM_BAD_TABLE },
	{ "KPT intermediate with NX", 0x0, 3, false, C_XOR, NX, 0,
	  EPM_BAD_TABLE },
	{ "stray bits in an empty KPT slot", 0x2000, 1, false, C_SET,
	  0x2000, 0, EPM_BAD_PRESENT },
	{ "EPT-only leaf", 0x3000, 1, true, C_SET, 0x100003033, 0,
	  EPM_BAD_PRESENT },
	{ "leaf in the PML4", SZ_512G, 4, false, C_SET_BOTH,
	  NX | 0x8000000087, 0x80000000b3, EPM_BAD_LEVEL },
};

static void build_corrupt_tree(struct epm_pmap *pm)
{
	UNIT_EXPECT_EQ(0, map_lin(pm, 0x1000, SZ_4K, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, map_lin(pm, 0x200000, SZ_2M, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, map_lin(pm, SZ_1G, SZ_1G, RW_WB, DELTA));
	UNIT_EXPECT_EQ(0, epm_check(pm, NULL));
}

/* Apply @c; returns the slot, its old values in @old[0..1]. */
static u64 *corrupt(struct epm_pmap *pm, const struct corrupt_case *c,
		    u64 old[2])
{
	u64 *k = kslot(pm, c->gpa, c->level);
	u64 *p;

	if (!k)
		return NULL;
	old[0] = k[0];
	old[1] = k[EPM_PTRS];
	p = c->ept ? &k[EPM_PTRS] : k;
	switch (c->op) {
	case C_XOR:
		*p ^= c->v;
		break;
	case C_SET:
		*p = c->v;
		break;
	case C_ELSEWHERE:
		/* the EPT half of the table one level up */
		*p = ((*kslot(pm, c->gpa, c->level + 1) & EPM_PTE_ADDR) +
		      0x1000) | 0x7;
		break;
	case C_SET_BOTH:
		k[0] = c->v;
		k[EPM_PTRS] = c->v2;
		break;
	}
	return k;
}

/* The first mismatch names the corrupted entry exactly. */
static void check_reports_first_mismatch(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(corrupt_cases); i++) {
		const struct corrupt_case *c = &corrupt_cases[i];
		unsigned long before = unit_tally.checks_failed_here;
		struct epm_mismatch m = { .why = EPM_BAD_NONE };
		struct epm_pmap pm;
		u64 old[2], *k;

		pm_init(&pm, &hw_full);
		build_corrupt_tree(&pm);
		k = corrupt(&pm, c, old);
		UNIT_EXPECT(k);
		if (k) {
			UNIT_EXPECT(epm_check(&pm, &m) >= 1);
			UNIT_EXPECT_EQ(c->why, m.why);
			UNIT_EXPECT_EQ(c->level, m.level);
			UNIT_EXPECT_EQ(c->gpa, m.gpa);
			UNIT_EXPECT_EQ(k[0], m.kpte);
			UNIT_EXPECT_EQ(k[EPM_PTRS], m.epte);
			k[0] = old[0];
			k[EPM_PTRS] = old[1];
		}
		pm_fini(&pm);
		NOTE_CASE(before, "%s", c->what);
	}
}

/* One corrupted entry is one mismatch: the counters were right. */
static void check_counts_one_corruption_once(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(corrupt_cases); i++) {
		const struct corrupt_case *c = &corrupt_cases[i];
		unsigned long before = unit_tally.checks_failed_here;
		struct epm_mismatch m = { .why = EPM_BAD_NONE };
		struct epm_pmap pm;
		u64 old[2], *k;

		pm_init(&pm, &hw_full);
		build_corrupt_tree(&pm);
		k = corrupt(&pm, c, old);
		UNIT_EXPECT(k);
		if (k) {
			UNIT_EXPECT_EQ(1, epm_check(&pm, &m));
			k[0] = old[0];
			k[EPM_PTRS] = old[1];
		}
		pm_fini(&pm);
		NOTE_CASE(before, "%s", c->what);
	}
}

/* A/D (both halves, leaves and tables) and EPT IPAT are not mismatches. */
static void check_ignores_hw_bits_and_ipat(void)
{
	struct epm_pmap pm;
	u64 *l4, *l3, *pt, *pd, *pdpt;

	pm_init(&pm, &hw_full);
	build_corrupt_tree(&pm);
	l4 = kslot(&pm, 0, 4);
	l3 = kslot(&pm, 0, 3);
	pt = kslot(&pm, 0x1000, 1);
	pd = kslot(&pm, 0x200000, 2);
	pdpt = kslot(&pm, SZ_1G, 3);
	UNIT_EXPECT(l4 && l3 && pt && pd && pdpt);
	if (l4 && l3 && pt && pd && pdpt) {
		l4[0] |= 0x20;
		l3[EPM_PTRS] |= 0x100;
		pt[0] |= 0x60;
		pt[EPM_PTRS] |= 0x300;
		pd[EPM_PTRS] |= 0x300;
		pdpt[EPM_PTRS] |= 0x40;
		UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));
		UNIT_EXPECT(xlate_is(&pm, SZ_1G, 3, SZ_1G + DELTA,
				     RW_WB | F_IPAT, RW_WB));
		UNIT_EXPECT(xlate_is(&pm, 0x1000, 1, 0x1000 + DELTA,
				     RW_WB, RW_WB));
	}
	pm_fini(&pm);
}

static void check_reports_counters(void)
{
	struct epm_mismatch m = { .why = EPM_BAD_NONE };
	struct epm_pmap pm;

	pm_init(&pm, &hw_full);
	build_corrupt_tree(&pm);
	UNIT_EXPECT_EQ(4, pm.nr_pairs);
	pm.nr_pairs++;
	UNIT_EXPECT_EQ(1, epm_check(&pm, &m));
	UNIT_EXPECT_EQ(EPM_BAD_COUNT, m.why);
	UNIT_EXPECT_EQ(0, m.level);
	UNIT_EXPECT_EQ(0, m.gpa);
	UNIT_EXPECT_EQ(4, m.kpte);
	UNIT_EXPECT_EQ(5, m.epte);
	pm.nr_pairs--;

	pm.mapped[1] += SZ_4K;
	UNIT_EXPECT_EQ(1, epm_check(&pm, &m));
	UNIT_EXPECT_EQ(EPM_BAD_COUNT, m.why);
	UNIT_EXPECT_EQ(2, m.level);
	UNIT_EXPECT_EQ(0, m.gpa);
	UNIT_EXPECT_EQ(SZ_2M, m.kpte);
	UNIT_EXPECT_EQ(SZ_2M + SZ_4K, m.epte);
	pm.mapped[1] -= SZ_4K;
	UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));
	pm_fini(&pm);
}

/* An emptied non-root table is reported at the entry that points to it. */
static void check_reports_empty_table(void)
{
	struct epm_mismatch m = { .why = EPM_BAD_NONE };
	struct epm_pmap pm;
	u64 *k, kv, ev;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x201000, SZ_4K, RW_WB, DELTA));
	k = kslot(&pm, 0x201000, 1);
	UNIT_EXPECT(k);
	if (k) {
		kv = k[0];
		ev = k[EPM_PTRS];
		k[0] = 0;
		k[EPM_PTRS] = 0;
		pm.mapped[0] -= SZ_4K;
		UNIT_EXPECT_EQ(1, epm_check(&pm, &m));
		UNIT_EXPECT_EQ(EPM_BAD_EMPTY, m.why);
		UNIT_EXPECT_EQ(2, m.level);
		UNIT_EXPECT_EQ(0x200000, m.gpa);
		UNIT_EXPECT_EQ(0, m.kpte);
		UNIT_EXPECT_EQ(0, m.epte);
		k[0] = kv;
		k[EPM_PTRS] = ev;
		pm.mapped[0] += SZ_4K;
	}
	pm_fini(&pm);
}

/* ---- life cycle ---- */

static void init_gives_empty_space(void)
{
	u64 base = epm_user_mem.live;
	struct stopper s = { 0 };
	struct epm_pmap pm;
	unsigned int i;

	pm_init(&pm, &hw_noxo);
	UNIT_EXPECT(pm.root);
	UNIT_EXPECT_EQ(1, pm.nr_pairs);
	UNIT_EXPECT_EQ(base + 1, epm_user_mem.live);
	UNIT_EXPECT(mix_is(&pm, 0, 0, 0));
	UNIT_EXPECT(!pm.hw.exec_only && pm.hw.ept_1g);
	for (i = 0; i < 2 * EPM_PTRS; i++)
		UNIT_EXPECT_EQ(0, pm.root[i]);
	UNIT_EXPECT_EQ(0, epm_for_each(&pm, 0, GPA_LIMIT,
				       EPM_WALK_PRE | EPM_WALK_POST,
				       stop_visit, &s));
	UNIT_EXPECT_EQ(0, s.calls);
	UNIT_EXPECT_EQ(0, epm_check(&pm, NULL));
	epm_pmap_destroy(&pm, NULL, NULL);
	UNIT_EXPECT(!pm.root);
	UNIT_EXPECT_EQ(0, pm.nr_pairs);
	UNIT_EXPECT_EQ(base, epm_user_mem.live);
	/* a second destroy does nothing */
	epm_pmap_destroy(&pm, NULL, NULL);
	UNIT_EXPECT_EQ(base, epm_user_mem.live);
}

static void destroy_releases_everything_once(void)
{
	u64 base = epm_user_mem.live;
	struct rel_log rel = { 0 };
	struct epm_pmap pm;
	u64 total;

	pm_init(&pm, &hw_full);
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x1000, 0x2000, RW_WB, 0x10000000));
	UNIT_EXPECT_EQ(0, map_lin(&pm, 0x200000, SZ_2M, P_R | MT_WB,
				  0x20000000));
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_1G, SZ_1G, P_RX | MT_UC | F_PINW,
				  SZ_1G));
	UNIT_EXPECT_EQ(0, map_lin(&pm, SZ_512G, 0x3000, RW_WB | F_AD, 0));
	UNIT_EXPECT_EQ(0, epm_protect(&pm, SZ_1G + SZ_2M, SZ_4K, P_R));
	total = pm.mapped[0] + pm.mapped[1] + pm.mapped[2];
	UNIT_EXPECT_EQ(0x2000 + SZ_2M + SZ_1G + 0x3000, total);
	UNIT_EXPECT(pm.nr_pairs > 1);
	epm_pmap_destroy(&pm, rel_record, &rel);
	UNIT_EXPECT_EQ(total, rel.bytes);
	UNIT_EXPECT_EQ(6, rel.n);
	UNIT_EXPECT(rel_is(&rel, 0, 0x10001000, 0x2000, RW_WB));
	UNIT_EXPECT(rel_is(&rel, 1, 0x20200000, SZ_2M, P_R | MT_WB));
	UNIT_EXPECT(rel_is(&rel, 2, 0x80000000, SZ_2M,
			   P_RX | MT_UC | F_PINW));
	UNIT_EXPECT(rel_is(&rel, 3, 0x80200000, SZ_4K,
			   P_R | MT_UC | F_PINW));
	UNIT_EXPECT(rel_is(&rel, 4, 0x80201000, SZ_1G - SZ_2M - SZ_4K,
			   P_RX | MT_UC | F_PINW));
	UNIT_EXPECT(rel_is(&rel, 5, SZ_512G, 0x3000, RW_WB));
	UNIT_EXPECT(!pm.root);
	UNIT_EXPECT_EQ(0, pm.nr_pairs);
	UNIT_EXPECT_EQ(base, epm_user_mem.live);
}

void unit_cases(void)
{
	UNIT_TEST(leaf_size_follows_alignment);
	UNIT_TEST(leaf_size_follows_contiguity);
	UNIT_TEST(leaf_size_follows_max_page);
	UNIT_TEST(leaf_size_follows_hw);
	UNIT_TEST(leaf_size_head_tail_2m);
	UNIT_TEST(leaf_size_head_tail_1g);
	UNIT_TEST(leaf_size_follows_frame_list);
	UNIT_TEST(map_asks_frames_in_order);
	UNIT_TEST(enc_leaf_permissions);
	UNIT_TEST(enc_leaf_memtypes);
	UNIT_TEST(enc_leaf_flags);
	UNIT_TEST(enc_table_entries);
	UNIT_TEST(enc_eptp);
	UNIT_TEST(check_range_values);
	UNIT_TEST(check_attr_values);
	UNIT_TEST(map_bad_range_changes_nothing);
	UNIT_TEST(map_bad_attr_changes_nothing);
	UNIT_TEST(map_bad_max_page_changes_nothing);
	UNIT_TEST(map_overlap_1g_leaf_eexist);
	UNIT_TEST(map_overlap_2m_leaf_eexist);
	UNIT_TEST(map_overlap_4k_leaf_eexist);
	UNIT_TEST(map_adjacent_to_leaves_ok);
	UNIT_TEST(map_shares_tables);
	UNIT_TEST(map_frame_chain_ok);
	UNIT_TEST(map_frame_error_rolls_back);
	UNIT_TEST(map_frame_bad_answer_rolls_back);
	UNIT_TEST(map_frame_contig_past_phys_limit_einval);
	UNIT_TEST(protect_hole_enoent);
	UNIT_TEST(protect_bad_args_change_nothing);
	UNIT_TEST(unmap_bad_range_changes_nothing);
	UNIT_TEST(range_queries);
	UNIT_TEST(unmap_middle_of_1g_leaf);
	UNIT_TEST(unmap_split_keeps_attr);
	UNIT_TEST(unmap_split_keeps_accessed_dirty);
	UNIT_TEST(unmap_edges_of_2m_leaf);
	UNIT_TEST(unmap_range_with_holes);
	UNIT_TEST(unmap_nothing_mapped);
	UNIT_TEST(unmap_everything_frees_tables);
	UNIT_TEST(unmap_frees_emptied_tables);
	UNIT_TEST(unmap_release_coalesces_contiguous);
	UNIT_TEST(unmap_release_splits_discontiguous);
	UNIT_TEST(unmap_release_splits_attr);
	UNIT_TEST(protect_splits_2m_leaf_at_edge);
	UNIT_TEST(protect_splits_1g_leaf_at_edge);
	UNIT_TEST(protect_splits_both_edges);
	UNIT_TEST(protect_whole_leaves_no_split);
	UNIT_TEST(protect_keeps_memtype_ipat_pinw);
	UNIT_TEST(protect_round_trip);
	UNIT_TEST(protect_exec_only);
	UNIT_TEST(protect_keeps_accessed_dirty);
	UNIT_TEST(walk_pre_parents_first);
	UNIT_TEST(walk_post_children_first);
	UNIT_TEST(walk_pre_and_post);
	UNIT_TEST(walk_post_visited_all_partial);
	UNIT_TEST(walk_stops_on_nonzero);
	UNIT_TEST(walk_bad_args_einval);
	UNIT_TEST(translate_unmapped_shows_walk);
	UNIT_TEST(translate_bad_gpa_einval);
	UNIT_TEST(translate_adds_offsets);
	UNIT_TEST(translate_halves_disagree_eio);
	UNIT_TEST(check_clean_tree);
	UNIT_TEST(check_reports_first_mismatch);
	UNIT_TEST(check_counts_one_corruption_once);
	UNIT_TEST(check_ignores_hw_bits_and_ipat);
	UNIT_TEST(check_reports_counters);
	UNIT_TEST(check_reports_empty_table);
	UNIT_TEST(init_gives_empty_space);
	UNIT_TEST(destroy_releases_everything_once);
}
