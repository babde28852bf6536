// SPDX-License-Identifier: GPL-2.0
/*
 * ept-pmap under injected allocation failures (debug-kernel lane only).
 *
 * For every call that allocates -- open, MAP building new tables (4K and
 * THP 2M leaves), UNMAP and PROTECT splitting a THP-backed 2M leaf and a
 * hugetlbfs 1G leaf, DUMP (its kernel bounce buffer), RUN's first-use setup
 * when CAPS says EPM_CAP_RUN -- fail the N-th fault-injection point the
 * call passes through, for N = 1, 2, ... until the call passes fewer than N
 * points (the injection was not consumed). Every call where a fault was
 * injected must either fail with ENOMEM and leave the address space exactly
 * as before (DUMP identical, entry for entry and address for address;
 * CHECK clean; STATS unchanged) or succeed with the same result as a run
 * without injection (a failure the kernel absorbed: kmemleak's metadata
 * pool, kvmalloc's vmalloc fallback, ...). Pins (/proc/vmstat
 * nr_foll_pin_acquired - nr_foll_pin_released) are back to their baseline
 * after every iteration's close. Leaks are judged by kmemleak at the end of
 * the lane.
 *
 * Targeting the N-th allocation: 6.1's fault_attr counter ("interval")
 * cannot be reset from debugfs and "space" counts bytes, so neither can aim
 * at "exactly the N-th allocation of this call". The kernel's own tool for
 * that is /proc/thread-self/fail-nth (Documentation/fault-injection/
 * fault-injection.rst, "Systematic faults using fail-nth"): writing N makes
 * the N-th should_fail() call of this thread fail, whatever the
 * probability/interval/times settings; reading it back gives 0 once the
 * fault was injected. It passes the per-capability filters first, so
 * failslab and fail_page_alloc are set to ignore-gfp-wait=N,
 * ignore-gfp-highmem=N, min-order=0 (GFP_KERNEL allocations and order-0
 * pages take part). Everything else is kept from firing: task-filter=Y
 * with /proc/self/make-it-fail=0 (and no other task sets it), times=1,
 * verbose=0 (a "forcing a failure" stack dump would read as a Call Trace
 * on the console). The test "fail_nth_hits_exactly_the_nth" checks the
 * mechanism itself: a call with no allocation does not consume N, and the
 * first allocation of DUMP and open is the one that fails at N = 1.
 *
 * Prints "# faultinj: K injection points exercised" at the end (the last
 * test) and fails unless K > 0. SKIPs (exit 4) on a kernel without
 * fault injection.
 *
 * EPM_FAULTINJ_ONLY="run_setup open ..." runs only the tests named (and
 * the count): the Bochs run of the lane uses it for RUN, the one call QEMU
 * cannot make (6.1's harness takes no test filter on its command line).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "epm_test.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT		26
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB		(30 << MAP_HUGE_SHIFT)
#endif

#define RW		(EPM_PERM_R | EPM_PERM_W)
#define DEBUGFS		"/sys/kernel/debug"
#define MAX_NTH		20000	/* a call passing more points is a bug here */

#define GPA_4K		(SZ_1G - SZ_2M - 2 * SZ_4K)	/* crosses PT and PD */
#define SIZE_4K		(SZ_2M + 4 * SZ_4K)
#define GPA_THP		(4 * SZ_1G)
#define SIZE_THP	(2 * SZ_2M)
#define GPA_1G		(8 * SZ_1G)
#define GPA_CODE	0x0ULL

/* ---- totals over every test (each runs in its own child) ----------------- */

struct fi_totals {
	long points;	/* calls made with a fault injected */
	long failed;	/* ... that failed with ENOMEM */
	long absorbed;	/* ... that succeeded all the same */
	long calls;	/* kinds of call swept */
	long skipped;	/* sweeps that could not run here */
};
static struct fi_totals *totals;

static void __attribute__((constructor)) fi_totals_init(void)
{
	totals = mmap(NULL, sizeof(*totals), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (totals == MAP_FAILED)
		totals = NULL;
	else
		memset(totals, 0, sizeof(*totals));
}

/* A "# " line that survives the harness's _exit() of a test child. */
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

/* ---- debugfs knobs --------------------------------------------------------- */

struct knob {
	const char *path;
	const char *value;
	char saved[32];
	bool have_saved;
};

static struct knob knobs[] = {
	{ .path = DEBUGFS "/failslab/task-filter", .value = "Y" },
	{ .path = DEBUGFS "/failslab/probability", .value = "100" },
	{ .path = DEBUGFS "/failslab/interval", .value = "1" },
	{ .path = DEBUGFS "/failslab/times", .value = "1" },
	{ .path = DEBUGFS "/failslab/space", .value = "0" },
	{ .path = DEBUGFS "/failslab/verbose", .value = "0" },
	{ .path = DEBUGFS "/failslab/ignore-gfp-wait", .value = "N" },
	{ .path = DEBUGFS "/failslab/cache-filter", .value = "N" },
	{ .path = DEBUGFS "/fail_page_alloc/task-filter", .value = "Y" },
	{ .path = DEBUGFS "/fail_page_alloc/probability", .value = "100" },
	{ .path = DEBUGFS "/fail_page_alloc/interval", .value = "1" },
	{ .path = DEBUGFS "/fail_page_alloc/times", .value = "1" },
	{ .path = DEBUGFS "/fail_page_alloc/space", .value = "0" },
	{ .path = DEBUGFS "/fail_page_alloc/verbose", .value = "0" },
	{ .path = DEBUGFS "/fail_page_alloc/ignore-gfp-wait", .value = "N" },
	{ .path = DEBUGFS "/fail_page_alloc/ignore-gfp-highmem", .value = "N" },
	{ .path = DEBUGFS "/fail_page_alloc/min-order", .value = "0" },
};

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static int read_str(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* Set every knob, remembering the old values. Returns the failing path. */
static const char *knobs_set(void)
{
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		knobs[i].have_saved = !read_str(knobs[i].path, knobs[i].saved,
						sizeof(knobs[i].saved));
		if (write_str(knobs[i].path, knobs[i].value))
			return knobs[i].path;
	}
	return NULL;
}

static void knobs_restore(void)
{
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		if (knobs[i].have_saved)
			write_str(knobs[i].path, knobs[i].saved);
	}
}

/* ---- fail-nth ---------------------------------------------------------------- */

static int nth_fd = -1;

/* Fail this thread's @n-th fault-injection point from now on. */
static int nth_arm(unsigned int n)
{
	char b[16];
	int l = snprintf(b, sizeof(b), "%u", n);

	return pwrite(nth_fd, b, l, 0) == l ? 0 : -1;
}

/*
 * Disarm; returns what was left of the count: 0 when the fault was
 * injected, > 0 when the call passed fewer points than asked, -1 on error.
 */
static long nth_disarm(void)
{
	char b[16] = "";
	long left;

	if (pread(nth_fd, b, sizeof(b) - 1, 0) <= 0)
		return -1;
	left = strtol(b, NULL, 10);
	if (pwrite(nth_fd, "0", 1, 0) != 1)
		return -1;
	return left;
}

/* ---- the address space, as seen from userspace ------------------------------- */

struct state {
	struct epm_snap snap;
	struct epm_stats stats;
	long long mismatches;
};

static int state_take(int fd, struct state *s)
{
	if (epm_snap_take(fd, &s->snap))
		return -1;
	if (epm_stats_of(fd, &s->stats))
		return -1;
	s->mismatches = epm_check_count(fd);
	return s->mismatches < 0 ? -1 : 0;
}

static void state_free(struct state *s)
{
	epm_snap_free(&s->snap);
}

/* The counters MAP/UNMAP/PROTECT change (not flushes, runs, exits). */
static bool stats_equal(const struct epm_stats *a, const struct epm_stats *b)
{
	return a->table_pairs == b->table_pairs &&
	       a->table_bytes == b->table_bytes &&
	       a->mapped_4k == b->mapped_4k && a->mapped_2m == b->mapped_2m &&
	       a->mapped_1g == b->mapped_1g &&
	       a->pinned_pages == b->pinned_pages;
}

/* Identical, entry for entry (addresses included when @exact). */
static bool state_equal(const struct state *a, const struct state *b,
			bool exact)
{
	const uint64_t addr = 0x000ffffffffff000ULL;
	size_t i;

	if (!stats_equal(&a->stats, &b->stats) || a->snap.n != b->snap.n)
		return false;
	if (exact)
		return epm_snap_equal(&a->snap, &b->snap);
	for (i = 0; i < a->snap.n; i++) {
		const struct epm_dump_entry *x = &a->snap.e[i], *y = &b->snap.e[i];

		if (x->gpa != y->gpa || x->level != y->level ||
		    x->leaf != y->leaf || (x->kpte & ~addr) != (y->kpte & ~addr) ||
		    (x->epte & ~addr) != (y->epte & ~addr))
			return false;
	}
	return true;
}

/* ---- the calls under test ------------------------------------------------------ */

struct fi_mem {
	char *m4k;		/* SIZE_4K of 4 KiB pages */
	char *thp;		/* SIZE_THP, THP-backed (checked) */
	char *g1;		/* 1 GiB hugetlbfs page, or NULL */
	char *dumpbuf;		/* DUMP target, touched */
	size_t dumpcount;
	struct epm_caps caps;
};

/* One kind of call: how to build the state before it, and the call. */
struct fi_call {
	const char *name;
	int (*setup)(struct fi_mem *m, int fd);
	int (*call)(struct fi_mem *m, int fd);
};

static int setup_none(struct fi_mem *m, int fd)
{
	(void)m;
	(void)fd;
	return 0;
}

static int setup_thp(struct fi_mem *m, int fd)
{
	return epm_map_at(fd, GPA_THP, SIZE_THP, m->thp, RW);
}

static int setup_1g(struct fi_mem *m, int fd)
{
	return epm_map_at(fd, GPA_1G, SZ_1G, m->g1, RW);
}

static int setup_mixed(struct fi_mem *m, int fd)
{
	return epm_map_sized(fd, GPA_4K, SIZE_4K, m->m4k, RW, 0, EPM_PAGE_4K) ?:
	       setup_thp(m, fd);
}

static int setup_code(struct fi_mem *m, int fd)
{
	m->m4k[0] = (char)0xf4;		/* hlt */
	return epm_map_sized(fd, GPA_CODE, SZ_4K, m->m4k, EPM_PERM_ALL, 0,
			     EPM_PAGE_4K);
}

static int call_map_4k(struct fi_mem *m, int fd)
{
	return epm_map_sized(fd, GPA_4K, SIZE_4K, m->m4k, RW, 0, EPM_PAGE_4K);
}

static int call_map_thp(struct fi_mem *m, int fd)
{
	return setup_thp(m, fd);
}

static int call_unmap_split_2m(struct fi_mem *m, int fd)
{
	(void)m;
	return epm_unmap_at(fd, GPA_THP + SZ_2M + SZ_4K, SZ_4K);
}

static int call_protect_split_2m(struct fi_mem *m, int fd)
{
	(void)m;
	return epm_protect_at(fd, GPA_THP + 5 * SZ_4K, SZ_4K, EPM_PERM_R);
}

static int call_unmap_split_1g(struct fi_mem *m, int fd)
{
	(void)m;
	return epm_unmap_at(fd, GPA_1G + 3 * SZ_2M + SZ_4K, SZ_4K);
}

static int call_protect_split_1g(struct fi_mem *m, int fd)
{
	(void)m;
	return epm_protect_at(fd, GPA_1G + SZ_1G - SZ_4K, SZ_4K, EPM_PERM_R);
}

static int call_dump(struct fi_mem *m, int fd)
{
	struct epm_dump d = {
		.buf = (uintptr_t)m->dumpbuf, .count = (uint32_t)m->dumpcount,
	};

	return ioctl(fd, EPM_IOC_DUMP, &d);
}

static int call_run(struct fi_mem *m, int fd)
{
	struct epm_run r;
	int ret;

	(void)m;
	memset(&r, 0, sizeof(r));
	r.mode = EPM_MODE_PROT32;
	r.timeout_ns = 2000000000ULL;
	r.regs.rip = GPA_CODE;
	r.regs.rflags = 0x2;
	ret = ioctl(fd, EPM_IOC_RUN, &r);
	if (!ret && r.exit_kind != EPM_EXIT_HLT) {
		errno = EPROTO;		/* not the HLT it should have reached */
		return -1;
	}
	return ret;
}

/* ---- the sweep -------------------------------------------------------------------- */

struct sweep_result {
	long points, failed, absorbed;
	unsigned int last_n;
};

#define PINS_NOW()	epm_pins_exact()

/*
 * Sweep one call: a reference run without injection, then N = 1, 2, ...
 * each on a fresh file. Any violation is an ASSERT failure naming N.
 */
static void sweep(struct __test_metadata *_metadata, struct fi_mem *m,
		  const struct fi_call *c, struct sweep_result *res)
{
	struct state ref_before, ref_after;
	long long pins0;
	unsigned int n;
	int fd;

	memset(res, 0, sizeof(*res));
	pins0 = PINS_NOW();
	ASSERT_LE(0, pins0);

	/* the reference: what the call does when nothing fails */
	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, c->setup(m, fd)) TH_LOG("%s: setup: %s", c->name, strerror(errno));
	ASSERT_EQ(0, state_take(fd, &ref_before));
	ASSERT_EQ(0, c->call(m, fd)) TH_LOG("%s without injection: %s", c->name,
					    strerror(errno));
	ASSERT_EQ(0, state_take(fd, &ref_after));
	ASSERT_EQ(0, ref_after.mismatches);
	close(fd);
	ASSERT_EQ(pins0, PINS_NOW()) TH_LOG("%s: reference run left pins", c->name);

	for (n = 1; n <= MAX_NTH; n++) {
		struct state before, after;
		long long pins_before;
		int ret, err;
		long left;

		fd = epm_open_dev();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, c->setup(m, fd));
		ASSERT_EQ(0, state_take(fd, &before));
		/* other files, other table pages: compare all but addresses */
		ASSERT_TRUE(state_equal(&before, &ref_before, false))
			TH_LOG("%s N=%u: the state before differs from the reference", c->name, n);
		pins_before = PINS_NOW();

		ASSERT_EQ(0, nth_arm(n));
		ret = c->call(m, fd);
		err = errno;
		left = nth_disarm();
		ASSERT_LE(0, left);

		ASSERT_EQ(0, state_take(fd, &after));
		ASSERT_EQ(0, after.mismatches)
			TH_LOG("%s N=%u: CHECK finds %lld mismatches (call returned %d, %s)",
			       c->name, n, after.mismatches, ret, strerror(err));
		if (left > 0) {
			/* the call passed fewer than n points: the sweep is done */
			ASSERT_EQ(0, ret) TH_LOG("%s N=%u (not injected): %s", c->name, n,
						 strerror(err));
			ASSERT_TRUE(state_equal(&after, &ref_after, false))
				TH_LOG("%s N=%u: result differs from the reference", c->name, n);
			state_free(&before);
			state_free(&after);
			close(fd);
			ASSERT_EQ(pins0, PINS_NOW());
			break;
		}
		res->points++;
		if (ret) {
			res->failed++;
			ASSERT_EQ(ENOMEM, err)
				TH_LOG("%s N=%u: failed with %s, not ENOMEM", c->name, n,
				       strerror(err));
			ASSERT_TRUE(state_equal(&after, &before, true))
				TH_LOG("%s N=%u: a failed call changed the address space (%zu -> %zu entries, %llu -> %llu pairs)",
				       c->name, n, before.snap.n, after.snap.n,
				       (unsigned long long)before.stats.table_pairs,
				       (unsigned long long)after.stats.table_pairs);
			ASSERT_EQ(pins_before, PINS_NOW())
				TH_LOG("%s N=%u: a failed call left pins unbalanced", c->name, n);
		} else {
			res->absorbed++;
			ASSERT_TRUE(state_equal(&after, &ref_after, false))
				TH_LOG("%s N=%u: succeeded with an injected fault but the result differs from the reference",
				       c->name, n);
		}
		state_free(&before);
		state_free(&after);
		close(fd);
		ASSERT_EQ(pins0, PINS_NOW())
			TH_LOG("%s N=%u: pins not balanced after close", c->name, n);
	}
	ASSERT_GE(MAX_NTH, n) TH_LOG("%s: more than %u injection points?", c->name, MAX_NTH);
	res->last_n = n;
	state_free(&ref_before);
	state_free(&ref_after);

	say("faultinj: %s: %ld injection points (%ld failed with ENOMEM, %ld absorbed by the kernel)",
	    c->name, res->points, res->failed, res->absorbed);
	if (totals) {
		__atomic_add_fetch(&totals->points, res->points, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&totals->failed, res->failed, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&totals->absorbed, res->absorbed, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&totals->calls, 1, __ATOMIC_SEQ_CST);
	}
	/* the module's own allocations are among them: some call must fail */
	ASSERT_LT(0, res->failed) TH_LOG("%s: no injected fault ever made the call fail", c->name);
}

/* ---- fixture ------------------------------------------------------------------------ */

static bool thp_backed(const char *p, size_t size)
{
	size_t off, i;

	for (off = 0; off < size; off += SZ_2M) {
		uint64_t pfn = epm_pfn_of(p + off);

		if (!pfn || pfn % 512)
			return false;
		for (i = 1; i < 512; i += 37) {
			if (epm_pfn_of(p + off + i * SZ_4K) != pfn + i)
				return false;
		}
	}
	return true;
}

FIXTURE(fi) {
	struct fi_mem m;
	bool knobs_set;
};

/* Is this test left out by EPM_FAULTINJ_ONLY (a blank-separated list)? */
static bool not_selected(const char *name)
{
	const char *only = getenv("EPM_FAULTINJ_ONLY");
	size_t len = strlen(name);
	const char *p;

	if (!only || !strcmp(name, "total"))
		return false;
	for (p = only; (p = strstr(p, name)); p += len) {
		if ((p == only || p[-1] == ' ') && (p[len] == ' ' || !p[len]))
			return false;
	}
	return true;
}

FIXTURE_SETUP(fi)
{
	const char *bad;
	int fd;

	memset(&self->m, 0, sizeof(self->m));
	self->knobs_set = false;
	if (not_selected(_metadata->name))
		SKIP(return, "not selected (EPM_FAULTINJ_ONLY=%s)", getenv("EPM_FAULTINJ_ONLY"));
	if (geteuid() != 0)
		SKIP(return, "needs root (debugfs, /proc/vmstat refresh)");
	if (access(DEBUGFS "/failslab", F_OK) || access(DEBUGFS "/fail_page_alloc", F_OK))
		SKIP(return, "no failslab/fail_page_alloc in %s: this kernel has no fault injection (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS)",
		     DEBUGFS);
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth_fd < 0)
		SKIP(return, "no /proc/thread-self/fail-nth: %s", strerror(errno));
	fd = epm_open_dev();
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", EPM_DEV, strerror(errno));
	ASSERT_EQ(0, ioctl(fd, EPM_IOC_CAPS, &self->m.caps));
	close(fd);

	ASSERT_EQ(0, write_str("/proc/self/make-it-fail", "0"));
	bad = knobs_set();
	self->knobs_set = true;
	ASSERT_EQ(NULL, bad) TH_LOG("cannot set %s: %s", bad, strerror(errno));

	self->m.m4k = epm_alloc(SIZE_4K, SZ_4K, MADV_NOHUGEPAGE);
	ASSERT_NE(NULL, self->m.m4k);
	self->m.thp = epm_alloc(SIZE_THP, SZ_2M, MADV_HUGEPAGE);
	ASSERT_NE(NULL, self->m.thp);
	self->m.dumpcount = 4096;
	self->m.dumpbuf = calloc(self->m.dumpcount, sizeof(struct epm_dump_entry));
	ASSERT_NE(NULL, self->m.dumpbuf);
	memset(self->m.dumpbuf, 1, self->m.dumpcount * sizeof(struct epm_dump_entry));
	/* Everything above is faulted in: no page fault inside an armed call. */
}

FIXTURE_TEARDOWN(fi)
{
	if (nth_fd >= 0) {
		if (pwrite(nth_fd, "0", 1, 0) != 1)
			TH_LOG("cannot reset fail-nth");
		close(nth_fd);
		nth_fd = -1;
	}
	if (self->knobs_set)
		knobs_restore();
}

/* SKIP in FIXTURE_SETUP does not stop 6.1's harness from running the body */
#define SETUP_SKIPPED() do { if (_metadata->skip) return; } while (0)

static void skipped_sweep(void)
{
	if (totals)
		__atomic_add_fetch(&totals->skipped, 1, __ATOMIC_SEQ_CST);
}

#define REQUIRE_THP(m) do { \
	if (!thp_backed((m)->thp, SIZE_THP)) { \
		skipped_sweep(); \
		SKIP(return, "THP did not form for the 2M leaves"); \
	} \
} while (0)

#define REQUIRE_1G(m) do { \
	if (!((m)->caps.map_sizes & (1u << EPM_PAGE_1G))) { \
		skipped_sweep(); \
		SKIP(return, "no 1G leaves on this CPU (map_sizes %#x)", (m)->caps.map_sizes); \
	} \
	(m)->g1 = mmap(NULL, SZ_1G, PROT_READ | PROT_WRITE, \
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0); \
	if ((m)->g1 == MAP_FAILED) { \
		(m)->g1 = NULL; \
		skipped_sweep(); \
		SKIP(return, "no 1 GiB hugetlb page (hugepagesz=1G hugepages=1): %s", strerror(errno)); \
	} \
	memset((m)->g1, 0x5a, SZ_4K); \
} while (0)

/* ---- the mechanism itself ----------------------------------------------------------- */

TEST_F_TIMEOUT(fi, fail_nth_hits_exactly_the_nth, 120)
{
	struct epm_stats s;
	long left;
	int fd, fd2, err;

	SETUP_SKIPPED();

	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, setup_mixed(&self->m, fd));

	/* STATS allocates nothing: the count must come back untouched */
	ASSERT_EQ(0, nth_arm(3));
	ASSERT_EQ(0, epm_stats_of(fd, &s));
	left = nth_disarm();
	ASSERT_EQ(3, left) TH_LOG("STATS consumed fault-injection points");

	/* DUMP: the bounce buffer is the first allocation */
	ASSERT_EQ(0, nth_arm(1));
	ASSERT_EQ(-1, call_dump(&self->m, fd));
	err = errno;
	ASSERT_EQ(0, nth_disarm());
	ASSERT_EQ(ENOMEM, err);
	ASSERT_EQ(0, call_dump(&self->m, fd));

	/* open: the very first point fails it (in the VFS or in the module) */
	ASSERT_EQ(0, nth_arm(1));
	fd2 = epm_open_dev();
	err = errno;
	ASSERT_EQ(0, nth_disarm());
	ASSERT_EQ(-1, fd2);
	ASSERT_EQ(ENOMEM, err);

	/* and nothing else fails while disarmed */
	fd2 = epm_open_dev();
	ASSERT_LE(0, fd2);
	close(fd2);
	close(fd);
}

/* ---- open ------------------------------------------------------------------------------- */

TEST_F_TIMEOUT(fi, open, 300)
{
	long long pins0 = PINS_NOW();
	long points = 0, failed = 0;
	unsigned int n;

	SETUP_SKIPPED();

	for (n = 1; n <= MAX_NTH; n++) {
		struct state st;
		long left;
		int fd, err;

		ASSERT_EQ(0, nth_arm(n));
		fd = epm_open_dev();
		err = errno;
		left = nth_disarm();
		ASSERT_LE(0, left);
		if (fd < 0) {
			ASSERT_EQ(0, left);
			ASSERT_EQ(ENOMEM, err) TH_LOG("open N=%u: %s", n, strerror(err));
			points++;
			failed++;
			continue;
		}
		if (!left)
			points++;
		/* a file that opened is a working, empty space */
		ASSERT_EQ(0, state_take(fd, &st));
		ASSERT_EQ(0, st.mismatches);
		ASSERT_EQ(0u, st.snap.n);
		ASSERT_EQ(1u, st.stats.table_pairs);
		state_free(&st);
		ASSERT_EQ(0, call_map_4k(&self->m, fd));
		close(fd);
		ASSERT_EQ(pins0, PINS_NOW());
		if (left)
			break;
	}
	say("faultinj: open: %ld injection points (%ld failed with ENOMEM, %ld absorbed by the kernel)",
	    points, failed, points - failed);
	if (totals) {
		__atomic_add_fetch(&totals->points, points, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&totals->failed, failed, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&totals->absorbed, points - failed, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&totals->calls, 1, __ATOMIC_SEQ_CST);
	}
	ASSERT_LT(0, failed);
}

/* ---- MAP, UNMAP, PROTECT, DUMP, RUN ------------------------------------------------------ */

TEST_F_TIMEOUT(fi, map_4k_new_tables, 300)
{
	static const struct fi_call c = { "MAP 4K leaves, 6 new tables", setup_none, call_map_4k };
	struct sweep_result r;

	SETUP_SKIPPED();

	sweep(_metadata, &self->m, &c, &r);
}

TEST_F_TIMEOUT(fi, map_thp_2m_leaves, 300)
{
	static const struct fi_call c = { "MAP THP as 2M leaves", setup_none, call_map_thp };
	struct sweep_result r;

	SETUP_SKIPPED();

	REQUIRE_THP(&self->m);
	sweep(_metadata, &self->m, &c, &r);
}

TEST_F_TIMEOUT(fi, unmap_splits_2m, 300)
{
	static const struct fi_call c = { "UNMAP splitting a 2M leaf", setup_thp, call_unmap_split_2m };
	struct sweep_result r;

	SETUP_SKIPPED();

	REQUIRE_THP(&self->m);
	sweep(_metadata, &self->m, &c, &r);
}

TEST_F_TIMEOUT(fi, protect_splits_2m, 300)
{
	static const struct fi_call c = { "PROTECT splitting a 2M leaf", setup_thp, call_protect_split_2m };
	struct sweep_result r;

	SETUP_SKIPPED();

	REQUIRE_THP(&self->m);
	sweep(_metadata, &self->m, &c, &r);
}

TEST_F_TIMEOUT(fi, unmap_splits_1g, 400)
{
	static const struct fi_call c = { "UNMAP splitting a 1G leaf", setup_1g, call_unmap_split_1g };
	struct sweep_result r;

	SETUP_SKIPPED();

	REQUIRE_1G(&self->m);
	sweep(_metadata, &self->m, &c, &r);
}

TEST_F_TIMEOUT(fi, protect_splits_1g, 400)
{
	static const struct fi_call c = { "PROTECT splitting a 1G leaf", setup_1g, call_protect_split_1g };
	struct sweep_result r;

	SETUP_SKIPPED();

	REQUIRE_1G(&self->m);
	sweep(_metadata, &self->m, &c, &r);
}

TEST_F_TIMEOUT(fi, dump, 300)
{
	static const struct fi_call c = { "DUMP", setup_mixed, call_dump };
	struct sweep_result r;

	SETUP_SKIPPED();

	sweep(_metadata, &self->m, &c, &r);
}

TEST_F_TIMEOUT(fi, run_setup, 300)
{
	static const struct fi_call c = { "RUN (first run on a file)", setup_code, call_run };
	struct sweep_result r;

	SETUP_SKIPPED();

	if (!(self->m.caps.flags & EPM_CAP_RUN)) {
		skipped_sweep();
		SKIP(return, "no EPM_CAP_RUN here (no usable VMX)");
	}
	sweep(_metadata, &self->m, &c, &r);
}

/* ---- the count (runs last) ------------------------------------------------------------------ */

/* a test of the fixture, so that it runs after the sweeps above */
TEST_F(fi, total)
{
	SETUP_SKIPPED();
	if (!totals)
		SKIP(return, "no shared counters");
	if (access(DEBUGFS "/failslab", F_OK))
		SKIP(return, "no fault injection in this kernel");
	say("faultinj: %ld injection points exercised (%ld made the call fail with ENOMEM, %ld absorbed by the kernel) over %ld kinds of call; %ld sweeps skipped",
	    totals->points, totals->failed, totals->absorbed, totals->calls,
	    totals->skipped);
	ASSERT_LT(0, totals->points);
}

TEST_HARNESS_MAIN
