// SPDX-License-Identifier: GPL-2.0
/*
 * Random sequences of MAP, UNMAP, PROTECT and QUERY on /dev/ept-pmap,
 * each checked against a flat model: one entry per 4 KiB guest page of a
 * window, saying which user page backs it and with which permissions,
 * memory type and flags. After every operation a few QUERYs must agree
 * with the model down to the last bit of both leaf entries and the frame
 * (read from /proc/self/pagemap); every CHECK_EVERY operations CHECK must
 * find no mismatch and STATS must count what the model holds; every
 * DUMP_EVERY operations the leaves DUMP lists must cover exactly the
 * mapped pages. At the end, closing the file must release every pin.
 *
 * The seed is printed; EPM_SEED=<seed> replays a run, EPM_MODEL_OPS=<n>
 * changes the number of operations per variant (20000 each, 80000 in
 * all, 20 to 45 s under QEMU TCG). Run as root.
 */
#include <stdbool.h>
#include <sys/time.h>
#include <time.h>

#include "epm_test.h"
#include "kselftest_harness.h"

#define GPA_LIMIT	(1ULL << 48)
#define PTE_ADDR	0x000ffffffffff000ULL
#define LEVELS		4

#define R		EPM_PERM_R
#define W		EPM_PERM_W
#define X		EPM_PERM_X

#define CHECK_EVERY	50
#define DUMP_EVERY	1000
#define QUERIES		3	/* after each operation */
/*
 * Seconds one variant may take, so that the four stay within a minute:
 * under QEMU TCG 20000 ops take 4 to 12 s; a slower host stops early
 * (and says so) rather than running long.
 */
#define TIME_BUDGET	15.0

/* model page flags */
#define MP_MAPPED	0x01
#define MP_PINW		0x02	/* pinned writable: may gain W */
#define MP_IPAT		0x04
#define MP_A		0x08	/* born accessed (EPM_MAP_AD) */
#define MP_D		0x10	/* born dirty (EPM_MAP_AD with W) */

struct mpage {
	uint32_t upage;		/* user page behind it */
	uint8_t flags;		/* MP_* */
	uint8_t perm;		/* EPM_PERM_* */
	uint8_t memtype;	/* EPM_MEMTYPE_* */
};

enum op { OP_MAP, OP_UNMAP, OP_PROTECT, OP_QUERY, OP_NR };

static const char * const op_names[OP_NR] = {
	"map", "unmap", "protect", "query",
};

/* The model, the file it is compared with and what the run saw. */
struct model {
	int fd;
	struct epm_caps caps;
	uint64_t base;		/* gpa of the window's first page */
	unsigned int npages;	/* pages in the window */
	struct mpage *pages;	/* [npages] */
	uint64_t mapped;	/* pages mapped in the model */
	uint8_t *mem;		/* user memory to map from ... */
	unsigned int mem_pages;	/* ... this many pages of it */
	bool thp;		/* mem is THP backed, 2M aligned */
	uint64_t rng;
	long long pins_before;	/* pins held system-wide before open */
	unsigned int done[OP_NR];
	unsigned int failed[OP_NR];
	unsigned int leaves[4];	/* QUERYs that found a leaf, by level */
};

FIXTURE(model) {
	struct model m;
};

FIXTURE_VARIANT(model) {
	uint64_t base;		/* gpa of the window's first page */
	unsigned int npages;	/* pages in the window */
	unsigned int mem_pages;	/* user pages to map from */
	bool thp;		/* user memory in THPs: 2M leaves happen */
	unsigned int ops;
	uint64_t salt;		/* seed of this variant = seed ^ salt */
};

/* 1 MiB across the first GiB boundary, 4K memory: dense collisions */
FIXTURE_VARIANT_ADD(model, gib_edge_4k) {
	.base = SZ_1G - 128 * SZ_4K,
	.npages = 256,
	.mem_pages = 256,
	.ops = 20000,
	.salt = 0x1,
};

/* 8 MiB across the 2 GiB boundary, THP memory: 2M leaves and splits */
FIXTURE_VARIANT_ADD(model, thp_2m_leaves) {
	.base = 2 * SZ_1G - 2 * SZ_2M,
	.npages = 2048,
	.mem_pages = 2048,
	.thp = true,
	.ops = 20000,
	.salt = 0x2,
};

/* 1 MiB across the 512 GiB boundary (two PML4 entries) */
FIXTURE_VARIANT_ADD(model, pml4_edge_4k) {
	.base = 512 * SZ_1G - 128 * SZ_4K,
	.npages = 256,
	.mem_pages = 128,
	.ops = 20000,
	.salt = 0x3,
};

/* the last 4 MiB below 2^48, THP memory */
FIXTURE_VARIANT_ADD(model, top_of_space_thp) {
	.base = GPA_LIMIT - 2 * SZ_2M,
	.npages = 1024,
	.mem_pages = 1024,
	.thp = true,
	.ops = 20000,
	.salt = 0x4,
};

static uint64_t rnd(struct model *m)
{
	/* xorshift64* */
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 0x2545f4914f6cdd1dULL;
}

static unsigned int below(struct model *m, unsigned int n)
{
	return n ? rnd(m) % n : 0;
}

static uint64_t seed_of_run(void)
{
	const char *env = getenv("EPM_SEED");
	struct timeval tv;

	if (env && *env)
		return strtoull(env, NULL, 0);
	gettimeofday(&tv, NULL);
	return ((uint64_t)tv.tv_sec << 20) ^ tv.tv_usec ^ getpid();
}

FIXTURE_SETUP(model)
{
	struct model *m = &self->m;
	uint64_t seed = seed_of_run();

	m->fd = -1;
	m->base = variant->base;
	m->npages = variant->npages;
	m->mem_pages = variant->mem_pages;
	m->thp = variant->thp;
	m->rng = (seed ^ (variant->salt * 0x9e3779b97f4a7c15ULL)) | 1;
	TH_LOG("seed %llu (EPM_SEED=%llu replays), %u ops",
	       (unsigned long long)seed, (unsigned long long)seed,
	       variant->ops);
	m->pins_before = epm_pins_exact();
	ASSERT_LE(0, m->pins_before);
	m->fd = epm_open_dev();
	ASSERT_LE(0, m->fd) TH_LOG("open %s: %s", EPM_DEV, strerror(errno));
	ASSERT_EQ(0, ioctl(m->fd, EPM_IOC_CAPS, &m->caps));
	m->mem = epm_alloc(m->mem_pages * SZ_4K, m->thp ? SZ_2M : SZ_4K,
			   m->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	ASSERT_NE(NULL, m->mem);
	m->pages = calloc(m->npages, sizeof(*m->pages));
	ASSERT_NE(NULL, m->pages);
}

FIXTURE_TEARDOWN(model)
{
	if (self->m.fd >= 0)
		close(self->m.fd);
	free(self->m.pages);
}

/* A run length: mostly short, sometimes long, sometimes 2M-sized. */
static unsigned int pick_len(struct model *m, unsigned int max)
{
	unsigned int r = below(m, 100), n;

	if (r < 55)
		n = 1 + below(m, 8);
	else if (r < 85)
		n = 1 + below(m, 64);
	else if (r < 95)
		n = 512;
	else
		n = 1 + below(m, max);
	return n < max ? n : max;
}

/* Permissions for MAP or PROTECT; a few are invalid on purpose. */
static uint32_t pick_perm(struct model *m)
{
	static const uint32_t valid[] = { R, R | W, R | X, R | W | X };
	static const uint32_t odd[] = { 0, W, W | X, X };
	unsigned int r = below(m, 100);

	if (r < 95)
		return valid[below(m, 4)];
	return odd[below(m, 4)];
}

/* The errno an attribute check gives @perm, or 0. */
static int perm_errno(struct model *m, uint32_t perm)
{
	if (!perm || ((perm & W) && !(perm & R)))
		return EINVAL;
	if (perm == X && !(m->caps.flags & EPM_CAP_EPT_X_ONLY))
		return EOPNOTSUPP;
	return 0;
}

static bool any_mapped(struct model *m, unsigned int first, unsigned int n)
{
	unsigned int i;

	for (i = first; i < first + n; i++) {
		if (m->pages[i].flags & MP_MAPPED)
			return true;
	}
	return false;
}

/* The KPT memory type bits (PAT index) of @memtype. */
static uint64_t kpt_memtype(uint8_t memtype, bool large)
{
	uint64_t pat = large ? 1ULL << 12 : 1ULL << 7;

	switch (memtype) {
	case EPM_MEMTYPE_UC:
		return 0x18;		/* PCD | PWT */
	case EPM_MEMTYPE_WC:
		return 0x08;		/* PWT */
	case EPM_MEMTYPE_WT:
		return pat | 0x18;
	case EPM_MEMTYPE_WP:
		return pat | 0x08;
	default:
		return 0;		/* WB */
	}
}

/* The EPT memory type field of @memtype. */
static uint64_t ept_memtype(uint8_t memtype)
{
	static const uint64_t mt[] = {
		[EPM_MEMTYPE_WB] = 6, [EPM_MEMTYPE_UC] = 0,
		[EPM_MEMTYPE_WC] = 1, [EPM_MEMTYPE_WT] = 4,
		[EPM_MEMTYPE_WP] = 5,
	};

	return mt[memtype] << 3;
}

/* The two leaf entries a page of the model must show at @level. */
static void model_leaf(const struct mpage *p, unsigned int level,
		       uint64_t addr, uint64_t *kpte, uint64_t *epte)
{
	bool large = level > 1;
	uint64_t k = addr | 0x5, e = addr;	/* KPT: P | U */

	if (p->perm & R)
		e |= 0x1;
	if (p->perm & W) {
		k |= 0x2;
		e |= 0x2;
	}
	if (p->perm & X)
		e |= 0x4;
	else
		k |= 1ULL << 63;
	k |= kpt_memtype(p->memtype, large);
	e |= ept_memtype(p->memtype);
	if (large) {
		k |= 1ULL << 7;
		e |= 1ULL << 7;
	}
	if (p->flags & MP_IPAT)
		e |= 1ULL << 6;
	if (p->flags & MP_A) {
		k |= 1ULL << 5;
		e |= 1ULL << 8;
	}
	if (p->flags & MP_D) {
		k |= 1ULL << 6;
		e |= 1ULL << 9;
	}
	if (p->flags & MP_PINW) {
		k |= 1ULL << 9;
		e |= 1ULL << 11;
	}
	*kpte = k;
	*epte = e;
}

/* QUERY @page (+ @off) and compare everything with the model. */
static void verify_page(struct __test_metadata *_metadata, struct model *m,
			unsigned int page, unsigned int off)
{
	const struct mpage *p = &m->pages[page];
	uint64_t gpa = m->base + page * SZ_4K + off;
	uint64_t kleaf, eleaf, size, hpa;
	struct epm_query q;
	unsigned int l;

	ASSERT_EQ(0, epm_query_at(m->fd, gpa, &q))
		TH_LOG("QUERY 0x%llx: %s", (unsigned long long)gpa,
		       strerror(errno));
	if (!(p->flags & MP_MAPPED)) {
		ASSERT_EQ(0u, q.level)
			TH_LOG("gpa 0x%llx mapped, model says not",
			       (unsigned long long)gpa);
		ASSERT_EQ(0ULL, q.hpa);
		ASSERT_EQ(0u, q.perm);
		return;
	}
	ASSERT_NE(0u, q.level)
		TH_LOG("gpa 0x%llx unmapped, model says mapped",
		       (unsigned long long)gpa);
	ASSERT_GE(3u, q.level);
	m->leaves[q.level]++;
	size = SZ_4K << (9 * (q.level - 1));
	ASSERT_EQ(size, q.page_size);
	ASSERT_EQ(p->perm, q.perm) TH_LOG("gpa 0x%llx", (unsigned long long)gpa);
	ASSERT_EQ(p->perm | R, q.kpt_perm);
	ASSERT_EQ(p->memtype, q.memtype);
	ASSERT_EQ((p->flags & MP_IPAT) ? EPM_MAP_IPAT : 0u, q.map_flags);
	hpa = epm_pfn_of(m->mem + (uint64_t)p->upage * SZ_4K) << 12;
	ASSERT_NE(0ULL, hpa);
	ASSERT_EQ(hpa + off, q.hpa)
		TH_LOG("gpa 0x%llx: user page %u", (unsigned long long)gpa,
		       p->upage);
	for (l = LEVELS; l > q.level; l--) {
		uint64_t k = q.kpte[l - 1];

		ASSERT_EQ(0x7ULL, k & ~PTE_ADDR);
		ASSERT_EQ(((k & PTE_ADDR) + 0x1000) | 0x7, q.epte[l - 1]);
	}
	model_leaf(p, q.level, q.hpa & ~(size - 1), &kleaf, &eleaf);
	ASSERT_EQ(kleaf, q.kpte[q.level - 1])
		TH_LOG("gpa 0x%llx level %u KPT", (unsigned long long)gpa,
		       q.level);
	ASSERT_EQ(eleaf, q.epte[q.level - 1])
		TH_LOG("gpa 0x%llx level %u EPT", (unsigned long long)gpa,
		       q.level);
}

static void verify_counts(struct __test_metadata *_metadata, struct model *m)
{
	struct epm_stats s;

	ASSERT_EQ(0, epm_check_count(m->fd));
	ASSERT_EQ(0, epm_stats_of(m->fd, &s));
	ASSERT_EQ(m->mapped * SZ_4K, s.mapped_4k + s.mapped_2m + s.mapped_1g);
	ASSERT_EQ(m->mapped, s.pinned_pages);
}

/* The leaves DUMP lists cover the mapped pages of the model, no more. */
static void verify_dump(struct __test_metadata *_metadata, struct model *m)
{
	uint64_t end = m->base + m->npages * SZ_4K, covered = 0;
	struct epm_dump_entry buf[64];
	struct epm_dump d = { .buf = (uintptr_t)buf, .flags = EPM_DUMP_LEAVES };
	unsigned int i;

	do {
		d.count = 64;
		ASSERT_EQ(0, ioctl(m->fd, EPM_IOC_DUMP, &d));
		for (i = 0; i < d.count; i++) {
			uint64_t size = SZ_4K << (9 * (buf[i].level - 1));
			uint64_t g;

			ASSERT_EQ(1u, buf[i].leaf);
			ASSERT_LE(m->base, buf[i].gpa);
			ASSERT_GE(end, buf[i].gpa + size);
			for (g = buf[i].gpa; g < buf[i].gpa + size; g += SZ_4K) {
				unsigned int page = (g - m->base) / SZ_4K;

				ASSERT_TRUE(m->pages[page].flags & MP_MAPPED)
					TH_LOG("DUMP: 0x%llx mapped",
					       (unsigned long long)g);
			}
			covered += size / SZ_4K;
		}
	} while (d.cursor != EPM_DUMP_DONE);
	ASSERT_EQ(m->mapped, covered);
}

/*
 * Each operation picks its range (*first, *len: the pages the QUERYs after
 * it look at), does the call, checks its result against the model and
 * updates the model. Returns the errno it (rightly) failed with, or 0.
 */
static int op_map(struct __test_metadata *_metadata, struct model *m,
		  unsigned int *first, unsigned int *len)
{
	unsigned int umax = m->mem_pages;
	unsigned int n = pick_len(m, m->npages);
	uint32_t perm = pick_perm(m), flags = perm;
	uint8_t memtype = below(m, 5), max_page = below(m, 4);
	unsigned int upage, i;
	int want, ret, err;

	if (n > umax)
		n = umax;
	if (n == 512 && m->thp) {
		/* 2M aligned on both sides, so that a 2M leaf can be built */
		*first = below(m, m->npages / 512) * 512;
		upage = below(m, umax / 512) * 512;
	} else {
		*first = below(m, m->npages - n + 1);
		upage = below(m, umax - n + 1);
	}
	*len = n;
	if (below(m, 5) == 0)
		flags |= EPM_MAP_IPAT;
	if (below(m, 5) == 0)
		flags |= EPM_MAP_AD;
	want = perm_errno(m, perm);
	if (!want && any_mapped(m, *first, n))
		want = EEXIST;

	ret = epm_map_sized(m->fd, m->base + *first * SZ_4K, n * SZ_4K,
			    m->mem + (uint64_t)upage * SZ_4K, flags, memtype,
			    max_page);
	err = ret ? errno : 0;
	ASSERT_EQ(want, err)
		TH_LOG("MAP [%u, +%u) from %u flags 0x%x mt %u: %s", *first,
		       n, upage, flags, memtype, strerror(err));
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		struct mpage *p = &m->pages[*first + i];

		p->upage = upage + i;
		p->perm = perm;
		p->memtype = memtype;
		/* the model's memory is writable: MAP always pins it for write */
		p->flags = MP_MAPPED | MP_PINW;
		if (flags & EPM_MAP_IPAT)
			p->flags |= MP_IPAT;
		if (flags & EPM_MAP_AD)
			p->flags |= (perm & W) ? MP_A | MP_D : MP_A;
	}
	m->mapped += n;
	return 0;
}

/* A range in the window: random, or a run of mapped pages. */
static void pick_range(struct model *m, unsigned int *first,
		       unsigned int *n)
{
	unsigned int i;

	*n = pick_len(m, m->npages);
	*first = below(m, m->npages - *n + 1);
	if (below(m, 100) >= 60)
		return;
	for (i = 0; i < 8; i++) {
		if (m->pages[*first].flags & MP_MAPPED)
			break;
		*first = below(m, m->npages);
	}
	for (i = 0; i < *n && *first + i < m->npages; i++) {
		if (!(m->pages[*first + i].flags & MP_MAPPED))
			break;
	}
	*n = i ? i : 1;
}

static int op_unmap(struct __test_metadata *_metadata, struct model *m,
		    unsigned int *first, unsigned int *len)
{
	uint64_t end = m->base + m->npages * SZ_4K;
	uint64_t gpa, size;
	unsigned int i;

	pick_range(m, first, len);
	gpa = m->base + *first * SZ_4K;
	size = *len * SZ_4K;
	if (below(m, 50) == 0) {
		/* the whole window and the holes around it */
		gpa = m->base - 16 * SZ_4K;
		end = end + 16 * SZ_4K < GPA_LIMIT ? end + 16 * SZ_4K :
						     GPA_LIMIT;
		size = end - gpa;
		*first = 0;
		*len = m->npages;
	}
	ASSERT_EQ(0, epm_unmap_at(m->fd, gpa, size))
		TH_LOG("UNMAP [0x%llx, +0x%llx): %s", (unsigned long long)gpa,
		       (unsigned long long)size, strerror(errno));
	for (i = *first; i < *first + *len; i++) {
		if (m->pages[i].flags & MP_MAPPED)
			m->mapped--;
		m->pages[i].flags = 0;
	}
	return 0;
}

static int op_protect(struct __test_metadata *_metadata, struct model *m,
		      unsigned int *first, unsigned int *len)
{
	uint32_t perm = pick_perm(m);
	unsigned int i, end;
	int want, ret, err;

	pick_range(m, first, len);
	end = *first + *len;
	want = perm_errno(m, perm);
	for (i = *first; !want && i < end; i++) {
		if (!(m->pages[i].flags & MP_MAPPED))
			want = ENOENT;
	}
	for (i = *first; !want && (perm & W) && i < end; i++) {
		if (!(m->pages[i].flags & MP_PINW))
			want = EACCES;
	}
	ret = epm_protect_at(m->fd, m->base + *first * SZ_4K,
			     *len * SZ_4K, perm);
	err = ret ? errno : 0;
	ASSERT_EQ(want, err)
		TH_LOG("PROTECT [%u, +%u) perm 0x%x: %s", *first, *len, perm,
		       strerror(err));
	if (err)
		return err;
	for (i = *first; i < end; i++)
		m->pages[i].perm = perm;
	return 0;
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Operation number @i of the run, and the checks after it. */
static void step(struct __test_metadata *_metadata, struct model *m,
		 unsigned int i)
{
	unsigned int r = below(m, 100), first, n, k;
	enum op op = r < 40 ? OP_MAP : r < 65 ? OP_UNMAP :
		     r < 90 ? OP_PROTECT : OP_QUERY;
	struct epm_stats before, after;
	int err = 0;

	ASSERT_EQ(0, epm_stats_of(m->fd, &before));
	switch (op) {
	case OP_MAP:
		err = op_map(_metadata, m, &first, &n);
		break;
	case OP_UNMAP:
		err = op_unmap(_metadata, m, &first, &n);
		break;
	case OP_PROTECT:
		err = op_protect(_metadata, m, &first, &n);
		break;
	default:
		first = below(m, m->npages);
		n = 1;
		break;
	}
	m->done[op]++;
	if (err || op == OP_QUERY) {
		/* nothing may have changed, not even a counter */
		m->failed[op] += !!err;
		ASSERT_EQ(0, epm_stats_of(m->fd, &after));
		ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)))
			TH_LOG("op %u (%s) failed with %s but changed STATS",
			       i, op_names[op], strerror(err));
	}
	verify_page(_metadata, m, first, below(m, SZ_4K));
	verify_page(_metadata, m, first + n - 1, below(m, SZ_4K));
	for (k = 2; k < QUERIES; k++)
		verify_page(_metadata, m, below(m, m->npages), below(m, SZ_4K));
	if (i % CHECK_EVERY == CHECK_EVERY - 1)
		verify_counts(_metadata, m);
	if (i % DUMP_EVERY == DUMP_EVERY - 1)
		verify_dump(_metadata, m);
}

TEST_F_TIMEOUT(model, random_ops_agree_with_the_model, 300)
{
	struct model *m = &self->m;
	const char *env = getenv("EPM_MODEL_OPS");
	unsigned int ops = env ? strtoul(env, NULL, 0) : variant->ops;
	struct timespec t0, t1;
	unsigned int i, k;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < ops; i++) {
		if (i % 1000 == 999) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (elapsed(&t0, &t1) > TIME_BUDGET) {
				TH_LOG("time budget spent after %u ops", i);
				break;
			}
		}
		step(_metadata, m, i);
	}
	verify_counts(_metadata, m);
	verify_dump(_metadata, m);
	for (k = 0; k < m->npages; k++)
		verify_page(_metadata, m, k, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("%u ops in %.1f s: map %u (%u failed), unmap %u, protect %u (%u failed), query %u; QUERYs found 4K %u, 2M %u, 1G %u",
	       i, elapsed(&t0, &t1), m->done[OP_MAP], m->failed[OP_MAP],
	       m->done[OP_UNMAP], m->done[OP_PROTECT], m->failed[OP_PROTECT],
	       m->done[OP_QUERY], m->leaves[1], m->leaves[2], m->leaves[3]);

	/* closing releases every pin the file held */
	ASSERT_EQ(0, close(m->fd));
	m->fd = -1;
	ASSERT_EQ(m->pins_before, epm_pins_exact());
}

/* Without the device, one line says so instead of every test failing. */
int main(int argc, char **argv)
{
	if (access(EPM_DEV, F_OK)) {
		ksft_print_header();
		ksft_exit_skip("no %s: load ept_pmap first\n", EPM_DEV);
	}
	return test_harness_run(argc, argv);
}
