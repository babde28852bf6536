// SPDX-License-Identifier: GPL-2.0
/*
 * vm_bench: the module's MAP against pinning alone, in one boot.
 *
 * The target (Documentation/design.md, "Benchmarks"): MAP of 1 GiB of user
 * memory at 4 KiB within 1.25x of pin_user_pages_fast() alone on the same
 * range. Userspace cannot call that directly; the closest thing it can
 * reach is io_uring's buffer registration, which pins the very same pages
 * the same way (FOLL_WRITE | FOLL_LONGTERM) and keeps them pinned until the
 * buffer is unregistered.
 * So, on one 1 GiB buffer:
 *
 *   ept-pmap:  EPM_IOC_MAP (pin + KPT/EPT tables) then EPM_IOC_UNMAP
 *   io_uring:  IORING_REGISTER_BUFFERS (one iovec) then
 *              IORING_UNREGISTER_BUFFERS
 *
 * first with 4 KiB pages (MADV_NOHUGEPAGE, max_page 4K), then with THP
 * (MADV_HUGEPAGE, 2 MiB aligned, max_page 0). The buffer is written before
 * any of it, so both sides pin pages that exist. Each phase runs one
 * warm-up round and then N rounds, each round doing both sides, the order
 * swapped every round so that neither always goes first; the best round of
 * each is compared, and the ratio (MAP + UNMAP) / (REGISTER + UNREGISTER)
 * is judged against 1.25x (PASS or MISS, reported, never a failure).
 *
 * What is checked (a failure makes the exit status 1): after every MAP,
 * STATS says table_bytes == table_pairs * 8192 == the tables the layout
 * needs (1 GiB at a 1 GiB-aligned gpa: root, PDPT, PD and one PT per 2 MiB
 * not mapped by a 2M leaf, so 515 pairs at 4K and 3 with every 2M a leaf),
 * pinned_pages == 262144 and the leaves add up to 1 GiB; at 4K every leaf
 * is 4K, and when /proc/self/smaps shows the whole buffer as THP every
 * leaf is 2M (or 1G). In the warm-up round also CHECK finds no mismatch
 * and /proc/vmstat's pin counters move by what both sides say they pin.
 * After every UNMAP nothing is pinned or mapped and at most the root is
 * left.
 *
 * To explain a miss it also prints the parts apart (MAP against REGISTER,
 * UNMAP against UNREGISTER), how many pins io_uring holds (it coalesces
 * the pins of a large folio into one) and, at 4K, a userspace floor of the
 * table work alone: the same bytes of tables zeroed and the same 2 x 262144
 * entries written in a plain loop.
 *
 * Run it as root: CAP_IPC_LOCK lifts RLIMIT_MEMLOCK for both sides, and
 * /proc/sys/vm/stat_refresh needs it. Under an emulator the times are only
 * indicative; the ratios, taken in the same run, are what it is for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "ept-pmap.h"	/* libept-pmap */
#include <linux/io_uring.h>

#define SZ_4K		0x1000ULL
#define SZ_2M		0x200000ULL
#define SZ_1G		0x40000000ULL
#define BUF_SIZE	SZ_1G
#define BUF_PAGES	(BUF_SIZE / SZ_4K)
#define BENCH_GPA	SZ_1G		/* 1 GiB aligned */
#define TABLE_PAIR	8192ULL		/* a KPT page and an EPT page */
#define TARGET		1.25
#define DEFAULT_REPS	9
#define MAX_REPS	50
#define WARMUP		1
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct phase {
	const char *name;
	int advice;			/* madvise() before the first touch */
	unsigned char max_page;		/* MAP max_page */
};

static const struct phase phases[] = {
	{ "4K", MADV_NOHUGEPAGE, EPM_PAGE_4K },
	{ "THP", MADV_HUGEPAGE, 0 },
};

/* One column of a phase: a time per counted round. */
struct samples {
	double v[MAX_REPS];
	int n;
};

struct side {
	struct samples first;		/* MAP or REGISTER */
	struct samples second;		/* UNMAP or UNREGISTER */
	struct samples total;
};

struct bench {
	int epm;			/* /dev/ept-pmap */
	int ring;			/* io_uring, or -1 when unavailable */
	unsigned char *buf;		/* BUF_SIZE, 2 MiB aligned */
	void *map_base;			/* what to munmap */
	size_t map_len;
	unsigned long long thp;		/* bytes of buf that smaps shows THP */
	unsigned long long leaves_2m;	/* 2M leaves of the last MAP */
	long long pins_map;		/* pins MAP added, -1 unknown */
	long long pins_reg;		/* pins REGISTER added, -1 unknown */
	unsigned char *tables;		/* for the userspace floor */
};

static int failures;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("FAIL: ");
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	failures++;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double ms(double s)
{
	return s * 1e3;
}

static void add(struct samples *s, double v)
{
	if (s->n < MAX_REPS)
		s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double best(const struct samples *s)
{
	double b = s->v[0];
	int i;

	for (i = 1; i < s->n; i++) {
		if (s->v[i] < b)
			b = s->v[i];
	}
	return b;
}

static double median(const struct samples *s)
{
	double v[MAX_REPS];

	memcpy(v, s->v, s->n * sizeof(v[0]));
	qsort(v, s->n, sizeof(v[0]), cmp_double);
	return s->n & 1 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

/* --- the system around ------------------------------------------------- */

static int sys_io_uring_setup(unsigned int entries, struct io_uring_params *p)
{
	return syscall(__NR_io_uring_setup, entries, p);
}

static int sys_io_uring_register(int fd, unsigned int op, void *arg,
				 unsigned int nr)
{
	return syscall(__NR_io_uring_register, fd, op, arg, nr);
}

/*
 * Pins held system-wide, in 4 KiB pages: nr_foll_pin_acquired minus
 * nr_foll_pin_released, after folding every CPU's pending deltas in
 * (root only). -1 when it cannot be read.
 */
static long long pins_held(void)
{
	long long acq = -1, rel = -1, v;
	char name[64];
	FILE *f;
	int fd;

	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, "1\n", 2) != 2) {
		close(fd);
		return -1;
	}
	close(fd);
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			rel = v;
	}
	fclose(f);
	return acq < 0 || rel < 0 ? -1 : acq - rel;
}

/* Bytes of [addr, addr + len) that /proc/self/smaps counts as THP. */
static unsigned long long thp_bytes(const void *addr, size_t len)
{
	unsigned long long lo = (uintptr_t)addr, hi = lo + len;
	unsigned long long start, end, kb, sum = 0;
	char line[512], perms[8];
	int inside = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx %7s", &start, &end, perms) == 3) {
			inside = start < hi && end > lo;
			continue;
		}
		if (inside && sscanf(line, "AnonHugePages: %llu kB", &kb) == 1)
			sum += kb << 10;
	}
	fclose(f);
	return sum;
}

/* BUF_SIZE of anonymous memory, 2 MiB aligned, advised, then written. */
static int buf_alloc(struct bench *b, const struct phase *ph)
{
	uintptr_t a;

	b->map_len = BUF_SIZE + SZ_2M;
	b->map_base = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->map_base == MAP_FAILED) {
		fail("%s: mmap of 1 GiB: %s\n", ph->name, strerror(errno));
		return -1;
	}
	a = ((uintptr_t)b->map_base + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1);
	b->buf = (unsigned char *)a;
	if (madvise(b->buf, BUF_SIZE, ph->advice))
		printf("%s: madvise: %s (going on)\n", ph->name,
		       strerror(errno));
	memset(b->buf, 0x5a, BUF_SIZE);
	b->thp = thp_bytes(b->buf, BUF_SIZE);
	return 0;
}

static void buf_free(struct bench *b)
{
	munmap(b->map_base, b->map_len);
	b->buf = NULL;
}

/* --- checks ------------------------------------------------------------ */

static int stats(struct bench *b, struct epm_stats *s)
{
	int ret = ept_pmap_stats(b->epm, s);

	if (ret)
		fail("EPM_IOC_STATS: %s\n", strerror(-ret));
	return ret;
}

/*
 * Table pairs that 1 GiB mapped at a 1 GiB-aligned gpa needs: the root and
 * a PDPT; a PD unless a 1G leaf maps it all; a PT for every 2 MiB that no
 * 2M leaf maps.
 */
static unsigned long long layout_pairs(const struct epm_stats *s)
{
	if (s->mapped_1g == BUF_SIZE)
		return 2;
	return 3 + (BUF_SIZE - s->mapped_1g - s->mapped_2m) / SZ_2M;
}

static void check_mapped(struct bench *b, const struct phase *ph, int round)
{
	unsigned long long want, jumbo;
	struct epm_stats s;
	struct epm_check c;
	int ret;

	if (stats(b, &s))
		return;
	want = layout_pairs(&s);
	jumbo = s.mapped_2m + s.mapped_1g;
	b->leaves_2m = s.mapped_2m / SZ_2M;
	printf("%s round %d: after MAP table_pairs %llu table_bytes %llu",
	       ph->name, round, (unsigned long long)s.table_pairs,
	       (unsigned long long)s.table_bytes);
	printf(" (layout: %llu pairs, %llu bytes), pinned_pages %llu,",
	       want, want * TABLE_PAIR, (unsigned long long)s.pinned_pages);
	printf(" leaves 4K %llu 2M %llu 1G %llu\n",
	       (unsigned long long)(s.mapped_4k / SZ_4K),
	       (unsigned long long)(s.mapped_2m / SZ_2M),
	       (unsigned long long)(s.mapped_1g / SZ_1G));
	if (s.table_bytes != s.table_pairs * TABLE_PAIR)
		fail("%s: table_bytes %llu != table_pairs %llu * 8192\n",
		     ph->name, (unsigned long long)s.table_bytes,
		     (unsigned long long)s.table_pairs);
	if (s.table_pairs != want)
		fail("%s: table_pairs %llu, the layout needs %llu\n", ph->name,
		     (unsigned long long)s.table_pairs, want);
	if (s.pinned_pages != BUF_PAGES)
		fail("%s: pinned_pages %llu, not %llu\n", ph->name,
		     (unsigned long long)s.pinned_pages, BUF_PAGES);
	if (s.mapped_4k + jumbo != BUF_SIZE)
		fail("%s: leaves map %llu bytes, not 1 GiB\n", ph->name,
		     (unsigned long long)(s.mapped_4k + jumbo));
	if (ph->max_page == EPM_PAGE_4K && s.mapped_4k != BUF_SIZE)
		fail("%s: max_page 4K but only %llu bytes in 4K leaves\n",
		     ph->name, (unsigned long long)s.mapped_4k);
	if (ph->max_page != EPM_PAGE_4K && b->thp == BUF_SIZE &&
	    jumbo != BUF_SIZE)
		fail("%s: all of it THP, only %llu of 512 2M blocks 2M leaves\n",
		     ph->name, jumbo / SZ_2M);
	if (round)
		return;
	ret = ept_pmap_check(b->epm, &c);
	if (ret)
		fail("%s: EPM_IOC_CHECK: %s\n", ph->name, strerror(-ret));
	else if (c.mismatches)
		fail("%s: CHECK: %llu mismatches, first why %u at gpa 0x%llx\n",
		     ph->name, (unsigned long long)c.mismatches, c.why,
		     (unsigned long long)c.gpa);
}

static void check_unmapped(struct bench *b, const struct phase *ph)
{
	struct epm_stats s;

	if (stats(b, &s))
		return;
	if (s.pinned_pages || s.mapped_4k || s.mapped_2m || s.mapped_1g)
		fail("%s: after UNMAP pinned_pages %llu, mapped %llu/%llu/%llu\n",
		     ph->name, (unsigned long long)s.pinned_pages,
		     (unsigned long long)s.mapped_4k,
		     (unsigned long long)s.mapped_2m,
		     (unsigned long long)s.mapped_1g);
	if (s.table_pairs > 1 || s.table_bytes != s.table_pairs * TABLE_PAIR)
		fail("%s: after UNMAP table_pairs %llu table_bytes %llu\n",
		     ph->name, (unsigned long long)s.table_pairs,
		     (unsigned long long)s.table_bytes);
}

/* --- the two sides ----------------------------------------------------- */

/* MAP and UNMAP once, timed apart; round 0 is the warm-up, checked more. */
static int epm_round(struct bench *b, const struct phase *ph, int round,
		     struct side *out)
{
	struct epm_map m = {
		.gpa = BENCH_GPA,
		.size = BUF_SIZE,
		.uaddr = (uintptr_t)b->buf,
		.flags = EPM_PERM_R | EPM_PERM_W,
		.max_page = ph->max_page,
	};
	long long before = round ? -1 : pins_held();
	double t0, t1, t2, t3;
	int ret;

	t0 = now_s();
	ret = ept_pmap_map(b->epm, &m);
	if (ret) {
		fail("%s: EPM_IOC_MAP of 1 GiB: %s\n", ph->name, strerror(-ret));
		return -1;
	}
	t1 = now_s();
	check_mapped(b, ph, round);
	if (before >= 0) {
		long long held = pins_held();

		b->pins_map = held >= 0 ? held - before : -1;
		if (b->pins_map >= 0 && b->pins_map != (long long)BUF_PAGES)
			fail("%s: MAP added %lld pins (vmstat), not %llu\n",
			     ph->name, b->pins_map, BUF_PAGES);
	}
	t2 = now_s();
	ret = ept_pmap_unmap(b->epm, BENCH_GPA, BUF_SIZE);
	if (ret) {
		fail("%s: EPM_IOC_UNMAP: %s\n", ph->name, strerror(-ret));
		return -1;
	}
	t3 = now_s();
	check_unmapped(b, ph);
	if (before >= 0 && pins_held() != before)
		fail("%s: pins held after UNMAP differ from before MAP\n",
		     ph->name);
	if (round >= WARMUP) {
		add(&out->first, t1 - t0);
		add(&out->second, t3 - t2);
		add(&out->total, (t1 - t0) + (t3 - t2));
	}
	return 0;
}

/* REGISTER and UNREGISTER the buffer once, timed apart. */
static int uring_round(struct bench *b, const struct phase *ph, int round,
		       struct side *out)
{
	struct iovec iov = { .iov_base = b->buf, .iov_len = BUF_SIZE };
	long long before = round ? -1 : pins_held();
	double t0, t1, t2, t3;

	t0 = now_s();
	if (sys_io_uring_register(b->ring, IORING_REGISTER_BUFFERS, &iov, 1)) {
		printf("%s: IORING_REGISTER_BUFFERS: %s; no comparison\n",
		       ph->name, strerror(errno));
		return -1;
	}
	t1 = now_s();
	if (before >= 0) {
		long long held = pins_held();

		b->pins_reg = held >= 0 ? held - before : -1;
	}
	t2 = now_s();
	if (sys_io_uring_register(b->ring, IORING_UNREGISTER_BUFFERS,
				  NULL, 0)) {
		printf("%s: IORING_UNREGISTER_BUFFERS: %s; no comparison\n",
		       ph->name, strerror(errno));
		return -1;
	}
	t3 = now_s();
	if (before >= 0 && pins_held() != before)
		printf("%s: note: pins held after UNREGISTER differ from before\n",
		       ph->name);
	if (round >= WARMUP) {
		add(&out->first, t1 - t0);
		add(&out->second, t3 - t2);
		add(&out->total, (t1 - t0) + (t3 - t2));
	}
	return 0;
}

/*
 * The floor of MAP's table work at 4K: 515 pairs of tables zeroed, then
 * 512 entries written in each half of each of the 512 PT pairs, in a plain
 * loop (no allocation, no pinning). The buffer was written beforehand.
 */
static double table_floor(struct bench *b)
{
	const unsigned long pairs = 515;
	uint64_t *kpt, *ept, hpa;
	unsigned long pt, i;
	double t0 = now_s();

	memset(b->tables, 0, pairs * TABLE_PAIR);
	for (pt = 0; pt < 512; pt++) {
		kpt = (uint64_t *)(b->tables + (3 + pt) * TABLE_PAIR);
		ept = kpt + 512;
		for (i = 0; i < 512; i++) {
			hpa = 0x100000000ULL + ((pt * 512 + i) << 12);
			kpt[i] = hpa | 0x63;		/* P RW A D */
			ept[i] = hpa | 0x37;		/* RWX, WB */
		}
	}
	__asm__ __volatile__("" : : "r"(b->tables) : "memory");
	return now_s() - t0;
}

/* --- a phase ----------------------------------------------------------- */

static void print_side(const char *phase, const char *who, const char *first,
		       const char *second, const struct side *s)
{
	printf("%-3s %-8s %-5s best %8.1f ms (median %8.1f)   ", phase, who,
	       first, ms(best(&s->first)), ms(median(&s->first)));
	printf("%-5s best %8.1f ms (median %8.1f)   sum best %8.1f ms\n",
	       second, ms(best(&s->second)), ms(median(&s->second)),
	       ms(best(&s->total)));
}

static void pins_note(const struct bench *b, const struct phase *ph)
{
	if (b->pins_map < 0 || b->pins_reg < 0) {
		printf("%s pins: /proc/vmstat pin counters unreadable\n",
		       ph->name);
		return;
	}
	printf("%s pins held: MAP %lld, REGISTER %lld", ph->name,
	       b->pins_map, b->pins_reg);
	if (b->pins_reg < b->pins_map)
		printf(" (io_uring coalesced large folios: one pin kept per folio,%s\n",
		       " the rest dropped at REGISTER)");
	else
		printf(" (one pin per 4 KiB page on both sides)\n");
}

static int run_phase(struct bench *b, const struct phase *ph, int reps)
{
	struct side epm, uring;
	struct samples floor;
	int round, uring_ok = b->ring >= 0;
	double ratio;

	memset(&epm, 0, sizeof(epm));
	memset(&uring, 0, sizeof(uring));
	memset(&floor, 0, sizeof(floor));
	b->pins_map = -1;
	b->pins_reg = -1;
	if (buf_alloc(b, ph))
		return -1;
	printf("%s: 1 GiB at %p, madvise %s, smaps AnonHugePages %llu MiB\n",
	       ph->name, (void *)b->buf,
	       ph->advice == MADV_HUGEPAGE ? "HUGEPAGE" : "NOHUGEPAGE",
	       b->thp >> 20);

	for (round = 0; round < WARMUP + reps; round++) {
		/* even rounds ept-pmap first, odd ones io_uring first */
		if (uring_ok && (round & 1) &&
		    uring_round(b, ph, round, &uring))
			uring_ok = 0;
		if (epm_round(b, ph, round, &epm)) {
			buf_free(b);
			return -1;
		}
		if (uring_ok && !(round & 1) &&
		    uring_round(b, ph, round, &uring))
			uring_ok = 0;
		if (ph->max_page == EPM_PAGE_4K && b->tables) {
			double t = table_floor(b);

			if (round >= WARMUP)
				add(&floor, t);
		}
	}

	print_side(ph->name, "ept-pmap", "MAP", "UNMAP", &epm);
	if (!uring_ok) {
		printf("%s io_uring unavailable: no ratio\n", ph->name);
		buf_free(b);
		return 0;
	}
	print_side(ph->name, "io_uring", "REG", "UNREG", &uring);
	ratio = best(&epm.total) / best(&uring.total);
	printf("%s ratio (MAP+UNMAP)/(REG+UNREG) %.2fx, target <= %.2fx: %s",
	       ph->name, ratio, TARGET, ratio <= TARGET ? "PASS" : "MISS");
	printf("   [medians %.2fx; MAP/REG %.2fx, UNMAP/UNREG %.2fx]\n",
	       median(&epm.total) / median(&uring.total),
	       best(&epm.first) / best(&uring.first),
	       best(&epm.second) / best(&uring.second));
	if (ph->max_page != EPM_PAGE_4K)
		printf("%s leaves: %llu of 512 2 MiB blocks mapped by 2M leaves\n",
		       ph->name, b->leaves_2m);
	pins_note(b, ph);
	if (floor.n) {
		printf("%s table floor (userspace: 515 pairs zeroed,",
		       ph->name);
		printf(" 2 x 262144 entries written) best %.1f ms;",
		       ms(best(&floor)));
		printf(" MAP - REG %.1f ms\n",
		       ms(best(&epm.first) - best(&uring.first)));
	}
	buf_free(b);
	return 0;
}

int main(int argc, char **argv)
{
	struct io_uring_params p;
	struct bench b;
	int reps = DEFAULT_REPS, opt, ver;
	unsigned int i;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		switch (opt) {
		case 'n':
			reps = atoi(optarg);
			if (reps < 1 || reps > MAX_REPS) {
				fprintf(stderr, "vm_bench: -n takes 1..%d\n",
					MAX_REPS);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: vm_bench [-n ROUNDS]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&b, 0, sizeof(b));

	b.epm = ept_pmap_open(NULL);
	if (b.epm < 0) {
		fail("cannot open %s: %s (is ept_pmap.ko loaded?)\n",
		     EPT_PMAP_DEFAULT_DEVICE, strerror(-b.epm));
		return 1;
	}
	ver = ept_pmap_version(b.epm);
	memset(&p, 0, sizeof(p));
	b.ring = sys_io_uring_setup(4, &p);
	if (b.ring < 0)
		printf("io_uring_setup: %s: ept-pmap side only\n",
		       strerror(errno));
	b.tables = malloc(515 * TABLE_PAIR);
	if (b.tables)
		memset(b.tables, 1, 515 * TABLE_PAIR);
	printf("vm_bench: api %d, 1 GiB at gpa 0x%llx,", ver, BENCH_GPA);
	printf(" best of %d rounds after %d warm-up, sides interleaved\n",
	       reps, WARMUP);

	for (i = 0; i < ARRAY_SIZE(phases); i++) {
		if (run_phase(&b, &phases[i], reps))
			break;
	}

	free(b.tables);
	if (b.ring >= 0)
		close(b.ring);
	close(b.epm);
	if (failures) {
		printf("vm_bench: %d checks FAILED\n", failures);
		return 1;
	}
	printf("vm_bench: all checks passed\n");
	return 0;
}
