// SPDX-License-Identifier: GPL-2.0
/*
 * ept-pmap guest memory: which leaf sizes THP and hugetlbfs memory get,
 * that every pin is dropped (UNMAP, close, exit, SIGKILL), RLIMIT_MEMLOCK
 * accounting, what unprivileged callers see, the one-process rule for MAP,
 * concurrent callers, module lifetime and a 1 GiB map.
 *
 * "Pins" are the system-wide nr_foll_pin_acquired - nr_foll_pin_released
 * from /proc/vmstat, folded exactly (stat_refresh) before every reading, so
 * tests need root and must not run beside other pinning work. Sizes and
 * counts are exact: a test that cannot get the memory it needs (THP that
 * did not form, no reserved hugetlb pages) says SKIP and why.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>

/* the harness is written for -Wall: its SIGALRM handler has an unused arg */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "epm_test.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT		26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB		(21 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB		(30 << MAP_HUGE_SHIFT)
#endif

#define SZ_64K			0x10000ULL
#define SZ_1M			0x100000ULL
#define PTE_ADDR		0x000ffffffffff000ULL	/* bits 51:12 */
#define PAGES(bytes)		((bytes) / SZ_4K)
#define RW			(EPM_PERM_R | EPM_PERM_W)
#define MODULE_SYSFS		"/sys/module/ept_pmap"

/* Bytes one leaf maps at @level: 4K at 1, 2M at 2, 1G at 3. */
static uint64_t level_size(unsigned int level)
{
	return 1ULL << (12 + 9 * (level - 1));
}

/* Plain 4 KiB pages: THP is kept off the range, whatever the system says. */
static char *alloc_4k(size_t size)
{
	return epm_alloc(size, SZ_4K, MADV_NOHUGEPAGE);
}

/* 2 MiB aligned, asking for THP. */
static char *alloc_thp(size_t size)
{
	return epm_alloc(size, SZ_2M, MADV_HUGEPAGE);
}

/* hugetlbfs memory of the page size in @huge_flag, touched; NULL if none. */
static char *alloc_hugetlb(size_t size, int huge_flag)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | huge_flag,
		       -1, 0);
	size_t off;

	if (p == MAP_FAILED)
		return NULL;
	/* one write per 2 MiB faults every huge page in */
	for (off = 0; off < size; off += SZ_2M)
		p[off] = 0x5a;
	return p;
}

/* Page frame numbers of [p, p + size) from pagemap; 0 where none. */
static int read_pfns(const void *p, size_t size, uint64_t *pfn)
{
	size_t n = PAGES(size), i;
	off_t off = (uintptr_t)p / SZ_4K * sizeof(uint64_t);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -1;
	got = pread(fd, pfn, n * sizeof(*pfn), off);
	close(fd);
	if (got != (ssize_t)(n * sizeof(*pfn)))
		return -1;
	for (i = 0; i < n; i++)
		pfn[i] = (pfn[i] >> 63) ? pfn[i] & ((1ULL << 55) - 1) : 0;
	return 0;
}

/*
 * How many 2 MiB pieces of [buf, buf + size) are not backed by one
 * physically contiguous, 2 MiB aligned run (a THP); -1 if pagemap fails.
 */
static long thp_missing(const void *buf, size_t size)
{
	size_t n = PAGES(size), i, j;
	uint64_t *pfn = calloc(n, sizeof(*pfn));
	long missing = 0;

	if (!pfn || read_pfns(buf, size, pfn)) {
		free(pfn);
		return -1;
	}
	for (i = 0; i < n; i += 512) {
		for (j = 0; j < 512; j++) {
			if (!pfn[i] || pfn[i] % 512 || pfn[i + j] != pfn[i] + j) {
				missing++;
				break;
			}
		}
	}
	free(pfn);
	return missing;
}

static const char *thp_setting(void)
{
	static char buf[128];
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled",
		      O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return "unknown";
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/* VmPin of this process in kB (where MAP's pins show), or -1. */
static long vmpin_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmPin: %ld", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static long module_refcnt(void)
{
	FILE *f = fopen(MODULE_SYSFS "/refcnt", "r");
	long n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A whole dump (@flags: EPM_DUMP_*), in large batches. */
static int snap_take(int fd, uint32_t flags, struct epm_snap *s)
{
	const uint32_t room = 4096;
	struct epm_dump d = { .flags = flags };
	struct epm_dump_entry *e;

	s->e = NULL;
	s->n = 0;
	do {
		e = realloc(s->e, (s->n + room) * sizeof(*e));
		if (!e)
			return -1;
		s->e = e;
		d.buf = (uintptr_t)(s->e + s->n);
		d.count = room;
		if (ioctl(fd, EPM_IOC_DUMP, &d))
			return -1;
		s->n += d.count;
	} while (d.cursor != EPM_DUMP_DONE);
	return 0;
}

/*
 * -1 when the leaves in @s are exactly [gpa, gpa + size) in @level steps,
 * in order; else the index of the first leaf that is not (s->n: too few).
 */
static long leaves_tile(const struct epm_snap *s, uint64_t gpa, uint64_t size,
			unsigned int level)
{
	uint64_t next = gpa, end = gpa + size;
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (!s->e[i].leaf)
			continue;
		if (s->e[i].level != level || s->e[i].gpa != next ||
		    next >= end)
			return i;
		next += level_size(level);
	}
	return next == end ? -1 : (long)s->n;
}

/* STATS as a mapping of the given bytes per leaf size must show, and CHECK. */
static void assert_stats(struct __test_metadata *_metadata, int fd,
			 uint64_t pairs, uint64_t m4k, uint64_t m2m,
			 uint64_t m1g)
{
	struct epm_stats s;

	ASSERT_EQ(0, epm_stats_of(fd, &s));
	EXPECT_EQ(pairs, s.table_pairs);
	EXPECT_EQ(pairs * 8192, s.table_bytes);
	EXPECT_EQ(m4k, s.mapped_4k);
	EXPECT_EQ(m2m, s.mapped_2m);
	EXPECT_EQ(m1g, s.mapped_1g);
	EXPECT_EQ(PAGES(m4k + m2m + m1g), s.pinned_pages);
	ASSERT_EQ(0, epm_check_count(fd));
	ASSERT_TRUE(_metadata->passed);
}

/*
 * Run @fn in a child process, where the harness checks work as usual; its
 * wait status comes back: 0 when every check passed.
 */
typedef void (*child_fn)(struct __test_metadata *_metadata, void *arg);

static int in_child(struct __test_metadata *_metadata, child_fn fn, void *arg)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		fn(_metadata, arg);
		fflush(stderr);
		_exit(_metadata->passed ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

FIXTURE(mem) {
	int fd;
	long long pins;		/* pins held when the test began */
	long lck;		/* VmPin (kB) when the test began */
};

FIXTURE_SETUP(mem)
{
	self->fd = -1;
	self->pins = epm_pins_exact();
	ASSERT_LE(0, self->pins)
		TH_LOG("no pin counters (/proc/vmstat, stat_refresh): %s",
		       strerror(errno));
	self->lck = vmpin_kb();
	ASSERT_LE(0, self->lck);
	self->fd = epm_open_dev();
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s", EPM_DEV, strerror(errno));
}

FIXTURE_TEARDOWN(mem)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Pins held now, relative to the start of the test. */
#define ASSERT_PINS(pages) \
	ASSERT_EQ(self->pins + (long long)(pages), epm_pins_exact())

/* VmPin now, relative to the start of the test. */
#define ASSERT_LOCKED(bytes) \
	ASSERT_EQ(self->lck + (long)((bytes) / 1024), vmpin_kb())

/* ---- leaf sizes from THP and hugetlbfs ---------------------------------- */

#define THP_SIZE	(8 * SZ_2M)

/*
 * NULL when every 2 MiB piece of [buf, buf + size) is a THP, else why not
 * (the tests below SKIP with it).
 */
static const char *thp_absent(const void *buf, size_t size)
{
	static char why[256];
	long missing = thp_missing(buf, size);

	if (!missing)
		return NULL;
	if (missing < 0)
		snprintf(why, sizeof(why), "pagemap: %s", strerror(errno));
	else
		snprintf(why, sizeof(why),
			 "THP did not form for %ld of %zu 2M pieces (transparent_hugepage/enabled: %s)",
			 missing, (size_t)(size / SZ_2M), thp_setting());
	return why;
}

TEST_F(mem, thp_aligned_gpa_maps_2m_leaves)
{
	const uint64_t gpa = SZ_1G;
	char *buf = alloc_thp(THP_SIZE);
	struct epm_query q;
	struct epm_snap s;
	long bad;
	const char *why;

	ASSERT_NE(NULL, buf);
	why = thp_absent(buf, THP_SIZE);
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, THP_SIZE, buf, RW));

	ASSERT_EQ(0, snap_take(self->fd, EPM_DUMP_LEAVES, &s));
	EXPECT_EQ(THP_SIZE / SZ_2M, s.n);
	bad = leaves_tile(&s, gpa, THP_SIZE, 2);
	ASSERT_EQ(-1, bad) TH_LOG("leaf %ld of %zu is not the next 2M leaf",
				  bad, s.n);
	epm_snap_free(&s);
	/* root, PDPT, PD */
	assert_stats(_metadata, self->fd, 3, 0, THP_SIZE, 0);
	ASSERT_PINS(PAGES(THP_SIZE));
	ASSERT_LOCKED(THP_SIZE);

	ASSERT_EQ(0, epm_query_at(self->fd, gpa + 3 * SZ_2M + 0x5678, &q));
	EXPECT_EQ(2u, q.level);
	EXPECT_EQ(SZ_2M, q.page_size);
	EXPECT_EQ(epm_pfn_of(buf + 3 * SZ_2M + 0x5000) * SZ_4K + 0x678, q.hpa);

	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, THP_SIZE));
	assert_stats(_metadata, self->fd, 1, 0, 0, 0);
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

TEST_F(mem, thp_gpa_off_by_4k_maps_4k_leaves)
{
	const uint64_t gpa = SZ_1G + SZ_4K;
	char *buf = alloc_thp(THP_SIZE);
	struct epm_snap s;
	long bad;
	const char *why;

	ASSERT_NE(NULL, buf);
	why = thp_absent(buf, THP_SIZE);
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, THP_SIZE, buf, RW));

	ASSERT_EQ(0, snap_take(self->fd, EPM_DUMP_LEAVES, &s));
	EXPECT_EQ(PAGES(THP_SIZE), s.n);
	bad = leaves_tile(&s, gpa, THP_SIZE, 1);
	ASSERT_EQ(-1, bad) TH_LOG("leaf %ld of %zu is not the next 4K leaf",
				  bad, s.n);
	epm_snap_free(&s);
	/* root, PDPT, PD and the 9 PTs that [1G + 4K, 1G + 16M + 4K) touches */
	assert_stats(_metadata, self->fd, 3 + 9, THP_SIZE, 0, 0);
	ASSERT_PINS(PAGES(THP_SIZE));

	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, THP_SIZE));
	assert_stats(_metadata, self->fd, 1, 0, 0, 0);
	ASSERT_PINS(0);
}

TEST_F(mem, thp_max_page_4k_maps_4k_leaves)
{
	const uint64_t gpa = SZ_1G;
	char *buf = alloc_thp(THP_SIZE);
	struct epm_snap s;
	long bad;
	const char *why;

	ASSERT_NE(NULL, buf);
	why = thp_absent(buf, THP_SIZE);
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, epm_map_sized(self->fd, gpa, THP_SIZE, buf, RW,
				   EPM_MEMTYPE_WB, EPM_PAGE_4K));

	ASSERT_EQ(0, snap_take(self->fd, EPM_DUMP_LEAVES, &s));
	EXPECT_EQ(PAGES(THP_SIZE), s.n);
	bad = leaves_tile(&s, gpa, THP_SIZE, 1);
	ASSERT_EQ(-1, bad) TH_LOG("leaf %ld of %zu is not the next 4K leaf",
				  bad, s.n);
	epm_snap_free(&s);
	assert_stats(_metadata, self->fd, 3 + 8, THP_SIZE, 0, 0);
	ASSERT_PINS(PAGES(THP_SIZE));

	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, THP_SIZE));
	ASSERT_PINS(0);
}

TEST_F(mem, hugetlb_2m_maps_2m_leaves)
{
	const uint64_t size = 4 * SZ_2M, gpa = 2 * SZ_1G + 6 * SZ_2M;
	char *buf = alloc_hugetlb(size, MAP_HUGE_2MB);
	struct epm_snap s;
	long bad;

	if (!buf)
		SKIP(return, "no 4 free 2M hugetlb pages (%s): boot with %s",
		     strerror(errno), "hugepagesz=2M hugepages=16");
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, size, buf, RW));

	ASSERT_EQ(0, snap_take(self->fd, EPM_DUMP_LEAVES, &s));
	EXPECT_EQ(4u, s.n);
	bad = leaves_tile(&s, gpa, size, 2);
	ASSERT_EQ(-1, bad) TH_LOG("leaf %ld of %zu is not the next 2M leaf",
				  bad, s.n);
	epm_snap_free(&s);
	assert_stats(_metadata, self->fd, 3, 0, size, 0);
	ASSERT_PINS(PAGES(size));
	ASSERT_LOCKED(size);

	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, size));
	assert_stats(_metadata, self->fd, 1, 0, 0, 0);
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

/*
 * 1 GiB of hugetlbfs memory for a 1G leaf; NULL with *why set when the
 * CPU cannot build 1G leaves or no 1G hugetlb page is free.
 */
static char *alloc_1g_leaf_memory(int fd, const char **why)
{
	static char reason[256];
	struct epm_caps caps = { 0 };
	char *buf;

	*why = reason;
	if (ioctl(fd, EPM_IOC_CAPS, &caps)) {
		snprintf(reason, sizeof(reason), "CAPS: %s", strerror(errno));
		return NULL;
	}
	if (!(caps.map_sizes & (1u << EPM_PAGE_1G))) {
		snprintf(reason, sizeof(reason),
			 "CPU cannot build 1G leaves (map_sizes 0x%x)",
			 caps.map_sizes);
		return NULL;
	}
	buf = alloc_hugetlb(SZ_1G, MAP_HUGE_1GB);
	if (!buf)
		snprintf(reason, sizeof(reason),
			 "no free 1G hugetlb page (%s): boot with hugepagesz=1G hugepages=1 and 3 GiB",
			 strerror(errno));
	return buf;
}

TEST_F_TIMEOUT(mem, hugetlb_1g_maps_one_1g_leaf, 120)
{
	const uint64_t gpa = 3 * SZ_1G;
	struct epm_query q;
	struct epm_snap s;
	char *buf;
	const char *why;

	buf = alloc_1g_leaf_memory(self->fd, &why);
	if (!buf)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, SZ_1G, buf, RW));

	ASSERT_EQ(0, snap_take(self->fd, EPM_DUMP_LEAVES, &s));
	ASSERT_EQ(1u, s.n);
	EXPECT_EQ(3u, s.e[0].level);
	EXPECT_EQ(gpa, s.e[0].gpa);
	EXPECT_EQ(1u, s.e[0].leaf);
	epm_snap_free(&s);
	/* root, PDPT */
	assert_stats(_metadata, self->fd, 2, 0, 0, SZ_1G);
	ASSERT_PINS(PAGES(SZ_1G));
	ASSERT_LOCKED(SZ_1G);

	ASSERT_EQ(0, epm_query_at(self->fd, gpa + 0x12345678, &q));
	EXPECT_EQ(3u, q.level);
	EXPECT_EQ(SZ_1G, q.page_size);
	EXPECT_EQ(epm_pfn_of(buf + 0x12345000) * SZ_4K + 0x678, q.hpa);
	EXPECT_EQ(0x12345678u, q.hpa % SZ_1G);

	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, SZ_1G));
	assert_stats(_metadata, self->fd, 1, 0, 0, 0);
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

TEST_F_TIMEOUT(mem, hugetlb_1g_max_page_2m_maps_2m_leaves, 120)
{
	const uint64_t gpa = 3 * SZ_1G;
	struct epm_snap s;
	char *buf;
	long bad;
	const char *why;

	buf = alloc_1g_leaf_memory(self->fd, &why);
	if (!buf)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, epm_map_sized(self->fd, gpa, SZ_1G, buf, RW,
				   EPM_MEMTYPE_WB, EPM_PAGE_2M));

	ASSERT_EQ(0, snap_take(self->fd, EPM_DUMP_LEAVES, &s));
	EXPECT_EQ(512u, s.n);
	bad = leaves_tile(&s, gpa, SZ_1G, 2);
	ASSERT_EQ(-1, bad) TH_LOG("leaf %ld of %zu is not the next 2M leaf",
				  bad, s.n);
	epm_snap_free(&s);
	assert_stats(_metadata, self->fd, 3, 0, SZ_1G, 0);
	ASSERT_PINS(PAGES(SZ_1G));

	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, SZ_1G));
	ASSERT_PINS(0);
}

TEST_F_TIMEOUT(mem, hugetlb_1g_unmap_4k_unpins_one_page, 120)
{
	const uint64_t gpa = 3 * SZ_1G, hole = 5 * SZ_2M + 3 * SZ_4K;
	struct epm_query q;
	char *buf;
	const char *why;

	buf = alloc_1g_leaf_memory(self->fd, &why);
	if (!buf)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, SZ_1G, buf, RW));
	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa + hole, SZ_4K));

	/* the 1G leaf split to 511 2M leaves and 511 4K: root, PDPT, PD, PT */
	assert_stats(_metadata, self->fd, 4, 511 * SZ_4K, 511 * SZ_2M, 0);
	ASSERT_PINS(PAGES(SZ_1G) - 1);
	ASSERT_LOCKED(SZ_1G - SZ_4K);
	ASSERT_EQ(0, epm_query_at(self->fd, gpa + hole, &q));
	EXPECT_EQ(0u, q.level);
	ASSERT_EQ(0, epm_query_at(self->fd, gpa + hole + SZ_4K, &q));
	EXPECT_EQ(1u, q.level);
	EXPECT_EQ(epm_pfn_of(buf + hole + SZ_4K) * SZ_4K, q.hpa);

	/* the page given back is still ours and usable */
	buf[hole] = 0x33;
	EXPECT_EQ(0x33, buf[hole]);

	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, SZ_1G));
	assert_stats(_metadata, self->fd, 1, 0, 0, 0);
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

TEST_F(mem, file_backed_memory_eopnotsupp)
{
	int mfd = memfd_create("epm-mem-test", MFD_CLOEXEC);
	struct epm_snap s;
	char *shared, *private;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, SZ_64K));
	shared = mmap(NULL, SZ_64K, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	private = mmap(NULL, SZ_64K, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		       mfd, 0);
	ASSERT_NE(MAP_FAILED, shared);
	ASSERT_NE(MAP_FAILED, private);
	memset(shared, 1, SZ_64K);
	memset(private, 2, SZ_64K);

	ASSERT_EQ(-1, epm_map_at(self->fd, 0, SZ_64K, shared, RW));
	ASSERT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(-1, epm_map_at(self->fd, 0, SZ_64K, private, EPM_PERM_R));
	ASSERT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(0, snap_take(self->fd, 0, &s));
	EXPECT_EQ(0u, s.n);
	epm_snap_free(&s);
	assert_stats(_metadata, self->fd, 1, 0, 0, 0);
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
	close(mfd);
}

/*
 * The anonymous-or-hugetlbfs rule holds for the pages MAP pins, not only
 * for what the range looked like before: here another thread keeps
 * replacing the memory with a shared memfd mapping and back, and no MAP
 * may ever come out mapping one of the memfd's pages.
 */
#define RACE_PAGES	16

struct flipper {
	char *at;
	int mfd;
	atomic_int *stop;
	unsigned long flips;
	char err[256];
};

static void *flipper_run(void *arg)
{
	struct flipper *f = arg;
	const size_t len = RACE_PAGES * SZ_4K;
	void *p;

	while (!*f->stop) {
		p = mmap(f->at, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, f->mfd, 0);
		if (p == MAP_FAILED)
			break;
		p = mmap(f->at, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == MAP_FAILED)
			break;
		memset(f->at, 0x5a, len);
		f->flips++;
	}
	if (!*f->stop)
		snprintf(f->err, sizeof(f->err), "mmap: %s", strerror(errno));
	return NULL;
}

TEST_F_TIMEOUT(mem, map_racing_file_mmap_pins_no_file_page, 60)
{
	const size_t len = RACE_PAGES * SZ_4K;
	unsigned long mapped = 0, refused = 0, file_pages = 0;
	uint64_t file_pfn[RACE_PAGES];
	struct flipper f = { 0 };
	atomic_int stop = 0;
	struct epm_query q;
	char *file_view;
	double end;
	pthread_t tid;
	int i, j;

	f.mfd = memfd_create("epm-mem-race", MFD_CLOEXEC);
	ASSERT_LE(0, f.mfd);
	ASSERT_EQ(0, ftruncate(f.mfd, len));
	/* a second, stable view of the memfd tells its frames */
	file_view = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 f.mfd, 0);
	ASSERT_NE(MAP_FAILED, file_view);
	memset(file_view, 0x33, len);
	ASSERT_EQ(0, read_pfns(file_view, len, file_pfn));
	f.at = alloc_4k(len);
	ASSERT_NE(NULL, f.at);
	f.stop = &stop;
	ASSERT_EQ(0, pthread_create(&tid, NULL, flipper_run, &f));

	for (end = now_s() + 3; now_s() < end && !f.err[0];) {
		if (epm_map_at(self->fd, 0, len, f.at, RW)) {
			if (errno != EOPNOTSUPP && errno != EFAULT)
				break;
			refused++;
			continue;
		}
		mapped++;
		for (i = 0; i < RACE_PAGES; i++) {
			if (epm_query_at(self->fd, i * SZ_4K, &q))
				break;
			for (j = 0; j < RACE_PAGES; j++)
				file_pages += q.hpa / SZ_4K == file_pfn[j];
		}
		if (epm_unmap_at(self->fd, 0, len))
			break;
	}
	stop = 1;
	pthread_join(tid, NULL);

	ASSERT_LT(end, now_s()) TH_LOG("stopped early: %s",
				       f.err[0] ? f.err : strerror(errno));
	TH_LOG("%lu flips; MAP: %lu mapped, %lu refused", f.flips, mapped,
	       refused);
	ASSERT_EQ(0ul, file_pages)
		TH_LOG("MAP pinned memfd (shmem) pages: the VMA check and the pin race");
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

/* ---- unpinning ------------------------------------------------------------ */

static void fill(uint32_t *p, size_t bytes, uint32_t seed)
{
	size_t i;

	for (i = 0; i < bytes / 4; i++)
		p[i] = (uint32_t)(i * 2654435761u) ^ seed;
}

/* Index of the first word of @p that fill() did not write, or -1. */
static long first_changed(const uint32_t *p, size_t bytes, uint32_t seed)
{
	size_t i;

	for (i = 0; i < bytes / 4; i++) {
		if (p[i] != ((uint32_t)(i * 2654435761u) ^ seed))
			return i;
	}
	return -1;
}

TEST_F(mem, unmap_leaves_user_memory_intact)
{
	const uint64_t size = SZ_1M, gpa = 0x100000;
	uint32_t *buf = (uint32_t *)alloc_4k(size);

	ASSERT_NE(NULL, buf);
	fill(buf, size, 0x1111);
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, size, buf, RW));
	ASSERT_PINS(PAGES(size));
	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, size));
	ASSERT_PINS(0);
	ASSERT_EQ(-1, first_changed(buf, size, 0x1111));

	/* still ours: write it, map it read-only, read it back */
	fill(buf, size, 0x2222);
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, size, buf, EPM_PERM_R));
	ASSERT_EQ(-1, first_changed(buf, size, 0x2222));
	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, size));
	fill(buf, size, 0x3333);
	ASSERT_EQ(-1, first_changed(buf, size, 0x3333));
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
	ASSERT_EQ(0, munmap(buf, size));
}

TEST_F(mem, munmap_while_mapped_keeps_pages_pinned)
{
	const uint64_t size = 64 * SZ_4K, gpa = SZ_1G;
	char *buf = alloc_4k(size);
	struct epm_query q;
	uint64_t hpa;

	ASSERT_NE(NULL, buf);
	hpa = epm_pfn_of(buf + 7 * SZ_4K) * SZ_4K;
	ASSERT_NE(0u, hpa);
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, size, buf, RW));
	ASSERT_EQ(0, munmap(buf, size));

	/* the guest keeps its pages (and the charge) until UNMAP */
	ASSERT_PINS(PAGES(size));
	ASSERT_LOCKED(size);
	ASSERT_EQ(0, epm_query_at(self->fd, gpa + 7 * SZ_4K, &q));
	EXPECT_EQ(1u, q.level);
	EXPECT_EQ(hpa, q.hpa);
	assert_stats(_metadata, self->fd, 4, size, 0, 0);

	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, size));
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

TEST_F(mem, thp_split_by_munmap_keeps_pins)
{
	const uint64_t gpa = SZ_1G;
	char *buf = alloc_thp(2 * SZ_2M);
	struct epm_query q;
	uint64_t hpa;
	const char *why;

	ASSERT_NE(NULL, buf);
	why = thp_absent(buf, 2 * SZ_2M);
	if (why)
		SKIP(return, "%s", why);
	hpa = epm_pfn_of(buf + SZ_2M) * SZ_4K;
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, 2 * SZ_2M, buf, RW));
	assert_stats(_metadata, self->fd, 3, 0, 2 * SZ_2M, 0);

	/* half of the second THP goes away in the process: it is split */
	ASSERT_EQ(0, munmap(buf + SZ_2M + SZ_1M, SZ_1M));
	ASSERT_EQ(0, epm_query_at(self->fd, gpa + SZ_2M + SZ_1M, &q));
	EXPECT_EQ(2u, q.level);
	EXPECT_EQ(hpa + SZ_1M, q.hpa);
	ASSERT_PINS(PAGES(2 * SZ_2M));

	/* the 2M leaf is cut in the middle, then all of it goes */
	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa + SZ_2M, SZ_1M));
	assert_stats(_metadata, self->fd, 4, SZ_1M, SZ_2M, 0);
	ASSERT_PINS(PAGES(SZ_2M + SZ_1M));
	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, 2 * SZ_2M));
	assert_stats(_metadata, self->fd, 1, 0, 0, 0);
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

TEST_F(mem, readonly_memory_maps_read_only)
{
	const uint64_t size = 16 * SZ_4K;
	char *buf = alloc_4k(size);
	struct epm_snap s;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, mprotect(buf, size, PROT_READ));

	ASSERT_EQ(-1, epm_map_at(self->fd, 0, size, buf, RW));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(0, snap_take(self->fd, 0, &s));
	EXPECT_EQ(0u, s.n);
	epm_snap_free(&s);
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);

	ASSERT_EQ(0, epm_map_at(self->fd, 0, size, buf, EPM_PERM_R));
	ASSERT_PINS(PAGES(size));
	/* its pages were not pinned for write, so W cannot be added */
	ASSERT_EQ(-1, epm_protect_at(self->fd, 0, size, RW));
	ASSERT_EQ(EACCES, errno);
	ASSERT_EQ(0, epm_unmap_at(self->fd, 0, size));
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

TEST_F(mem, efault_in_second_chunk_changes_nothing)
{
	/* [1G - 8K, 1G + 4K): pinned as two chunks, the second one fails */
	const uint64_t gpa = SZ_1G - 2 * SZ_4K, size = 3 * SZ_4K;
	char *buf = alloc_4k(size);
	struct epm_snap s;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, mprotect(buf + 2 * SZ_4K, SZ_4K, PROT_NONE));
	ASSERT_EQ(-1, epm_map_at(self->fd, gpa, size, buf, RW));
	ASSERT_EQ(EFAULT, errno);

	ASSERT_EQ(0, snap_take(self->fd, 0, &s));
	EXPECT_EQ(0u, s.n);
	epm_snap_free(&s);
	assert_stats(_metadata, self->fd, 1, 0, 0, 0);
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);

	ASSERT_EQ(0, mprotect(buf + 2 * SZ_4K, SZ_4K, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, size, buf, RW));
	/* root, PDPT, two PDs, two PTs */
	assert_stats(_metadata, self->fd, 6, size, 0, 0);
	ASSERT_PINS(PAGES(size));
}

TEST_F(mem, close_with_mappings_unpins)
{
	char *plain = alloc_4k(SZ_1M), *thp = alloc_thp(4 * SZ_2M);

	ASSERT_NE(NULL, plain);
	ASSERT_NE(NULL, thp);
	ASSERT_EQ(0, epm_map_at(self->fd, 0, SZ_1M, plain, RW));
	ASSERT_EQ(0, epm_map_at(self->fd, SZ_1G, 4 * SZ_2M, thp, RW));
	ASSERT_EQ(0, epm_map_at(self->fd, 7 * SZ_1G + SZ_4K, SZ_2M, thp,
				EPM_PERM_R));
	ASSERT_PINS(PAGES(SZ_1M + 5 * SZ_2M));
	ASSERT_LOCKED(SZ_1M + 5 * SZ_2M);

	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

#define MANY_FILES	64

TEST_F(mem, many_files_closed_unpin)
{
	const uint64_t slice = 16 * SZ_4K;
	char *buf = alloc_4k(MANY_FILES * slice);
	int fds[MANY_FILES], i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < MANY_FILES; i++) {
		fds[i] = epm_open_dev();
		ASSERT_LE(0, fds[i]) TH_LOG("file %d: %s", i, strerror(errno));
		/* the same gpa in every file: each file is its own space */
		ASSERT_EQ(0, epm_map_at(fds[i], SZ_1G, slice, buf + i * slice,
					RW));
	}
	ASSERT_PINS(MANY_FILES * PAGES(slice));
	ASSERT_LOCKED(MANY_FILES * slice);

	for (i = 0; i < MANY_FILES; i++)
		ASSERT_EQ(0, close(fds[i]));
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

TEST_F(mem, killed_child_unpins)
{
	const uint64_t size = SZ_1M;
	long long held;
	int p[2], status;
	char ready = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *plain = alloc_4k(size), *thp = alloc_thp(SZ_2M);
		int fd = epm_open_dev();

		ready = fd >= 0 && plain && thp &&
			!epm_map_at(fd, 0, size, plain, RW) &&
			!epm_map_at(fd, SZ_1G, SZ_2M, thp, RW) ? 'y' : 'n';
		if (write(p[1], &ready, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &ready, 1) != 1)
		ready = 0;
	held = epm_pins_exact();
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));

	ASSERT_EQ('y', ready) TH_LOG("the child could not map its memory");
	ASSERT_EQ(self->pins + (long long)PAGES(size + SZ_2M), held);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(SIGKILL, WTERMSIG(status));
	ASSERT_PINS(0);
}

/* ---- files handed on: SCM_RIGHTS ------------------------------------------ */

/*
 * A UNIX datagram socket pair into @sv, for SCM_RIGHTS; a kernel without
 * AF_UNIX makes the test SKIP (the debug lane's has no CONFIG_NET at all:
 * no socketpair() either, ENOSYS).
 */
#define REQUIRE_UNIX_PAIR(sv) do {					\
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, (sv))) {	\
		ASSERT_TRUE(errno == EAFNOSUPPORT || errno == ENOSYS)	\
			TH_LOG("socketpair: %s", strerror(errno));	\
		SKIP(return, "no AF_UNIX sockets in this kernel (CONFIG_UNIX): no SCM_RIGHTS"); \
	}								\
} while (0)

/* Send @fd and @len bytes of @data over the UNIX socket @sock. */
static int send_fd(int sock, int fd, const void *data, size_t len)
{
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == (ssize_t)len ? 0 : -1;
}

/* The fd sent by send_fd(), its data in @data; -1 on failure. */
static int recv_fd(int sock, void *data, size_t len)
{
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != (ssize_t)len)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* ---- RLIMIT_MEMLOCK ------------------------------------------------------ */

static void memlock_limited(struct __test_metadata *_metadata, void *arg)
{
	const uint64_t limit = *(uint64_t *)arg;
	long long pins = epm_pins_exact();
	long lck = vmpin_kb();
	char *buf = alloc_4k(4 * limit);
	struct epm_snap before, after;
	struct rlimit rl;
	int fd, fd2;

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, lck);
	/* the charge is the opening user's: one nobody else has starts at 0 */
	ASSERT_EQ(0, epm_become_user(EPM_TEST_UID_MEMLOCK));
	ASSERT_EQ(0, epm_cap_drop(CAP_IPC_LOCK));
	rl.rlim_cur = limit;
	rl.rlim_max = rl.rlim_cur;
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	fd = epm_open_dev();
	ASSERT_LE(0, fd);

	/* over the limit: nothing mapped, pinned or charged */
	ASSERT_EQ(-1, epm_map_at(fd, 0, limit + SZ_4K, buf, RW));
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, snap_take(fd, 0, &before));
	EXPECT_EQ(0u, before.n);
	epm_snap_free(&before);
	assert_stats(_metadata, fd, 1, 0, 0, 0);
	ASSERT_EQ(pins, epm_pins_exact());
	ASSERT_EQ(lck, vmpin_kb());

	/* exactly the limit */
	ASSERT_EQ(0, epm_map_at(fd, 0, limit, buf, RW));
	ASSERT_EQ(lck + (long)(limit / 1024), vmpin_kb());

	/* one page more, in this file or another one of the same process */
	ASSERT_EQ(0, snap_take(fd, 0, &before));
	ASSERT_EQ(-1, epm_map_at(fd, SZ_1G, SZ_4K, buf + limit, RW));
	ASSERT_EQ(ENOMEM, errno);
	fd2 = epm_open_dev();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(-1, epm_map_at(fd2, 0, SZ_4K, buf + limit, RW));
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, snap_take(fd, 0, &after));
	ASSERT_TRUE(epm_snap_equal(&before, &after));
	epm_snap_free(&before);
	epm_snap_free(&after);
	ASSERT_EQ(pins + (long long)PAGES(limit), epm_pins_exact());
	ASSERT_EQ(lck + (long)(limit / 1024), vmpin_kb());

	/* a partial UNMAP returns its part of the charge */
	ASSERT_EQ(0, epm_unmap_at(fd, 0, limit / 2));
	ASSERT_EQ(lck + (long)(limit / 2 / 1024), vmpin_kb());
	ASSERT_EQ(0, epm_map_at(fd2, 0, limit / 2, buf + limit, RW));
	ASSERT_EQ(-1, epm_map_at(fd, 2 * SZ_1G, SZ_4K, buf + 2 * limit, RW));
	ASSERT_EQ(ENOMEM, errno);

	/* and all of it comes back: UNMAP and close */
	ASSERT_EQ(0, epm_unmap_at(fd, 0, SZ_1G));
	ASSERT_EQ(0, close(fd2));
	ASSERT_EQ(lck, vmpin_kb());
	ASSERT_EQ(0, epm_map_at(fd, 0, limit, buf + 3 * limit, RW));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(lck, vmpin_kb());
	ASSERT_EQ(pins, epm_pins_exact());
}

TEST_F(mem, memlock_limit_without_cap_ipc_lock)
{
	uint64_t limit = SZ_1M;

	ASSERT_EQ(0, in_child(_metadata, memlock_limited, &limit));
	ASSERT_PINS(0);
}

static void memlock_privileged(struct __test_metadata *_metadata, void *arg)
{
	const uint64_t limit = *(uint64_t *)arg;
	long lck = vmpin_kb();
	char *buf = alloc_4k(2 * limit);
	struct rlimit rl;
	int fd;

	ASSERT_NE(NULL, buf);
	rl.rlim_cur = limit;
	rl.rlim_max = rl.rlim_cur;
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	/* CAP_IPC_LOCK lifts the limit but the pages are still charged */
	ASSERT_EQ(0, epm_map_at(fd, 0, 2 * limit, buf, RW));
	ASSERT_EQ(lck + (long)(2 * limit / 1024), vmpin_kb());
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(lck, vmpin_kb());
}

TEST_F(mem, memlock_limit_ignored_with_cap_ipc_lock)
{
	uint64_t limit = SZ_1M;

	ASSERT_EQ(0, in_child(_metadata, memlock_privileged, &limit));
	ASSERT_PINS(0);
}

/*
 * The charge outlives the opener's mm. LIMIT is each test's RLIMIT_MEMLOCK
 * and what its first file maps; the user (a uid of its own) starts at 0.
 */
#define CHARGE_LIMIT	(64 * SZ_4K)
#define EXEC_ROUNDS	3

/* Become @uid without CAP_IPC_LOCK, limited to CHARGE_LIMIT. 0 or -1. */
static int charge_limited(uid_t uid)
{
	struct rlimit rl = {
		.rlim_cur = CHARGE_LIMIT, .rlim_max = CHARGE_LIMIT,
	};

	if (epm_become_user(uid) || epm_cap_drop(CAP_IPC_LOCK))
		return -1;
	return setrlimit(RLIMIT_MEMLOCK, &rl);
}

/* What each round of the exec loop saw, sent up a pipe. */
struct exec_report {
	int round;
	int map_ret, map_errno;		/* a new file, CHARGE_LIMIT */
	int old_ret, old_errno;		/* the first file, 4K more */
	uint64_t old_pinned;		/* the first file's pinned_pages */
	long long pins;			/* pins held, system-wide */
};

/*
 * One round of the exec loop: this binary re-executed by itself with
 * EPM_EXEC_ROUND set. It runs before main() and never returns.
 */
static void __attribute__((constructor)) exec_round(void)
{
	const char *r = getenv("EPM_EXEC_ROUND");
	struct exec_report rep = { 0 };
	struct epm_stats st;
	char *buf, next[16];
	int fd0, out, fd;

	if (!r)
		return;
	rep.round = atoi(r);
	fd0 = atoi(getenv("EPM_EXEC_FD0"));
	out = atoi(getenv("EPM_EXEC_OUT"));
	/* exec with euid 0 gave the capabilities back: drop it again */
	if (epm_cap_drop(CAP_IPC_LOCK))
		_exit(10);
	buf = epm_alloc(CHARGE_LIMIT + SZ_4K, SZ_4K, MADV_NOHUGEPAGE);
	if (!buf)
		_exit(11);
	rep.old_ret = epm_map_at(fd0, CHARGE_LIMIT, SZ_4K, buf, RW);
	rep.old_errno = errno;
	rep.old_pinned = epm_stats_of(fd0, &st) ? ~0ULL : st.pinned_pages;
	/* no O_CLOEXEC: this file too lives on through the next exec */
	fd = open(EPM_DEV, O_RDWR);
	if (fd < 0)
		_exit(12);
	rep.map_ret = epm_map_at(fd, 0, CHARGE_LIMIT, buf, RW);
	rep.map_errno = errno;
	rep.pins = epm_pins_exact();
	if (write(out, &rep, sizeof(rep)) != sizeof(rep))
		_exit(13);
	if (rep.round < EXEC_ROUNDS) {
		snprintf(next, sizeof(next), "%d", rep.round + 1);
		setenv("EPM_EXEC_ROUND", next, 1);
		execl("/proc/self/exe", "mem_test", (char *)NULL);
		_exit(14);
	}
	_exit(0);
}

/* Round 0: open (no O_CLOEXEC), map CHARGE_LIMIT, exec round 1. */
static void exec_loop_start(struct __test_metadata *_metadata, void *arg)
{
	int out = *(int *)arg, fd;
	char *buf = alloc_4k(CHARGE_LIMIT);
	char num[16];

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, charge_limited(EPM_TEST_UID_EXEC));
	fd = open(EPM_DEV, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, epm_map_at(fd, 0, CHARGE_LIMIT, buf, RW));
	snprintf(num, sizeof(num), "%d", fd);
	setenv("EPM_EXEC_FD0", num, 1);
	snprintf(num, sizeof(num), "%d", out);
	setenv("EPM_EXEC_OUT", num, 1);
	setenv("EPM_EXEC_ROUND", "1", 1);
	execl("/proc/self/exe", "mem_test", (char *)NULL);
	TH_LOG("exec: %s", strerror(errno));
	ASSERT_TRUE(false);
}

/* After the others: the user's charge is exactly 0 again. */
static void charge_back_to_zero(struct __test_metadata *_metadata, void *arg)
{
	uid_t uid = *(uid_t *)arg;
	char *buf = alloc_4k(CHARGE_LIMIT + SZ_4K);
	int fd;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, charge_limited(uid));
	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, epm_map_at(fd, 0, CHARGE_LIMIT, buf, RW));
	ASSERT_EQ(-1, epm_map_at(fd, CHARGE_LIMIT, SZ_4K, buf + CHARGE_LIMIT,
				 RW));
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, close(fd));
}

/*
 * exec without O_CLOEXEC keeps the file, and its pins, while the old mm
 * goes: the charge must stay too, or each round could pin CHARGE_LIMIT
 * more without CAP_IPC_LOCK.
 */
TEST_F(mem, exec_loop_cannot_pin_beyond_memlock)
{
	struct exec_report rep;
	uid_t uid = EPM_TEST_UID_EXEC;
	int p[2], status, rounds = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(p[0]);
		exec_loop_start(_metadata, &p[1]);
		_exit(1);
	}
	close(p[1]);
	while (read(p[0], &rep, sizeof(rep)) == sizeof(rep)) {
		rounds++;
		EXPECT_EQ(rounds, rep.round);
		/* the file from before the exec: pinned, charged, not ours */
		EXPECT_EQ(PAGES(CHARGE_LIMIT), rep.old_pinned)
			TH_LOG("round %d", rep.round);
		EXPECT_EQ(-1, rep.old_ret) TH_LOG("round %d", rep.round);
		EXPECT_EQ(EPERM, rep.old_errno) TH_LOG("round %d", rep.round);
		/* so a new file of the new mm finds the limit reached */
		EXPECT_EQ(-1, rep.map_ret)
			TH_LOG("round %d: MAP of %llu KiB beyond RLIMIT_MEMLOCK succeeded",
			       rep.round, CHARGE_LIMIT / 1024);
		EXPECT_EQ(ENOMEM, rep.map_errno) TH_LOG("round %d", rep.round);
		EXPECT_EQ(self->pins + (long long)PAGES(CHARGE_LIMIT), rep.pins)
			TH_LOG("round %d: pins held", rep.round);
	}
	close(p[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(EXEC_ROUNDS, rounds);
	ASSERT_PINS(0);
	ASSERT_EQ(0, in_child(_metadata, charge_back_to_zero, &uid));
	ASSERT_PINS(0);
}

/* Open, map CHARGE_LIMIT, pass the file over @arg's socket, exit. */
static void map_and_pass_on(struct __test_metadata *_metadata, void *arg)
{
	int sock = *(int *)arg, fd;
	char *buf = alloc_4k(CHARGE_LIMIT);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, charge_limited(EPM_TEST_UID_EXIT));
	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, epm_map_at(fd, 0, CHARGE_LIMIT, buf, RW));
	ASSERT_EQ(0, send_fd(sock, fd, "f", 1));
}

/* While another process holds the file, the user has no room left. */
static void limit_still_reached(struct __test_metadata *_metadata, void *arg)
{
	char *buf = alloc_4k(SZ_4K);
	int fd;

	(void)arg;
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, charge_limited(EPM_TEST_UID_EXIT));
	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, epm_map_at(fd, 0, SZ_4K, buf, RW))
		TH_LOG("the opener's exit gave its charge back while its pins stay");
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, close(fd));
}

TEST_F(mem, opener_exit_leaves_the_charge_with_the_file)
{
	uid_t uid = EPM_TEST_UID_EXIT;
	struct epm_stats st;
	int sv[2], fd;
	char byte;

	REQUIRE_UNIX_PAIR(sv);
	ASSERT_EQ(0, in_child(_metadata, map_and_pass_on, &sv[0]));
	fd = recv_fd(sv[1], &byte, 1);
	ASSERT_LE(0, fd);
	ASSERT_PINS(PAGES(CHARGE_LIMIT));
	ASSERT_EQ(0, epm_stats_of(fd, &st));
	ASSERT_EQ(PAGES(CHARGE_LIMIT), st.pinned_pages);
	ASSERT_EQ(0, in_child(_metadata, limit_still_reached, NULL));
	/* the last close gives the whole charge back */
	ASSERT_EQ(0, close(fd));
	ASSERT_PINS(0);
	ASSERT_EQ(0, in_child(_metadata, charge_back_to_zero, &uid));
	ASSERT_PINS(0);
	close(sv[0]);
	close(sv[1]);
}

/* ---- privilege ------------------------------------------------------------ */

#define PROBES	6

/* What root saw, for a child without CAP_SYS_ADMIN to compare with. */
struct seen {
	int fd;
	int sock;		/* SCM_RIGHTS: the fd travels over it */
	char *plain, *thp;	/* what map_and_look() mapped */
	struct epm_eptp eptp;
	void *mine;		/* a buffer of the opener's, 16 pages */
	uint64_t gpa[PROBES];
	struct epm_query q[PROBES];
	struct epm_snap s;
};

/* A 4K range, a THP range and holes, seen as root. */
static void map_and_look(struct __test_metadata *_metadata, struct seen *v)
{
	char *plain = alloc_4k(16 * SZ_4K), *thp = alloc_thp(SZ_2M);
	const uint64_t gpa[PROBES] = {
		0x200000, 0x20f000, SZ_1G, SZ_1G + 0x1f3000, 0x5000000,
		SZ_1G + SZ_2M,
	};
	int i;

	ASSERT_NE(NULL, plain);
	ASSERT_NE(NULL, thp);
	v->plain = plain;
	v->thp = thp;
	ASSERT_EQ(0, epm_map_at(v->fd, 0x200000, 16 * SZ_4K, plain, RW));
	ASSERT_EQ(0, epm_map_at(v->fd, SZ_1G, SZ_2M, thp,
				EPM_PERM_R | EPM_PERM_X));
	for (i = 0; i < PROBES; i++) {
		v->gpa[i] = gpa[i];
		ASSERT_EQ(0, epm_query_at(v->fd, gpa[i], &v->q[i]));
	}
	ASSERT_NE(0u, v->q[0].hpa);
	ASSERT_NE(0u, v->q[0].kpte[0] & PTE_ADDR);
	ASSERT_EQ(0, snap_take(v->fd, 0, &v->s));
	ASSERT_LT(0u, v->s.n);
}

/*
 * Through @fd, what map_and_look() saw in @v with every address zeroed:
 * @fd holds the same mappings of the same memory as v->fd.
 */
static void look_hidden(struct __test_metadata *_metadata,
			const struct seen *v, int fd)
{
	struct epm_query q;
	struct epm_snap s;
	size_t i, l;

	for (i = 0; i < PROBES; i++) {
		const struct epm_query *r = &v->q[i];

		ASSERT_EQ(0, epm_query_at(fd, v->gpa[i], &q));
		EXPECT_EQ(0u, q.hpa)
			TH_LOG("gpa 0x%llx", (unsigned long long)v->gpa[i]);
		EXPECT_EQ(r->level, q.level);
		EXPECT_EQ(r->page_size, q.page_size);
		EXPECT_EQ(r->perm, q.perm);
		EXPECT_EQ(r->kpt_perm, q.kpt_perm);
		EXPECT_EQ(r->memtype, q.memtype);
		for (l = 0; l < 4; l++) {
			EXPECT_EQ(0u, q.kpte[l] & PTE_ADDR);
			EXPECT_EQ(0u, q.epte[l] & PTE_ADDR);
			EXPECT_EQ(r->kpte[l] & ~PTE_ADDR, q.kpte[l])
				TH_LOG("gpa 0x%llx level %zu",
				       (unsigned long long)v->gpa[i], l + 1);
			EXPECT_EQ(r->epte[l] & ~PTE_ADDR, q.epte[l])
				TH_LOG("gpa 0x%llx level %zu",
				       (unsigned long long)v->gpa[i], l + 1);
		}
	}

	ASSERT_EQ(0, snap_take(fd, 0, &s));
	ASSERT_EQ(v->s.n, s.n);
	for (i = 0; i < s.n; i++) {
		const struct epm_dump_entry *r = &v->s.e[i], *e = &s.e[i];

		EXPECT_EQ(r->gpa, e->gpa);
		EXPECT_EQ(r->level, e->level);
		EXPECT_EQ(r->leaf, e->leaf);
		EXPECT_EQ(0u, e->kpte & PTE_ADDR);
		EXPECT_EQ(0u, e->epte & PTE_ADDR);
		EXPECT_EQ(r->kpte & ~PTE_ADDR, e->kpte);
		EXPECT_EQ(r->epte & ~PTE_ADDR, e->epte);
		ASSERT_TRUE(_metadata->passed) TH_LOG("dump entry %zu", i);
	}
	epm_snap_free(&s);
	ASSERT_EQ(0, epm_check_count(fd));
}

/* Capabilities are per thread: open the device from one without the cap. */
static void *open_without_sys_admin_run(void *arg)
{
	int *fd = arg;

	*fd = epm_cap_drop(CAP_SYS_ADMIN) ? -1 : epm_open_dev();
	return NULL;
}

/* A file of this process (same mm) whose opener lacked CAP_SYS_ADMIN. */
static int open_without_sys_admin(void)
{
	pthread_t tid;
	int fd = -1;

	if (pthread_create(&tid, NULL, open_without_sys_admin_run, &fd))
		return -1;
	pthread_join(tid, NULL);
	return fd;
}

/*
 * Visibility is the opener's: this process keeps CAP_SYS_ADMIN, yet sees
 * no address through the file its unprivileged thread opened, and exactly
 * what the privileged file shows otherwise (same memory, same gpas).
 */
TEST_F(mem, addresses_hidden_in_a_file_opened_without_cap_sys_admin)
{
	struct seen v = { .fd = self->fd };
	struct epm_eptp e = { 0 };
	int fd = open_without_sys_admin();

	ASSERT_LE(0, fd) TH_LOG("open without CAP_SYS_ADMIN: %s",
				strerror(errno));
	map_and_look(_metadata, &v);
	ASSERT_EQ(0, epm_map_at(fd, 0x200000, 16 * SZ_4K, v.plain, RW));
	ASSERT_EQ(0, epm_map_at(fd, SZ_1G, SZ_2M, v.thp,
				EPM_PERM_R | EPM_PERM_X));
	look_hidden(_metadata, &v, fd);
	ASSERT_EQ(-1, ioctl(fd, EPM_IOC_EPTP, &e));
	ASSERT_EQ(EPERM, errno);
	EXPECT_EQ(0u, e.eptp);
	EXPECT_EQ(0u, e.kpt_root);
	ASSERT_EQ(0, close(fd));
	epm_snap_free(&v.s);
}

static void eptp_unprivileged(struct __test_metadata *_metadata, void *arg)
{
	struct epm_eptp e = { 0 };
	int fd;

	(void)arg;
	ASSERT_EQ(0, epm_cap_drop(CAP_SYS_ADMIN));
	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, ioctl(fd, EPM_IOC_EPTP, &e));
	ASSERT_EQ(EPERM, errno);
	e.flags = EPM_EPTP_AD;
	ASSERT_EQ(-1, ioctl(fd, EPM_IOC_EPTP, &e));
	ASSERT_EQ(EPERM, errno);
	EXPECT_EQ(0u, e.eptp);
	EXPECT_EQ(0u, e.kpt_root);
}

TEST_F(mem, eptp_eperm_in_a_file_opened_without_cap_sys_admin)
{
	ASSERT_EQ(0, in_child(_metadata, eptp_unprivileged, NULL));
}

/* Without CAP_SYS_ADMIN, through the passed file: all the opener saw. */
static void look_as_the_opener(struct __test_metadata *_metadata, void *arg)
{
	struct seen *v = arg;
	struct epm_eptp e = { 0 };
	struct epm_query q;
	struct epm_snap s;
	char byte;
	int fd, i;

	ASSERT_EQ(0, epm_cap_drop(CAP_SYS_ADMIN));
	/* only the file that came over the socket: not fork's copy */
	ASSERT_EQ(0, close(v->fd));
	fd = recv_fd(v->sock, &byte, 1);
	ASSERT_LE(0, fd) TH_LOG("SCM_RIGHTS: %s", strerror(errno));
	for (i = 0; i < PROBES; i++) {
		ASSERT_EQ(0, epm_query_at(fd, v->gpa[i], &q));
		ASSERT_EQ(0, memcmp(&v->q[i], &q, sizeof(q)))
			TH_LOG("gpa 0x%llx", (unsigned long long)v->gpa[i]);
	}
	ASSERT_NE(0u, q.kpte[3] & PTE_ADDR);
	ASSERT_EQ(0, snap_take(fd, 0, &s));
	ASSERT_TRUE(epm_snap_equal(&v->s, &s));
	epm_snap_free(&s);
	ASSERT_EQ(0, ioctl(fd, EPM_IOC_EPTP, &e));
	ASSERT_EQ(v->eptp.eptp, e.eptp);
	ASSERT_EQ(v->eptp.kpt_root, e.kpt_root);
}

TEST_F(mem, root_opened_file_shows_addresses_to_an_unprivileged_receiver)
{
	struct seen v = { .fd = self->fd };
	int sv[2];

	REQUIRE_UNIX_PAIR(sv);
	map_and_look(_metadata, &v);
	ASSERT_EQ(0, ioctl(self->fd, EPM_IOC_EPTP, &v.eptp));
	ASSERT_NE(0u, v.eptp.kpt_root);
	v.sock = sv[1];
	/* the message waits in the socket until the child takes it */
	ASSERT_EQ(0, send_fd(sv[0], self->fd, "f", 1));
	ASSERT_EQ(0, in_child(_metadata, look_as_the_opener, &v));
	epm_snap_free(&v.s);
	close(sv[0]);
	close(sv[1]);
}

struct handoff {
	int sock;
	struct epm_query q;	/* what the opener saw */
};

#define HANDOFF_GPA	0x203000ULL

/* Open without CAP_SYS_ADMIN, map, look, pass the file on and exit. */
static void open_map_pass(struct __test_metadata *_metadata, void *arg)
{
	struct handoff *h = arg;
	char *plain = alloc_4k(16 * SZ_4K);
	int fd, l;

	ASSERT_NE(NULL, plain);
	ASSERT_EQ(0, epm_cap_drop(CAP_SYS_ADMIN));
	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, epm_map_at(fd, 0x200000, 16 * SZ_4K, plain, RW));
	ASSERT_EQ(0, epm_query_at(fd, HANDOFF_GPA, &h->q));
	ASSERT_EQ(1u, h->q.level);
	ASSERT_EQ(0u, h->q.hpa);
	for (l = 0; l < 4; l++) {
		ASSERT_EQ(0u, h->q.kpte[l] & PTE_ADDR);
		ASSERT_EQ(0u, h->q.epte[l] & PTE_ADDR);
	}
	ASSERT_EQ(0, send_fd(h->sock, fd, &h->q, sizeof(h->q)));
}

TEST_F(mem, unprivileged_file_hides_addresses_from_a_root_receiver)
{
	struct handoff h;
	struct epm_query q, sent;
	struct epm_eptp e = { 0 };
	struct epm_snap s;
	struct epm_stats st;
	int sv[2], fd;
	size_t i;

	REQUIRE_UNIX_PAIR(sv);
	h.sock = sv[0];
	ASSERT_EQ(0, in_child(_metadata, open_map_pass, &h));
	fd = recv_fd(sv[1], &sent, sizeof(sent));
	ASSERT_LE(0, fd) TH_LOG("SCM_RIGHTS: %s", strerror(errno));
	/* the opener is gone; its pins stay with the file */
	ASSERT_PINS(16);
	ASSERT_EQ(0, epm_stats_of(fd, &st));
	ASSERT_EQ(16u, st.pinned_pages);
	/* root, with CAP_SYS_ADMIN, sees what the opener saw */
	ASSERT_EQ(0, epm_query_at(fd, HANDOFF_GPA, &q));
	ASSERT_EQ(0, memcmp(&sent, &q, sizeof(q)));
	ASSERT_EQ(0, snap_take(fd, 0, &s));
	ASSERT_EQ(19u, s.n);	/* PML4E, PDPTE, PDE, 16 PTEs */
	for (i = 0; i < s.n; i++) {
		ASSERT_EQ(0u, s.e[i].kpte & PTE_ADDR) TH_LOG("entry %zu", i);
		ASSERT_EQ(0u, s.e[i].epte & PTE_ADDR) TH_LOG("entry %zu", i);
	}
	epm_snap_free(&s);
	ASSERT_EQ(-1, ioctl(fd, EPM_IOC_EPTP, &e));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(0, epm_check_count(fd));
	ASSERT_EQ(0, close(fd));
	ASSERT_PINS(0);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(mem, eptp_and_table_addresses_consistent)
{
	struct epm_eptp e = { 0 }, e0 = { 0 }, ad = { .flags = EPM_EPTP_AD };
	struct epm_caps caps = { 0 };
	struct seen v = { .fd = self->fd };
	struct epm_query q;
	size_t i;
	int l;

	ASSERT_EQ(0, ioctl(self->fd, EPM_IOC_EPTP, &e0));
	map_and_look(_metadata, &v);
	ASSERT_EQ(0, ioctl(self->fd, EPM_IOC_EPTP, &e));

	/* WB (6), 4-level walk (3 << 3), no A/D; the EPT root above the KPT's */
	EXPECT_EQ(0x1eu, e.eptp & 0xfff);
	EXPECT_EQ(e.kpt_root + SZ_4K, e.eptp & ~0xfffULL);
	EXPECT_EQ(0u, e.kpt_root & 0xfff);
	EXPECT_NE(0u, e.kpt_root);
	/* the root pair lives as long as the file */
	EXPECT_EQ(e0.eptp, e.eptp);
	EXPECT_EQ(e0.kpt_root, e.kpt_root);

	ASSERT_EQ(0, ioctl(self->fd, EPM_IOC_CAPS, &caps));
	if (!(caps.flags & EPM_CAP_EPT_AD)) {
		ASSERT_EQ(-1, ioctl(self->fd, EPM_IOC_EPTP, &ad));
		ASSERT_EQ(EOPNOTSUPP, errno);
	} else {
		ASSERT_EQ(0, ioctl(self->fd, EPM_IOC_EPTP, &ad));
		EXPECT_EQ(0x5eu, ad.eptp & 0xfff);
		EXPECT_EQ(e.eptp & ~0xfffULL, ad.eptp & ~0xfffULL);
		EXPECT_EQ(e.kpt_root, ad.kpt_root);
	}

	/* intermediates: KPT P|W|U, EPT R|W|X one page above; leaves: one frame */
	for (i = 0; i < v.s.n; i++) {
		const struct epm_dump_entry *d = &v.s.e[i];
		uint64_t mask = PTE_ADDR & ~(level_size(d->level) - 1);

		if (!d->leaf) {
			EXPECT_EQ(0x7u, d->kpte & ~PTE_ADDR);
			EXPECT_EQ(0x7u, d->epte & ~PTE_ADDR);
			EXPECT_EQ((d->kpte & PTE_ADDR) + SZ_4K,
				  d->epte & PTE_ADDR);
		} else {
			EXPECT_EQ(d->kpte & mask, d->epte & mask);
			EXPECT_NE(0u, d->kpte & mask);
		}
		ASSERT_TRUE(_metadata->passed)
			TH_LOG("dump entry %zu: level %u gpa 0x%llx kpte 0x%llx epte 0x%llx",
			       i, d->level, (unsigned long long)d->gpa,
			       (unsigned long long)d->kpte,
			       (unsigned long long)d->epte);
	}

	/* QUERY walks the same entries DUMP shows, from the top */
	ASSERT_EQ(0, epm_query_at(self->fd, 0x200000, &q));
	ASSERT_EQ(1u, q.level);
	ASSERT_EQ(4u, v.s.e[0].level);
	EXPECT_EQ(v.s.e[0].kpte, q.kpte[3]);
	EXPECT_EQ(v.s.e[0].epte, q.epte[3]);
	for (l = 3; l >= 1; l--)
		EXPECT_EQ((q.kpte[l] & PTE_ADDR) + SZ_4K, q.epte[l] & PTE_ADDR);
	EXPECT_EQ(q.kpte[0] & PTE_ADDR, q.epte[0] & PTE_ADDR);
	EXPECT_EQ(q.kpte[0] & PTE_ADDR, q.hpa);
	epm_snap_free(&v.s);
}

TEST_F(mem, query_hpa_matches_pagemap)
{
	const uint64_t gpa = 0x300000;
	char *buf = alloc_4k(16 * SZ_4K);
	struct epm_query q;
	uint64_t pfn[16];
	int i;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, 16 * SZ_4K, buf, RW));
	/* the pins are taken: the frames cannot move any more */
	ASSERT_EQ(0, read_pfns(buf, 16 * SZ_4K, pfn));
	for (i = 0; i < 16; i++) {
		ASSERT_NE(0u, pfn[i]) TH_LOG("pagemap shows no frame: not root?");
		ASSERT_EQ(0, epm_query_at(self->fd, gpa + i * SZ_4K + 8 * i, &q));
		EXPECT_EQ(1u, q.level);
		EXPECT_EQ(pfn[i] * SZ_4K + 8 * i, q.hpa);
		EXPECT_EQ(pfn[i] * SZ_4K, q.kpte[0] & PTE_ADDR);
		EXPECT_EQ(pfn[i] * SZ_4K, q.epte[0] & PTE_ADDR);
	}
}

/* ---- one process maps ------------------------------------------------------ */

static void map_from_other_process(struct __test_metadata *_metadata,
				   void *arg)
{
	struct seen *v = arg;
	char *buf = alloc_4k(16 * SZ_4K);
	struct epm_stats st;
	struct epm_query q;
	struct epm_snap s;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(-1, epm_map_at(v->fd, 4 * SZ_1G, 16 * SZ_4K, buf, RW));
	ASSERT_EQ(EPERM, errno);
	/* the parent's buffer, copied into this process by fork */
	ASSERT_EQ(-1, epm_map_at(v->fd, 4 * SZ_1G, 16 * SZ_4K, v->mine, RW));
	ASSERT_EQ(EPERM, errno);

	ASSERT_EQ(0, epm_query_at(v->fd, 0x200000, &q));
	EXPECT_EQ(v->q[0].level, q.level);
	EXPECT_EQ(v->q[0].hpa, q.hpa);
	ASSERT_EQ(0, snap_take(v->fd, 0, &s));
	EXPECT_TRUE(epm_snap_equal(&v->s, &s));
	epm_snap_free(&s);
	ASSERT_EQ(0, epm_check_count(v->fd));
	ASSERT_EQ(0, epm_stats_of(v->fd, &st));
	EXPECT_EQ(PAGES(16 * SZ_4K + SZ_2M), st.pinned_pages);
}

TEST_F(mem, other_process_map_eperm_query_works)
{
	char *mine = alloc_4k(16 * SZ_4K);
	struct seen v = { .fd = self->fd, .mine = mine };
	struct epm_snap s;

	ASSERT_NE(NULL, mine);
	map_and_look(_metadata, &v);
	ASSERT_PINS(PAGES(16 * SZ_4K + SZ_2M));
	ASSERT_EQ(0, in_child(_metadata, map_from_other_process, &v));

	ASSERT_EQ(0, snap_take(self->fd, 0, &s));
	EXPECT_TRUE(epm_snap_equal(&v.s, &s));
	epm_snap_free(&s);
	epm_snap_free(&v.s);
	ASSERT_PINS(PAGES(16 * SZ_4K + SZ_2M));
	/* and the opener still may */
	ASSERT_EQ(0, epm_map_at(self->fd, 4 * SZ_1G, 16 * SZ_4K, mine, RW));
}

/* ---- concurrency ------------------------------------------------------------ */

#define W_PAGES		1024		/* 4 MiB per worker */
#define W_SIZE		(W_PAGES * SZ_4K)

static const uint32_t perms[] = {
	EPM_PERM_R, RW, EPM_PERM_R | EPM_PERM_X, EPM_PERM_ALL,
};

/* A thread that maps, unmaps and protects its own gpa window. */
struct worker {
	pthread_t tid;
	int fd;
	uint64_t gpa;
	char *buf;
	unsigned int seed;
	atomic_int *stop;
	uint8_t perm[W_PAGES];		/* model: 0 unmapped, else EPM_PERM_* */
	bool pinw[W_PAGES];		/* model: pinned for write */
	unsigned long ops;
	char err[256];			/* first failure, "" if none */
};

static void fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

#define WFAIL(w, fmt, ...) \
	fail((w)->err, sizeof((w)->err), fmt, ##__VA_ARGS__)

static void worker_step(struct worker *w)
{
	unsigned int r = rand_r(&w->seed), a, n, i, op = r % 4;
	bool any_mapped = false, any_unmapped = false, any_ro = false;
	uint32_t perm = perms[(r >> 4) % 4];
	int ret, want, err;
	struct epm_query q;

	if ((r >> 8) % 4 == 0) {
		a = ((r >> 12) % 2) * 512;	/* a whole 2M piece */
		n = 512;
	} else {
		a = (r >> 12) % W_PAGES;
		n = 1 + rand_r(&w->seed) % 96;
		if (n > W_PAGES - a)
			n = W_PAGES - a;
	}
	for (i = a; i < a + n; i++) {
		any_mapped |= w->perm[i] != 0;
		any_unmapped |= w->perm[i] == 0;
		any_ro |= w->perm[i] && !w->pinw[i];
	}

	switch (op) {
	case 0:
		ret = epm_map_sized(w->fd, w->gpa + a * SZ_4K, n * SZ_4K,
				    w->buf + a * SZ_4K, perm, EPM_MEMTYPE_WB,
				    (r >> 20) % 3);
		want = any_mapped ? EEXIST : 0;
		if (!ret) {
			for (i = a; i < a + n; i++) {
				w->perm[i] = perm;
				/* writable memory is always pinned for write */
				w->pinw[i] = true;
			}
		}
		break;
	case 1:
		ret = epm_unmap_at(w->fd, w->gpa + a * SZ_4K, n * SZ_4K);
		want = 0;
		if (!ret)
			memset(w->perm + a, 0, n);
		break;
	case 2:
		ret = epm_protect_at(w->fd, w->gpa + a * SZ_4K, n * SZ_4K,
				     perm);
		want = any_unmapped ? ENOENT :
		       (perm & EPM_PERM_W) && any_ro ? EACCES : 0;
		if (!ret)
			memset(w->perm + a, perm, n);
		break;
	default:
		ret = epm_query_at(w->fd, w->gpa + a * SZ_4K, &q);
		want = 0;
		if (!ret && !q.level != !w->perm[a])
			WFAIL(w, "QUERY 0x%llx: level %u, model says %s",
			      (unsigned long long)(w->gpa + a * SZ_4K),
			      q.level, w->perm[a] ? "mapped" : "unmapped");
		if (!ret && q.level &&
		    (q.perm != w->perm[a] || q.kpt_perm != w->perm[a]))
			WFAIL(w, "QUERY 0x%llx: perm %u kpt_perm %u, model %u",
			      (unsigned long long)(w->gpa + a * SZ_4K),
			      q.perm, q.kpt_perm, w->perm[a]);
		break;
	}
	err = ret ? errno : 0;
	if (err != want)
		WFAIL(w, "op %u [0x%llx, +0x%x) perm %u: errno %d, want %d",
		      op, (unsigned long long)(w->gpa + a * SZ_4K),
		      n * (unsigned int)SZ_4K, perm, err, want);
	w->ops++;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	while (!*w->stop && !w->err[0])
		worker_step(w);
	return NULL;
}

/* Threads that read the space while the workers change it. */
struct reader {
	pthread_t tid;
	int fd;
	int kind;			/* 0 DUMP, 1 CHECK, 2 QUERY, 3 STATS */
	unsigned int seed;
	atomic_int *stop;
	unsigned long ops;
	char err[256];
};

#define RFAIL(rd, fmt, ...) \
	fail((rd)->err, sizeof((rd)->err), fmt, ##__VA_ARGS__)

static void reader_dump(struct reader *rd)
{
	struct epm_snap s;
	size_t i;

	if (snap_take(rd->fd, 0, &s)) {
		RFAIL(rd, "DUMP: %s", strerror(errno));
		return;
	}
	for (i = 0; i < s.n; i++) {
		const struct epm_dump_entry *d = &s.e[i], *p = d - !!i;
		uint64_t mask = PTE_ADDR & ~(level_size(d->level) - 1);

		if (i && !(p->gpa < d->gpa ||
			   (p->gpa == d->gpa && p->level > d->level)))
			RFAIL(rd, "DUMP out of order at %zu: 0x%llx/%u after 0x%llx/%u",
			      i, (unsigned long long)d->gpa, d->level,
			      (unsigned long long)p->gpa, p->level);
		if (!d->leaf &&
		    (d->epte & PTE_ADDR) != (d->kpte & PTE_ADDR) + SZ_4K)
			RFAIL(rd, "DUMP 0x%llx/%u: EPT table not KPT's + 4K",
			      (unsigned long long)d->gpa, d->level);
		if (d->leaf && (d->epte & mask) != (d->kpte & mask))
			RFAIL(rd, "DUMP 0x%llx/%u: halves map other frames",
			      (unsigned long long)d->gpa, d->level);
	}
	epm_snap_free(&s);
}

static void reader_step(struct reader *rd)
{
	struct epm_query q;
	struct epm_stats st;
	long long bad;
	uint64_t gpa;

	switch (rd->kind) {
	case 0:
		reader_dump(rd);
		break;
	case 1:
		bad = epm_check_count(rd->fd);
		if (bad)
			RFAIL(rd, "CHECK: %lld (%s)", bad,
			      bad < 0 ? strerror(errno) : "mismatches");
		break;
	case 2:
		gpa = (rand_r(&rd->seed) % 5) * SZ_1G +
		      (rand_r(&rd->seed) % W_PAGES) * SZ_4K;
		if (epm_query_at(rd->fd, gpa, &q))
			RFAIL(rd, "QUERY 0x%llx: %s", (unsigned long long)gpa,
			      strerror(errno));
		else if (q.level && q.hpa / SZ_4K !=
			 (q.kpte[q.level - 1] & PTE_ADDR &
			  ~(level_size(q.level) - 1)) / SZ_4K +
			 (gpa % level_size(q.level)) / SZ_4K)
			RFAIL(rd, "QUERY 0x%llx: hpa 0x%llx not in the leaf",
			      (unsigned long long)gpa,
			      (unsigned long long)q.hpa);
		break;
	default:
		if (epm_stats_of(rd->fd, &st))
			RFAIL(rd, "STATS: %s", strerror(errno));
		else if (st.table_bytes != st.table_pairs * 8192 ||
			 st.pinned_pages * SZ_4K != st.mapped_4k +
			 st.mapped_2m + st.mapped_1g)
			RFAIL(rd, "STATS: pairs %llu bytes %llu pinned %llu mapped %llu+%llu+%llu",
			      st.table_pairs, st.table_bytes, st.pinned_pages,
			      st.mapped_4k, st.mapped_2m, st.mapped_1g);
		break;
	}
	rd->ops++;
}

static void *reader_run(void *arg)
{
	struct reader *rd = arg;

	while (!*rd->stop && !rd->err[0])
		reader_step(rd);
	return NULL;
}

static void sleep_s(unsigned int s)
{
	struct timespec ts = { .tv_sec = s };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Stats and every page of every worker's window against the models. */
static void assert_models(struct __test_metadata *_metadata, int fd,
			  struct worker *w, int n)
{
	uint64_t mapped = 0;
	struct epm_stats st;
	struct epm_query q;
	int i, p;

	for (i = 0; i < n; i++) {
		for (p = 0; p < W_PAGES; p++) {
			ASSERT_EQ(0, epm_query_at(fd, w[i].gpa + p * SZ_4K, &q));
			ASSERT_EQ(w[i].perm[p], q.perm)
				TH_LOG("worker %d page %d: level %u", i, p,
				       q.level);
			ASSERT_EQ(w[i].perm[p] != 0, q.level != 0);
			mapped += w[i].perm[p] ? SZ_4K : 0;
		}
	}
	ASSERT_EQ(0, epm_stats_of(fd, &st));
	EXPECT_EQ(mapped, st.mapped_4k + st.mapped_2m + st.mapped_1g);
	EXPECT_EQ(PAGES(mapped), st.pinned_pages);
	ASSERT_EQ(0, epm_check_count(fd));
	ASSERT_TRUE(_metadata->passed);
}

static void start_worker(struct __test_metadata *_metadata, struct worker *w,
			 int fd, uint64_t gpa, unsigned int seed,
			 atomic_int *stop)
{
	w->fd = fd;
	w->gpa = gpa;
	w->seed = seed;
	w->stop = stop;
	w->buf = alloc_thp(W_SIZE);
	ASSERT_NE(NULL, w->buf);
	ASSERT_EQ(0, pthread_create(&w->tid, NULL, worker_run, w));
}

#define WORKERS		4
#define READERS		4

TEST_F_TIMEOUT(mem, threads_share_one_fd, 120)
{
	static struct worker w[WORKERS];
	static struct reader rd[READERS];
	atomic_int stop = 0;
	uint64_t pinned = 0;
	int i, p;

	for (i = 0; i < WORKERS; i++)
		start_worker(_metadata, &w[i], self->fd, (i + 1) * SZ_1G,
			     0x5eed + i, &stop);
	for (i = 0; i < READERS; i++) {
		rd[i].fd = self->fd;
		rd[i].kind = i;
		rd[i].seed = 77 + i;
		rd[i].stop = &stop;
		ASSERT_EQ(0, pthread_create(&rd[i].tid, NULL, reader_run,
					    &rd[i]));
	}
	sleep_s(5);
	stop = 1;
	for (i = 0; i < WORKERS; i++)
		pthread_join(w[i].tid, NULL);
	for (i = 0; i < READERS; i++)
		pthread_join(rd[i].tid, NULL);

	for (i = 0; i < WORKERS; i++) {
		EXPECT_STREQ("", w[i].err) TH_LOG("worker %d", i);
		EXPECT_LT(0u, w[i].ops);
		TH_LOG("worker %d: %lu ops", i, w[i].ops);
	}
	for (i = 0; i < READERS; i++) {
		EXPECT_STREQ("", rd[i].err) TH_LOG("reader %d", i);
		EXPECT_LT(0u, rd[i].ops);
	}
	ASSERT_TRUE(_metadata->passed);
	assert_models(_metadata, self->fd, w, WORKERS);
	for (i = 0; i < WORKERS; i++)
		for (p = 0; p < W_PAGES; p++)
			pinned += w[i].perm[p] ? 1 : 0;
	ASSERT_PINS(pinned);

	ASSERT_EQ(0, epm_unmap_at(self->fd, 0, 1ULL << 48));
	assert_stats(_metadata, self->fd, 1, 0, 0, 0);
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

TEST_F_TIMEOUT(mem, threads_with_own_fds, 120)
{
	static struct worker w[WORKERS];
	atomic_int stop = 0;
	int i;

	for (i = 0; i < WORKERS; i++) {
		int fd = epm_open_dev();

		ASSERT_LE(0, fd);
		/* the same window in every file */
		start_worker(_metadata, &w[i], fd, SZ_1G, 0xf00d + i, &stop);
	}
	sleep_s(3);
	stop = 1;
	for (i = 0; i < WORKERS; i++)
		pthread_join(w[i].tid, NULL);

	for (i = 0; i < WORKERS; i++) {
		EXPECT_STREQ("", w[i].err) TH_LOG("worker %d", i);
		EXPECT_LT(0u, w[i].ops);
	}
	ASSERT_TRUE(_metadata->passed);
	for (i = 0; i < WORKERS; i++) {
		assert_models(_metadata, w[i].fd, &w[i], 1);
		ASSERT_EQ(0, close(w[i].fd));
	}
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

struct dup_user {
	int fd;
	atomic_int *stop;
	char *buf;
	atomic_ulong ops;
	char err[256];
};

static void *dup_user_run(void *arg)
{
	struct dup_user *u = arg;
	struct epm_stats st;
	struct epm_query q;
	uint64_t gpa;

	while (!*u->stop && !u->err[0]) {
		gpa = SZ_1G + (u->ops % 64) * SZ_4K;
		if (epm_map_at(u->fd, gpa, SZ_4K, u->buf, RW))
			fail(u->err, sizeof(u->err), "MAP: %s", strerror(errno));
		else if (epm_query_at(u->fd, gpa, &q) || q.level != 1)
			fail(u->err, sizeof(u->err), "QUERY: level %u", q.level);
		else if (epm_stats_of(u->fd, &st) || st.pinned_pages != 17)
			fail(u->err, sizeof(u->err), "STATS: %llu pinned",
			     st.pinned_pages);
		else if (epm_unmap_at(u->fd, gpa, SZ_4K))
			fail(u->err, sizeof(u->err), "UNMAP: %s",
			     strerror(errno));
		u->ops++;
	}
	return NULL;
}

TEST_F(mem, dup_fd_outlives_original_close)
{
	char *buf = alloc_4k(17 * SZ_4K);
	struct dup_user u = { 0 };
	atomic_int stop = 0;
	unsigned long before, after;
	struct epm_query q;
	pthread_t tid;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, epm_map_at(self->fd, 0, 16 * SZ_4K, buf, RW));
	u.fd = dup(self->fd);
	ASSERT_LE(0, u.fd);
	u.stop = &stop;
	u.buf = buf + 16 * SZ_4K;
	ASSERT_EQ(0, pthread_create(&tid, NULL, dup_user_run, &u));

	usleep(200 * 1000);
	before = u.ops;
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	sleep_s(1);
	stop = 1;
	pthread_join(tid, NULL);
	after = u.ops;

	ASSERT_STREQ("", u.err);
	ASSERT_LT(before, after) TH_LOG("no ioctl after the close");
	/* the space is the same one: the first mapping is still there */
	ASSERT_EQ(0, epm_query_at(u.fd, 0x5000, &q));
	ASSERT_EQ(1u, q.level);
	ASSERT_PINS(16);
	ASSERT_EQ(0, close(u.fd));
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

/* ---- module lifetime --------------------------------------------------------- */

TEST_F(mem, module_held_while_file_open)
{
	long ref0 = module_refcnt();
	int fds[3], i;

	if (ref0 < 0)
		SKIP(return, "no %s/refcnt: ept_pmap is not a loaded module",
		     MODULE_SYSFS);
	ASSERT_LE(1, ref0);
	for (i = 0; i < 3; i++) {
		fds[i] = epm_open_dev();
		ASSERT_LE(0, fds[i]);
	}
	ASSERT_EQ(ref0 + 3, module_refcnt());

	ASSERT_EQ(-1, syscall(SYS_delete_module, "ept_pmap", O_NONBLOCK));
	ASSERT_EQ(EWOULDBLOCK, errno);
	ASSERT_EQ(0, access(MODULE_SYSFS, F_OK));
	ASSERT_EQ(EPM_API_VERSION, ioctl(fds[0], EPM_IOC_VERSION));

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, close(fds[i]));
	ASSERT_EQ(ref0, module_refcnt());
}

/* ---- a big map ------------------------------------------------------------------ */

static long mem_available_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemAvailable: %ld", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

TEST_F_TIMEOUT(mem, big_map_1g_at_4k, 300)
{
	const uint64_t gpa = 5 * SZ_1G;
	struct epm_snap s;
	double t0, t1, t2;
	long avail = mem_available_kb();
	char *buf;
	long bad;

	if (avail < 1300 * 1024)
		SKIP(return, "needs 1.3 GiB free, %ld MiB available (boot with 3 GiB)",
		     avail / 1024);
	buf = alloc_thp(SZ_1G);
	ASSERT_NE(NULL, buf);

	t0 = now_s();
	ASSERT_EQ(0, epm_map_sized(self->fd, gpa, SZ_1G, buf, RW,
				   EPM_MEMTYPE_WB, EPM_PAGE_4K));
	t1 = now_s();
	/* root, PDPT, PD, 512 PTs */
	assert_stats(_metadata, self->fd, 1 + 1 + 1 + 512, SZ_1G, 0, 0);
	ASSERT_PINS(262144);
	ASSERT_LOCKED(SZ_1G);
	ASSERT_EQ(0, snap_take(self->fd, EPM_DUMP_LEAVES, &s));
	ASSERT_EQ(262144u, s.n);
	bad = leaves_tile(&s, gpa, SZ_1G, 1);
	ASSERT_EQ(-1, bad) TH_LOG("leaf %ld is not the next 4K leaf", bad);
	epm_snap_free(&s);

	t2 = now_s();
	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, SZ_1G));
	TH_LOG("MAP 1 GiB at 4K: %.2f s, UNMAP: %.2f s", t1 - t0,
	       now_s() - t2);
	assert_stats(_metadata, self->fd, 1, 0, 0, 0);
	ASSERT_PINS(0);
	ASSERT_LOCKED(0);
}

/* ---- long calls: killed, and never holding the space hostage --------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#define KILL_AFTER_MS	20
#define KILL_WITHIN_MS	100
#define KILL_MAP_SIZE	(8 * SZ_1G)

#ifndef MFD_HUGE_1GB
#define MFD_HUGE_1GB	(30U << 26)
#endif

/*
 * KILL_MAP_SIZE of present pages for the price of one: the lane's 1G
 * hugetlbfs page in a memfd, mapped again and again, back to back
 * (MAP_POPULATE: every PUD present, so pin_user_pages_fast() takes them
 * all without faulting, and the exit has 8 entries to clear). NULL if
 * there is no such page.
 */
static char *alias_hugetlb(void)
{
	int fd = memfd_create("epm-alias", MFD_CLOEXEC | MFD_HUGETLB |
			      MFD_HUGE_1GB);
	char *base;
	uint64_t off;

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, SZ_1G))
		goto err_close;
	/* hugetlb MAP_FIXED wants 1G aligned addresses */
	base = mmap(NULL, KILL_MAP_SIZE + SZ_1G, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		goto err_close;
	base = (char *)(((uintptr_t)base + SZ_1G - 1) & ~(SZ_1G - 1));
	for (off = 0; off < KILL_MAP_SIZE; off += SZ_1G) {
		if (mmap(base + off, SZ_1G, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0) ==
		    MAP_FAILED)
			goto err_close;
	}
	close(fd);
	return base;

err_close:
	close(fd);
	return NULL;
}

/*
 * One try: fork a child that maps KILL_MAP_SIZE, SIGKILL it KILL_AFTER_MS
 * in. Returns ms from the signal until it was reaped, -1 if there is no
 * 1G page, -2 if MAP was over before the signal (nothing to interrupt).
 */
static long long kill_mid_map(struct __test_metadata *_metadata)
{
	long long t0, t1;
	int p[2], status;
	char c = 0;
	pid_t pid;

	if (pipe(p))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		char *buf = alias_hugetlb();
		int fd = epm_open_dev();

		c = buf && fd >= 0 ? 'r' : 'n';
		if (write(p[1], &c, 1) != 1 || c != 'r')
			_exit(1);
		epm_map_sized(fd, 0, KILL_MAP_SIZE, buf, RW, EPM_MEMTYPE_WB,
			      EPM_PAGE_4K);
		c = 'd';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1 || c != 'r') {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(p[0]);
		return -1;
	}
	usleep(KILL_AFTER_MS * 1000);
	t0 = now_ms();
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	t1 = now_ms();
	/* 'd': MAP was over before the signal */
	c = 0;
	if (read(p[0], &c, 1) == 1) {
		close(p[0]);
		return -2;
	}
	close(p[0]);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	return t1 - t0;
}

/*
 * A long MAP of present pages (8 GiB at 4K leaves: pinning, then 4096
 * page tables to build; 1 GiB takes only ~30 ms under TCG, too little to
 * tell an interrupted MAP from a finished one) must end, and its process
 * with it, within 100 ms of SIGKILL, every pin dropped. The 1G page is
 * shared by the aliases, so the memory costs nothing to free at exit.
 * The best of three tries counts: a busy host can stall the emulator for
 * longer than that, while an uninterruptible MAP takes 500 ms or more
 * every time.
 */
TEST_F(mem, sigkill_mid_long_map_ends_within_100ms)
{
	long long ms, best = -1;
	int try;

	for (try = 0; try < 3 && (best < 0 || best >= KILL_WITHIN_MS); try++) {
		ms = kill_mid_map(_metadata);
		if (ms == -1)
			SKIP(return, "no hugetlbfs 1G page (boot with hugepagesz=1G hugepages=1)");
		if (ms == -2)
			SKIP(return, "MAP of %llu GiB ended within %d ms here: nothing to interrupt",
			     KILL_MAP_SIZE / SZ_1G, KILL_AFTER_MS);
		TH_LOG("SIGKILL %d ms into MAP of %llu GiB: the process ended %lld ms later",
		       KILL_AFTER_MS, KILL_MAP_SIZE / SZ_1G, ms);
		if (best < 0 || ms < best)
			best = ms;
		ASSERT_PINS(0);
	}
	ASSERT_GT(KILL_WITHIN_MS, best);
}

struct dump_call {
	int fd;
	struct epm_dump d;
	int ret, err;
};

static void *dump_run(void *arg)
{
	struct dump_call *c = arg;

	c->ret = ioctl(c->fd, EPM_IOC_DUMP, &c->d);
	c->err = errno;
	return NULL;
}

struct stats_call {
	int fd;
	struct epm_stats s;
	int ret;
	atomic_int done;
};

static void *stats_run(void *arg)
{
	struct stats_call *c = arg;

	c->ret = epm_stats_of(c->fd, &c->s);
	atomic_store(&c->done, 1);
	return NULL;
}

/*
 * DUMP into a buffer whose page faults go to a userfaultfd that never
 * answers: the DUMP waits, but STATS on the same file must not wait for
 * it (more than 100 ms). Then the fault is answered and DUMP completes.
 * More entries than one kernel batch (64), so that no version of DUMP
 * can get away with copying only after the walk.
 */
#define STALL_PAGES	80u
#define STALL_ENTRIES	(3u + STALL_PAGES)	/* PML4E, PDPTE, PDE, PTEs */
TEST_F(mem, dump_into_a_stalled_userfaultfd_buffer_blocks_no_stats)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_zeropage zero = { 0 };
	struct dump_call dc = { .fd = self->fd };
	struct stats_call sc = { .fd = self->fd };
	struct pollfd pfd;
	struct uffd_msg msg;
	struct epm_snap before;
	pthread_t dump_tid, stats_tid;
	char *plain = alloc_4k(STALL_PAGES * SZ_4K), *ubuf;
	long long t0, waited;
	int uffd;

	ASSERT_NE(NULL, plain);
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "no userfaultfd here: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	ubuf = mmap(NULL, 4 * SZ_4K, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ubuf);
	reg.range.start = (uintptr_t)ubuf;
	reg.range.len = 4 * SZ_4K;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	ASSERT_EQ(0, epm_map_at(self->fd, 0x200000, STALL_PAGES * SZ_4K, plain,
				RW));
	ASSERT_EQ(0, snap_take(self->fd, 0, &before));
	ASSERT_EQ(STALL_ENTRIES, before.n);

	dc.d.buf = (uintptr_t)ubuf;
	dc.d.count = 2 * STALL_ENTRIES;
	ASSERT_EQ(0, pthread_create(&dump_tid, NULL, dump_run, &dc));
	/* DUMP's copy-out faulted: the fault is ours to answer (or not) */
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 5000)) TH_LOG("DUMP never faulted");
	ASSERT_EQ((ssize_t)sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	t0 = now_ms();
	ASSERT_EQ(0, pthread_create(&stats_tid, NULL, stats_run, &sc));
	while (!atomic_load(&sc.done) && now_ms() - t0 < 1000)
		usleep(1000);
	waited = now_ms() - t0;

	/* answer the fault: everything goes on, whatever was measured */
	zero.range.start = msg.arg.pagefault.address & ~(SZ_4K - 1);
	zero.range.len = SZ_4K;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zero));
	pthread_join(stats_tid, NULL);
	pthread_join(dump_tid, NULL);
	close(uffd);

	TH_LOG("STATS during the stalled DUMP took %lld ms", waited);
	ASSERT_GT(100, waited);
	ASSERT_EQ(0, sc.ret);
	ASSERT_EQ(STALL_PAGES, sc.s.pinned_pages);
	ASSERT_EQ(0, dc.ret) TH_LOG("DUMP: %s", strerror(dc.err));
	ASSERT_EQ(STALL_ENTRIES, dc.d.count);
	ASSERT_EQ(EPM_DUMP_DONE, dc.d.cursor);
	ASSERT_EQ(0, memcmp(before.e, ubuf, STALL_ENTRIES * sizeof(*before.e)));
	epm_snap_free(&before);
}

int main(int argc, char **argv)
{
	if (access(EPM_DEV, F_OK)) {
		ksft_print_header();
		ksft_exit_skip("no %s: load ept_pmap first\n", EPM_DEV);
	}
	return test_harness_run(argc, argv);
}
