// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failure injection. A fixed sequence of operations that need
 * table pairs (new tables at every level, jumbo splits at one and at both
 * edges of a range) is run op by op; each op is first made to fail at its
 * 1st allocation, then its 2nd, and so on until it needs no more than it
 * was given and succeeds. Every failed try must return -ENOMEM and leave
 * the tree exactly as it was: the same entries (both halves, table pairs
 * at the same addresses), nr_pairs, mapped[], no pair leaked and no frame
 * released. Each successful op is then checked against the flat model.
 */
#include "unit.h"
#include "model.h"

/* Frames: gpa + FI_HPA, one run per map, so every aligned leaf fits. */
#define FI_HPA		(1ULL << 44)

#define G		EPM_SIZE_1G
#define M		EPM_SIZE_2M
#define K		EPM_SIZE_4K
#define SLOT		EPM_LEVEL_SIZE(4)
#define S		(3 * SLOT)	/* the slot most ops work in */
#define S2		(5 * SLOT)

#define RW		(EPM_ATTR_R | EPM_ATTR_W)
#define RX		(EPM_ATTR_R | EPM_ATTR_X)
#define RWX		(EPM_ATTR_R | EPM_ATTR_W | EPM_ATTR_X)
#define WB		EPM_ATTR_MT(EPM_MT_WB)

struct fi_op {
	const char *what;
	enum { FI_MAP, FI_UNMAP, FI_PROTECT } kind;
	u64 gpa;
	u64 size;
	u32 attr;		/* map: attr; protect: permissions */
	u64 max_page;
	unsigned int allocs;	/* table pairs it needs, at least */
};

static const struct fi_op fi_ops[] = {
	{ "map 4K in an empty slot: PDPT, PD, PT",
	  FI_MAP, S + K, 2 * K, RW | WB, G, 3 },
	{ "map 4K across a 512G boundary: PD, PT; PDPT, PD, PT",
	  FI_MAP, S + SLOT - 2 * K, 4 * K, RX | WB | EPM_ATTR_PINW, G, 5 },
	{ "map two 1G leaves",
	  FI_MAP, S + 2 * G, 2 * G, RWX | EPM_ATTR_MT(EPM_MT_UC), G, 0 },
	{ "map 2M leaves with a 4K head and tail: PD, PT, PT",
	  FI_MAP, S + 8 * G + M - 2 * K, 2 * M + 4 * K,
	  RW | EPM_ATTR_MT(EPM_MT_WC) | EPM_ATTR_IPAT, M, 3 },
	{ "map 4K, 2M, 1G, 2M, 4K in a new slot: PDPT, PD, PT, PD, PT",
	  FI_MAP, S2 + G - M - K, G + 2 * M + 2 * K,
	  RW | WB | EPM_ATTR_AD, G, 5 },
	{ "unmap inside a 1G leaf: split 1G, split 2M",
	  FI_UNMAP, S + 2 * G + M + K, K, 0, 0, 2 },
	{ "protect across a 1G boundary: split 2M; split 1G, split 2M",
	  FI_PROTECT, S + 3 * G - 2 * M + K, 4 * M, EPM_ATTR_R, 0, 3 },
	{ "map two more 1G leaves",
	  FI_MAP, S + 16 * G, 2 * G, RWX | EPM_ATTR_MT(EPM_MT_WT), G, 0 },
	{ "protect inside two 1G leaves: four splits",
	  FI_PROTECT, S + 16 * G + K, 2 * G - 2 * K, RX, 0, 4 },
	{ "map two more 1G leaves",
	  FI_MAP, S + 20 * G, 2 * G, RW | EPM_ATTR_MT(EPM_MT_WP), G, 0 },
	{ "unmap inside two 1G leaves: four splits",
	  FI_UNMAP, S + 20 * G + M + K, 2 * G - 2 * M - 2 * K, 0, 0, 4 },
	{ "unmap a whole PT and two 2M leaves: frees only",
	  FI_UNMAP, S + 8 * G, 3 * M, 0, 0, 0 },
	{ "map 4K over 8M across a 1G boundary: PD, 3 PTs; PD, 3 PTs",
	  FI_MAP, S + 24 * G - 2 * M - K, 4 * M + 2 * K, RW | WB, K, 8 },
	{ "protect 4K leaves across PTs and PDs: no splits",
	  FI_PROTECT, S + 24 * G - M, 2 * M, RWX, 0, 0 },
	{ "unmap the slot: frees only",
	  FI_UNMAP, S, SLOT, 0, 0, 0 },
	{ "unmap everything",
	  FI_UNMAP, 0, EPM_GPA_LIMIT, 0, 0, 0 },
};

struct fi_snap {
	struct md_list l;	/* gpa, kpte in hpa, epte in size, level */
	u64 nr_pairs;
	u64 mapped[3];
	u64 live;
};

static int fi_snap_visit(void *arg, const struct epm_entry *e)
{
	struct fi_snap *snap = arg;

	md_list_push(&snap->l, e->gpa, e->epte, e->kpte,
		     e->level | (e->leaf ? 0x100 : 0));
	return 0;
}

static void fi_snap_take(struct epm_pmap *pm, struct fi_snap *snap)
{
	snap->l.n = 0;
	snap->nr_pairs = pm->nr_pairs;
	memcpy(snap->mapped, pm->mapped, sizeof(snap->mapped));
	snap->live = epm_user_mem.live;
	epm_for_each(pm, 0, EPM_GPA_LIMIT, EPM_WALK_PRE, fi_snap_visit, snap);
}

/* Print the first difference; true when there is none. */
static bool fi_snap_same(const struct fi_snap *a, const struct fi_snap *b)
{
	size_t i;

	if (a->nr_pairs != b->nr_pairs || a->live != b->live ||
	    memcmp(a->mapped, b->mapped, sizeof(a->mapped))) {
		fprintf(stderr, "failinj: pairs %llu -> %llu, live %llu -> %llu, mapped changed %d\n",
			(unsigned long long)a->nr_pairs,
			(unsigned long long)b->nr_pairs,
			(unsigned long long)a->live,
			(unsigned long long)b->live,
			!!memcmp(a->mapped, b->mapped, sizeof(a->mapped)));
		return false;
	}
	for (i = 0; i < a->l.n || i < b->l.n; i++) {
		const struct md_ext *x = i < a->l.n ? &a->l.e[i] : NULL;
		const struct md_ext *y = i < b->l.n ? &b->l.e[i] : NULL;

		if (x && y && x->gpa == y->gpa && x->hpa == y->hpa &&
		    x->size == y->size && x->attr == y->attr)
			continue;
		fprintf(stderr, "failinj: entry %zu: was gpa 0x%llx level 0x%x kpte 0x%llx epte 0x%llx, now gpa 0x%llx level 0x%x kpte 0x%llx epte 0x%llx\n",
			i, x ? (unsigned long long)x->gpa : 0ULL,
			x ? x->attr : 0, x ? (unsigned long long)x->hpa : 0ULL,
			x ? (unsigned long long)x->size : 0ULL,
			y ? (unsigned long long)y->gpa : 0ULL,
			y ? y->attr : 0, y ? (unsigned long long)y->hpa : 0ULL,
			y ? (unsigned long long)y->size : 0ULL);
		return false;
	}
	return true;
}

struct fi_ctx {
	struct epm_pmap pm;
	struct model m;
	struct md_rel rel;
	const struct fi_op *op;
	u64 next;		/* the gpa the core must ask frames for */
	bool bad_frame_call;
};

static int fi_frame(void *arg, u64 gpa, u64 *hpa, u64 *contig)
{
	struct fi_ctx *c = arg;

	if (gpa != c->next)
		c->bad_frame_call = true;
	*hpa = gpa + FI_HPA;
	*contig = c->op->gpa + c->op->size - gpa;
	c->next = gpa + *contig;
	return 0;
}

static void fi_release(void *arg, u64 hpa, u64 size, u32 attr)
{
	struct fi_ctx *c = arg;

	md_rel_add(&c->rel, hpa, size, attr);
}

static int fi_run(struct fi_ctx *c)
{
	const struct fi_op *op = c->op;
	struct epm_map_req req = {
		.gpa = op->gpa, .size = op->size, .attr = op->attr,
		.max_page = op->max_page, .frame = fi_frame, .arg = c,
	};

	c->rel.l.n = 0;
	c->rel.uncoalesced = 0;
	c->next = op->gpa;
	switch (op->kind) {
	case FI_MAP:
		return epm_map(&c->pm, &req);
	case FI_UNMAP:
		return epm_unmap(&c->pm, op->gpa, op->size, fi_release, c);
	default:
		return epm_protect(&c->pm, op->gpa, op->size, op->attr);
	}
}

/* What a successful op did, into the model, and the tree against it. */
static void fi_apply(struct fi_ctx *c)
{
	const struct fi_op *op = c->op;
	char why[480];

	switch (op->kind) {
	case FI_MAP:
		UNIT_EXPECT(!c->bad_frame_call && c->next >= op->gpa + op->size);
		model_insert(&c->m, op->gpa, op->size, op->gpa + FI_HPA,
			     md_map_attr(op->attr, op->max_page));
		break;
	case FI_UNMAP:
		if (md_rel_match(&c->m, op->gpa, op->size, &c->rel, why,
				 sizeof(why))) {
			fprintf(stderr, "failinj: %s: %s\n", op->what, why);
			UNIT_EXPECT(!"released the frames the model maps");
		}
		model_remove(&c->m, op->gpa, op->size);
		break;
	default:
		model_protect(&c->m, op->gpa, op->size, op->attr);
		break;
	}
	if (md_compare(&c->pm, &c->m, why, sizeof(why))) {
		fprintf(stderr, "failinj: after %s: %s\n", op->what, why);
		UNIT_EXPECT(!"the tree matches the model");
	}
}

static unsigned long fi_points;

/* epm_pmap_init() fails cleanly when the root cannot be had. */
static void fi_init(struct fi_ctx *c, const struct epm_hw *hw)
{
	u64 live = epm_user_mem.live;

	epm_user_mem.attempts = 0;
	epm_user_mem.fail_at = 1;
	UNIT_EXPECT_EQ(-ENOMEM, epm_pmap_init(&c->pm, hw));
	epm_user_mem.fail_at = 0;
	UNIT_EXPECT(!c->pm.root);
	UNIT_EXPECT_EQ(live, epm_user_mem.live);
	epm_pmap_destroy(&c->pm, NULL, NULL);
	fi_points++;
	UNIT_EXPECT_EQ(0, epm_pmap_init(&c->pm, hw));
}

static void test_failinj_sequence(void)
{
	static const struct epm_hw hw = {
		.ept_2m = true, .ept_1g = true, .kpt_1g = true,
		.exec_only = true,
	};
	struct fi_snap before = { 0 }, after = { 0 };
	struct fi_ctx c = { 0 };
	unsigned long expect = 1;
	unsigned int n, i;
	u64 failed;
	int ret;

	fi_points = 0;
	fi_init(&c, &hw);
	for (i = 0; i < ARRAY_SIZE(fi_ops); i++) {
		c.op = &fi_ops[i];
		expect += c.op->allocs;
		for (n = 1; n <= 64; n++) {
			fi_snap_take(&c.pm, &before);
			c.bad_frame_call = false;
			failed = epm_user_mem.failed;
			epm_user_mem.attempts = 0;
			epm_user_mem.fail_at = n;
			ret = fi_run(&c);
			epm_user_mem.fail_at = 0;
			if (epm_user_mem.failed == failed)
				break;
			/* The n-th allocation failed: nothing may show. */
			fi_points++;
			fi_snap_take(&c.pm, &after);
			if (ret != -ENOMEM || !fi_snap_same(&before, &after) ||
			    c.rel.l.n || c.bad_frame_call) {
				fprintf(stderr, "failinj: %s, allocation %u failed: returned %d, %zu releases\n",
					c.op->what, n, ret, c.rel.l.n);
				UNIT_EXPECT(!"a failed op changes nothing");
				goto out;
			}
		}
		if (ret) {
			fprintf(stderr, "failinj: %s: returned %d with %u allocations allowed\n",
				c.op->what, ret, n - 1);
			UNIT_EXPECT(!"the op succeeds");
			goto out;
		}
		/* It made n - 1 attempts, each of them injected above. */
		UNIT_EXPECT_EQ(n - 1, epm_user_mem.attempts);
		if (n - 1 < c.op->allocs) {
			fprintf(stderr, "failinj: %s: %u allocations, want %u\n",
				c.op->what, n - 1, c.op->allocs);
			UNIT_EXPECT(!"the op allocates what it needs");
		}
		fi_apply(&c);
	}
	UNIT_EXPECT_EQ(1, c.pm.nr_pairs);
	UNIT_EXPECT(!c.m.bytes);
out:
	printf("# failinj: %lu injection points\n", fi_points);
	UNIT_EXPECT(fi_points >= expect);
	epm_pmap_destroy(&c.pm, NULL, NULL);
	model_free(&c.m);
	md_list_free(&c.rel.l);
	md_list_free(&before.l);
	md_list_free(&after.l);
}

void unit_failinj(void)
{
	UNIT_TEST(test_failinj_sequence);
}
