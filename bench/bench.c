// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark of the page-table core (src/pmap.c) in userspace, against the
 * targets of Documentation/design.md, "Benchmarks":
 *
 *   1. building KPT+EPT for 1 GiB at 4K against its floor: the same table
 *      pairs taken from epm_pair_alloc() (which zeroes them) and the same
 *      entries written in a plain loop;
 *   2. the same build against a naive map that walks from the root for
 *      every 4K page (and, for information, the same naive map with the
 *      pa->va step as cheap as the kernel's phys_to_virt());
 *   3. unmap-and-free of that mapping against its floor: the same entries
 *      read (a release must learn which frames it gives back), cleared,
 *      and the same pairs freed in a plain loop;
 *   4. 2M and 1G leaves for 1 GiB and 64 GiB (map, unmap, pairs used);
 *   5. table memory: pairs counted by the core, pairs the allocator holds
 *      and the pairs the shape of the tree calls for must agree.
 *
 * Everything is built with -fno-tree-vectorize: the kernel builds the core
 * without SIMD, so a floor made of vector stores would measure something
 * the module can never do.
 *
 * Every measurement runs BENCH_WARMUP times untimed and BENCH_REPS times
 * timed; the best run is reported. The core, its floors and the naive map
 * run interleaved in each repetition, so a ratio compares numbers taken
 * under the same conditions in the same process.
 *
 * Exits 0 when every correctness check holds, whether or not the targets
 * are met; 1 when a correctness check fails.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pmap.h"

#define BENCH_WARMUP	2
#define BENCH_REPS	7
#define BENCH_SAMPLES	(BENCH_WARMUP + BENCH_REPS)

#define SZ_1G		(1ULL << 30)
#define SZ_64G		(64ULL << 30)
/* Host-physical base of the one contiguous run: 1G aligned, below 2^52. */
#define BENCH_HPA	(1ULL << 40)
#define BENCH_ATTR	(EPM_ATTR_R | EPM_ATTR_W | EPM_ATTR_X | \
			 EPM_ATTR_MT(EPM_MT_WB))

#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))

static const struct epm_hw bench_hw = {
	.ept_2m = true,
	.ept_1g = true,
	.kpt_1g = true,
	.exec_only = false,
};

static void __attribute__((noreturn, format(printf, 1, 2)))
bench_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static inline u64 bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/*
 * Best of the timed samples (the warm-up ones are left out): on a shared
 * machine, the fastest run is the one least disturbed by others.
 */
static double bench_best_us(const u64 *samples)
{
	u64 best = samples[BENCH_WARMUP];
	unsigned int r;

	for (r = BENCH_WARMUP + 1; r < BENCH_SAMPLES; r++) {
		if (samples[r] < best)
			best = samples[r];
	}
	return best / 1000.0;
}

/* ------------------------------------------------------------------ */
/* Frame source and release callback                                   */

/* One physically contiguous run backing [gpa, gpa + size). */
struct bench_frames {
	u64 gpa;
	u64 size;
	u64 hpa;
	u64 calls;
};

static int bench_frame(void *arg, u64 gpa, u64 *hpa, u64 *contig)
{
	struct bench_frames *fr = arg;
	u64 off = gpa - fr->gpa;

	fr->calls++;
	if (gpa < fr->gpa || off >= fr->size)
		return -EINVAL;
	*hpa = fr->hpa + off;
	*contig = fr->size - off;
	return 0;
}

/* Counts what comes back and that it lies inside the run. */
struct bench_release {
	u64 lo, hi;
	u64 calls;
	u64 bytes;
	u64 outside;
};

static void bench_release(void *arg, u64 hpa, u64 size, u32 attr)
{
	struct bench_release *rel = arg;

	rel->calls++;
	rel->bytes += size;
	if (hpa < rel->lo || hpa + size > rel->hi || attr != BENCH_ATTR)
		rel->outside++;
}

/* ------------------------------------------------------------------ */
/* Checks                                                               */

/* Pairs a tree mapping [0, size) with leaves at @leaf_level must have. */
static u64 bench_pairs_formula(u64 size, unsigned int leaf_level)
{
	u64 pairs = 1;	/* root */
	unsigned int level;

	/* A table at @level holds 512 entries of EPM_LEVEL_SIZE(level). */
	for (level = leaf_level; level < EPM_LEVELS; level++)
		pairs += DIV_ROUND_UP(size, EPM_LEVEL_SIZE(level) * EPM_PTRS);
	return pairs;
}

struct bench_memrow {
	char name[48];
	u64 pairs;
	u64 live;
	u64 formula;
};

#define BENCH_MAX_MEMROWS	8

static struct bench_memrow bench_memrows[BENCH_MAX_MEMROWS];
static unsigned int bench_nr_memrows;

/*
 * Called right after a build, with nothing else holding pairs: the tree
 * must be consistent, translate like the run says, and the core, the
 * allocator and the formula must agree on the table memory.
 */
static void bench_verify(struct epm_pmap *pm, const char *name, u64 size,
			 unsigned int leaf_level)
{
	struct bench_memrow *row;
	struct epm_mismatch mm = { 0 };
	struct epm_xlate x;
	u64 bad, gpa, step;

	bad = epm_check(pm, &mm);
	if (bad)
		bench_fail("%s: epm_check: %llu mismatches, first why=%d level=%u gpa=0x%llx kpte=0x%llx epte=0x%llx",
			   name, (unsigned long long)bad, mm.why, mm.level,
			   (unsigned long long)mm.gpa,
			   (unsigned long long)mm.kpte,
			   (unsigned long long)mm.epte);
	if (pm->mapped[leaf_level - 1] != size)
		bench_fail("%s: %llu bytes mapped at level %u, want %llu",
			   name, (unsigned long long)pm->mapped[leaf_level - 1],
			   leaf_level, (unsigned long long)size);
	/* About 4096 translations spread over the range, plus the ends. */
	step = (size / 4096) | (EPM_SIZE_4K - 1);
	for (gpa = 0; gpa < size; gpa += step + 1) {
		int ret = epm_translate(pm, gpa, &x);

		if (ret || x.level != leaf_level || x.hpa != BENCH_HPA + gpa ||
		    x.kpt_hpa != x.hpa || x.attr != BENCH_ATTR)
			bench_fail("%s: gpa 0x%llx translates wrong (ret %d level %u hpa 0x%llx)",
				   name, (unsigned long long)gpa, ret, x.level,
				   (unsigned long long)x.hpa);
	}
	if (!epm_translate(pm, size, &x))
		bench_fail("%s: gpa 0x%llx past the end is mapped", name,
			   (unsigned long long)size);

	if (bench_nr_memrows == BENCH_MAX_MEMROWS)
		return;
	row = &bench_memrows[bench_nr_memrows++];
	snprintf(row->name, sizeof(row->name), "%s", name);
	row->pairs = pm->nr_pairs;
	row->live = epm_user_mem.live;
	row->formula = bench_pairs_formula(size, leaf_level);
}

/* After an unmap of everything: only the root left, all bytes released. */
static void bench_verify_empty(struct epm_pmap *pm, const char *name,
			       const struct bench_release *rel, u64 size)
{
	if (pm->nr_pairs != 1 || epm_user_mem.live != 1)
		bench_fail("%s: after unmap %llu pairs counted, %llu live, want 1",
			   name, (unsigned long long)pm->nr_pairs,
			   (unsigned long long)epm_user_mem.live);
	if (pm->mapped[0] || pm->mapped[1] || pm->mapped[2])
		bench_fail("%s: mapped counters not zero after unmap", name);
	if (rel->bytes != size || rel->outside)
		bench_fail("%s: released %llu bytes (%llu outside the run), want %llu",
			   name, (unsigned long long)rel->bytes,
			   (unsigned long long)rel->outside,
			   (unsigned long long)size);
}

/* ------------------------------------------------------------------ */
/* The core                                                             */

static void bench_core_map(struct epm_pmap *pm, const char *name, u64 size,
			   u64 max_page)
{
	struct bench_frames fr = { .gpa = 0, .size = size, .hpa = BENCH_HPA };
	struct epm_map_req req = {
		.gpa = 0,
		.size = size,
		.attr = BENCH_ATTR,
		.max_page = max_page,
		.frame = bench_frame,
		.arg = &fr,
	};
	int ret = epm_map(pm, &req);

	if (ret)
		bench_fail("%s: epm_map: %d", name, ret);
}

static void bench_core_unmap(struct epm_pmap *pm, const char *name, u64 size)
{
	struct bench_release rel = {
		.lo = BENCH_HPA,
		.hi = BENCH_HPA + size,
	};
	int ret = epm_unmap(pm, 0, size, bench_release, &rel);

	if (ret)
		bench_fail("%s: epm_unmap: %d", name, ret);
	bench_verify_empty(pm, name, &rel, size);
}

/* ------------------------------------------------------------------ */
/* The floor: the same pairs and entries, in plain loops                */

struct bench_floor {
	u64 *root;		/* allocated outside the timed part */
	u64 **pair;		/* PTs, then PDs, then PDPTs */
	u64 nr[3];		/* tables at levels 1, 2, 3 */
	u64 nr_pairs;		/* their sum */
};

static void bench_floor_init(struct bench_floor *fl, u64 size)
{
	unsigned int level;

	fl->nr_pairs = 0;
	for (level = 1; level < EPM_LEVELS; level++) {
		fl->nr[level - 1] = DIV_ROUND_UP(size, EPM_LEVEL_SIZE(level) *
						       EPM_PTRS);
		fl->nr_pairs += fl->nr[level - 1];
	}
	fl->pair = calloc(fl->nr_pairs, sizeof(*fl->pair));
	if (!fl->pair)
		bench_fail("floor: out of memory");
}

/* Entry @c of the tables one level above those that start at @first. */
static inline u64 *bench_floor_slot(struct bench_floor *fl, u64 first,
				    u64 n, u64 c)
{
	u64 *parent = first + n < fl->nr_pairs ?
		      fl->pair[first + n + c / EPM_PTRS] : fl->root;

	return &parent[c % EPM_PTRS];
}

static bool bench_table_empty(const u64 *pair)
{
	unsigned int i;

	for (i = 0; i < 2 * EPM_PTRS; i++) {
		if (pair[i])
			return false;
	}
	return true;
}

/* Allocate, write every 4K leaf, then link every table to its parent. */
static void bench_floor_build(struct bench_floor *fl, u64 kbits, u64 ebits)
{
	u64 hpa = BENCH_HPA, first = 0, i, j;
	unsigned int level;

	for (i = 0; i < fl->nr_pairs; i++) {
		fl->pair[i] = epm_pair_alloc();
		if (!fl->pair[i])
			bench_fail("floor: epm_pair_alloc");
	}
	for (i = 0; i < fl->nr[0]; i++) {
		u64 *pt = fl->pair[i];

		for (j = 0; j < EPM_PTRS; j++, hpa += EPM_SIZE_4K) {
			pt[j] = kbits | hpa;
			pt[EPM_PTRS + j] = ebits | hpa;
		}
	}
	for (level = 1; level < EPM_LEVELS; level++) {
		u64 n = fl->nr[level - 1];

		for (i = 0; i < n; i++) {
			u64 *slot = bench_floor_slot(fl, first, n, i);
			u64 pa = epm_pa(fl->pair[first + i]);

			slot[0] = pa | KPTE_TABLE;
			slot[EPM_PTRS] = (pa + EPM_PAGE_SIZE) | EPTE_TABLE;
		}
		first += n;
	}
}

/* What the floor read, kept so the reads are not optimised away. */
static volatile u64 bench_sink;

/* Read and clear every entry written above, free every pair allocated. */
static void bench_floor_unmap(struct bench_floor *fl)
{
	u64 first = 0, i, j;
	unsigned int level;

	u64 frames = 0;

	for (i = 0; i < fl->nr[0]; i++) {
		u64 *pt = fl->pair[i];

		for (j = 0; j < EPM_PTRS; j++) {
			frames += pt[j] & EPM_PTE_ADDR;
			pt[j] = 0;
			pt[EPM_PTRS + j] = 0;
		}
	}
	bench_sink = frames;
	for (level = 1; level < EPM_LEVELS; level++) {
		u64 n = fl->nr[level - 1];

		for (i = 0; i < n; i++) {
			u64 *slot = bench_floor_slot(fl, first, n, i);

			slot[0] = 0;
			slot[EPM_PTRS] = 0;
			epm_pair_free(fl->pair[first + i]);
		}
		first += n;
	}
}

/* The floor's tree, read back through the core's own checker. */
static void bench_floor_verify(struct bench_floor *fl, u64 size)
{
	struct epm_pmap pm = {
		.root = fl->root,
		.hw = bench_hw,
		.nr_pairs = fl->nr_pairs + 1,
		.mapped = { size, 0, 0 },
	};
	struct epm_mismatch mm = { 0 };

	if (epm_check(&pm, &mm))
		bench_fail("floor: not a valid tree (why=%d level=%u gpa=0x%llx)",
			   mm.why, mm.level, (unsigned long long)mm.gpa);
}

/* ------------------------------------------------------------------ */
/* The naive map: walk from the root for every 4K page                  */

/*
 * Table pa to va. The main naive map uses epm_va(), the environment's only
 * door, as the core does. The kernel's phys_to_virt() is one add, while
 * the userspace epm_va() is a checked call, paid three times per page by a
 * walk from the root; so the naive map also runs with a plain add (the
 * arena is linear, env_user.c), to show how much of its cost that is.
 */
static __attribute__((always_inline)) inline u64 *
bench_naive_va(u64 pa, bool linear, u64 delta)
{
	if (linear)
		return (u64 *)(uintptr_t)(pa + delta);
	return epm_va(pa);
}

/*
 * Akaros' pml_walk() shape: descend from the root to the PT entry that
 * maps @gpa, creating (zeroed) table pairs on the way, both halves linked.
 * Returns the KPT half of the PT entry, or NULL: out of memory, or a jumbo
 * in the way.
 */
static __attribute__((always_inline)) inline u64 *
bench_naive_walk(struct epm_pmap *pm, u64 gpa, bool linear, u64 delta)
{
	u64 *table = pm->root;
	unsigned int level;

	for (level = EPM_LEVELS; level > 1; level--) {
		u64 *kptep = &table[(gpa >> EPM_LEVEL_SHIFT(level)) &
				    (EPM_PTRS - 1)];
		u64 kpte = *kptep;

		if (!(kpte & KPTE_P)) {
			u64 *pair = epm_pair_alloc();
			u64 pa;

			if (!pair)
				return NULL;
			pm->nr_pairs++;
			pa = epm_pa(pair);
			kpte = epm_kpte_table(pa);
			epm_set_pte(kptep + EPM_PTRS, epm_epte_table(pa));
			epm_set_pte(kptep, kpte);
		} else if (kpte & KPTE_PS) {
			return NULL;
		}
		table = bench_naive_va(kpte & EPM_PTE_ADDR, linear, delta);
	}
	return &table[(gpa >> EPM_PAGE_SHIFT) & (EPM_PTRS - 1)];
}

/* Map [gpa, gpa + size) to [hpa, ...) at 4K, one walk per page. */
static __attribute__((always_inline)) inline int
bench_naive_map(struct epm_pmap *pm, u64 gpa, u64 size, u64 hpa, u32 attr,
		bool linear)
{
	u64 kbits = epm_kpte_leaf(1, 0, attr);
	u64 ebits = epm_epte_leaf(1, 0, attr);
	u64 delta = (u64)(uintptr_t)pm->root - epm_pa(pm->root);
	u64 off;

	for (off = 0; off < size; off += EPM_SIZE_4K) {
		u64 *kptep = bench_naive_walk(pm, gpa + off, linear, delta);

		if (!kptep)
			return -ENOMEM;
		if (*kptep & KPTE_P)
			return -EEXIST;
		epm_set_pte(kptep, kbits | (hpa + off));
		epm_set_pte(kptep + EPM_PTRS, ebits | (hpa + off));
		pm->mapped[0] += EPM_SIZE_4K;
	}
	return 0;
}

static __attribute__((noinline)) int
bench_naive_map_env(struct epm_pmap *pm, u64 gpa, u64 size, u64 hpa, u32 attr)
{
	return bench_naive_map(pm, gpa, size, hpa, attr, false);
}

static __attribute__((noinline)) int
bench_naive_map_linear(struct epm_pmap *pm, u64 gpa, u64 size, u64 hpa,
		       u32 attr)
{
	return bench_naive_map(pm, gpa, size, hpa, attr, true);
}

/* Time one naive map of 1 GiB, check it once, free it through the core. */
static u64 bench_naive_run(bool linear, bool verify, u64 core_pairs)
{
	const char *name = linear ? "4K 1GiB naive linear" : "4K 1GiB naive";
	struct epm_pmap pm;
	u64 t;
	int ret;

	if (epm_pmap_init(&pm, &bench_hw))
		bench_fail("epm_pmap_init");
	t = bench_now();
	if (linear)
		ret = bench_naive_map_linear(&pm, 0, SZ_1G, BENCH_HPA,
					     BENCH_ATTR);
	else
		ret = bench_naive_map_env(&pm, 0, SZ_1G, BENCH_HPA,
					  BENCH_ATTR);
	t = bench_now() - t;
	if (ret)
		bench_fail("%s: %d", name, ret);
	if (verify)
		bench_verify(&pm, name, SZ_1G, 1);
	if (pm.nr_pairs != core_pairs)
		bench_fail("%s: %llu pairs, core %llu", name,
			   (unsigned long long)pm.nr_pairs,
			   (unsigned long long)core_pairs);
	bench_core_unmap(&pm, name, SZ_1G);
	epm_pmap_destroy(&pm, NULL, NULL);
	return t;
}

/* ------------------------------------------------------------------ */
/* Report                                                               */

static void bench_header(void)
{
	printf("%-40s %12s %8s %8s %s\n", "name", "time", "ratio", "target",
	       "result");
}

static void bench_row_time(const char *name, double us)
{
	printf("%-40s %9.1f us\n", name, us);
}

/* @ratio must be <= @target (at_most) or >= @target. */
static void bench_row_ratio(const char *name, double us, double ratio,
			    double target, bool at_most)
{
	bool pass = at_most ? ratio <= target : ratio >= target;
	char tgt[16];

	snprintf(tgt, sizeof(tgt), "%s%.2fx", at_most ? "<=" : ">=", target);
	printf("%-40s %9.1f us %7.2fx %8s %s\n", name, us, ratio, tgt,
	       pass ? "PASS" : "MISS");
}

/* "model name" from /proc/cpuinfo, with family and model numbers. */
static void bench_cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256], name[128] = "unknown";
	int family = -1, model = -1;

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *val = strchr(line, ':');

			if (line[0] == '\n')
				break;	/* the first CPU is enough */
			if (!val)
				continue;
			val++;
			val += strspn(val, " \t");
			val[strcspn(val, "\n")] = '\0';
			if (!strncmp(line, "model name", 10))
				snprintf(name, sizeof(name), "%s", val);
			else if (!strncmp(line, "cpu family", 10))
				family = atoi(val);
			else if (!strncmp(line, "model\t", 6))
				model = atoi(val);
		}
		fclose(f);
	}
	snprintf(buf, len, "%s (family %d, model %d)", name, family, model);
}

/* ------------------------------------------------------------------ */
/* Measurements                                                         */

/* 1, 2, 3: 1 GiB at 4K: core, floor and naive, interleaved. */
static void bench_4k(void)
{
	u64 t_map[BENCH_SAMPLES], t_unmap[BENCH_SAMPLES];
	u64 t_fbuild[BENCH_SAMPLES], t_funmap[BENCH_SAMPLES];
	u64 t_naive[BENCH_SAMPLES], t_linear[BENCH_SAMPLES];
	u64 kbits = epm_kpte_leaf(1, 0, BENCH_ATTR);
	u64 ebits = epm_epte_leaf(1, 0, BENCH_ATTR);
	struct bench_floor fl;
	struct epm_pmap pm;
	u64 core_pairs = 0, t;
	double map, unmap, fbuild, funmap, naive, linear;
	unsigned int r;

	bench_floor_init(&fl, SZ_1G);
	for (r = 0; r < BENCH_SAMPLES; r++) {
		/* core: build, then unmap-and-free */
		if (epm_pmap_init(&pm, &bench_hw))
			bench_fail("epm_pmap_init");
		t = bench_now();
		bench_core_map(&pm, "4K 1GiB core", SZ_1G, EPM_SIZE_4K);
		t_map[r] = bench_now() - t;
		if (!r) {
			bench_verify(&pm, "4K 1GiB core", SZ_1G, 1);
			core_pairs = pm.nr_pairs;
		} else if (pm.nr_pairs != core_pairs) {
			bench_fail("4K 1GiB core: %llu pairs, first run %llu",
				   (unsigned long long)pm.nr_pairs,
				   (unsigned long long)core_pairs);
		}
		t = bench_now();
		bench_core_unmap(&pm, "4K 1GiB core", SZ_1G);
		t_unmap[r] = bench_now() - t;
		epm_pmap_destroy(&pm, NULL, NULL);

		/* floor: the same pairs and entries */
		fl.root = epm_pair_alloc();
		if (!fl.root)
			bench_fail("floor: epm_pair_alloc");
		if (fl.nr_pairs + 1 != core_pairs)
			bench_fail("floor: %llu pairs, core %llu",
				   (unsigned long long)fl.nr_pairs + 1,
				   (unsigned long long)core_pairs);
		t = bench_now();
		bench_floor_build(&fl, kbits, ebits);
		t_fbuild[r] = bench_now() - t;
		if (!r)
			bench_floor_verify(&fl, SZ_1G);
		t = bench_now();
		bench_floor_unmap(&fl);
		t_funmap[r] = bench_now() - t;
		if (!bench_table_empty(fl.root))
			bench_fail("floor: root not cleared");
		epm_pair_free(fl.root);

		/* naive: per-page walk from the root; freed by the core */
		t_naive[r] = bench_naive_run(false, !r, core_pairs);
		t_linear[r] = bench_naive_run(true, !r, core_pairs);
	}
	free(fl.pair);

	map = bench_best_us(t_map);
	unmap = bench_best_us(t_unmap);
	fbuild = bench_best_us(t_fbuild);
	funmap = bench_best_us(t_funmap);
	naive = bench_best_us(t_naive);
	linear = bench_best_us(t_linear);

	printf("\n1 GiB at 4K: %llu table pairs, %llu leaves x 2 halves\n",
	       (unsigned long long)core_pairs, SZ_1G / EPM_SIZE_4K);
	bench_header();
	bench_row_ratio("1. build: epm_map 4K vs floor", map, map / fbuild,
			1.5, true);
	bench_row_time("   floor: alloc+zero pairs, write PTEs", fbuild);
	bench_row_ratio("2. build: naive walk / epm_map", naive, naive / map,
			5.0, false);
	printf("%-40s %9.1f us %7.2fx %8s %s\n",
	       "   info: same, pa->va as a plain add", linear, linear / map,
	       "-", "info");
	bench_row_ratio("3. unmap+free: epm_unmap vs floor", unmap,
			unmap / funmap, 1.5, true);
	bench_row_time("   floor: clear PTEs, free pairs", funmap);
}

/* 4: jumbo leaves. */
static void bench_jumbo(const char *name, u64 size, u64 max_page,
			unsigned int leaf_level)
{
	u64 t_map[BENCH_SAMPLES], t_unmap[BENCH_SAMPLES];
	struct epm_pmap pm;
	u64 pairs = 0, t;
	unsigned int r;
	char label[64];

	for (r = 0; r < BENCH_SAMPLES; r++) {
		if (epm_pmap_init(&pm, &bench_hw))
			bench_fail("epm_pmap_init");
		t = bench_now();
		bench_core_map(&pm, name, size, max_page);
		t_map[r] = bench_now() - t;
		if (!r)
			bench_verify(&pm, name, size, leaf_level);
		pairs = pm.nr_pairs;
		t = bench_now();
		bench_core_unmap(&pm, name, size);
		t_unmap[r] = bench_now() - t;
		epm_pmap_destroy(&pm, NULL, NULL);
	}
	snprintf(label, sizeof(label), "4. %s map (%llu pairs)", name,
		 (unsigned long long)pairs);
	bench_row_time(label, bench_best_us(t_map));
	snprintf(label, sizeof(label), "4. %s unmap+free", name);
	bench_row_time(label, bench_best_us(t_unmap));
}

static bool bench_memory_report(void)
{
	bool all = true;
	unsigned int i;

	printf("\n5. table memory (pairs x 8 KiB; nothing per mapped page)\n");
	printf("%-24s %10s %10s %10s %12s %s\n", "build", "nr_pairs",
	       "allocator", "formula", "bytes", "result");
	for (i = 0; i < bench_nr_memrows; i++) {
		struct bench_memrow *row = &bench_memrows[i];
		bool pass = row->pairs == row->live &&
			    row->live == row->formula;

		printf("%-24s %10llu %10llu %10llu %12llu %s\n", row->name,
		       (unsigned long long)row->pairs,
		       (unsigned long long)row->live,
		       (unsigned long long)row->formula,
		       (unsigned long long)(row->live * EPM_PAIR_SIZE),
		       pass ? "PASS" : "MISS");
		all &= pass;
	}
	return all;
}

int main(void)
{
	char cpu[128];

	bench_cpu_model(cpu, sizeof(cpu));
	printf("ept-pmap core benchmark (userspace, src/pmap.c + tests/unit/env_user.c)\n");
	printf("cpu: %s\n", cpu);
	printf("times: best of %d runs after %d warm-up runs, CLOCK_MONOTONIC\n",
	       BENCH_REPS, BENCH_WARMUP);
	printf("ratios: core and reference measured interleaved in this same run\n");

	bench_4k();

	printf("\n4. jumbo leaves (no targets)\n");
	bench_header();
	bench_jumbo("2M 1GiB", SZ_1G, EPM_SIZE_2M, 2);
	bench_jumbo("1G 1GiB", SZ_1G, EPM_SIZE_1G, 3);
	bench_jumbo("2M 64GiB", SZ_64G, EPM_SIZE_2M, 2);
	bench_jumbo("1G 64GiB", SZ_64G, EPM_SIZE_1G, 3);

	bench_memory_report();
	printf("\nall correctness checks passed (a MISS above is a target, not a failure)\n");
	return 0;
}
