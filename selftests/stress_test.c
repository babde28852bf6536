// SPDX-License-Identifier: GPL-2.0
/*
 * ept-pmap concurrency stress, meant for the debug kernel (lockdep, KASAN,
 * kmemleak, DEBUG_ATOMIC_SLEEP): for a bounded time (EPM_STRESS_SECONDS,
 * default 20) several threads hammer a few shared files with MAP (4K
 * memory, THP memory, and memory another thread keeps making inaccessible
 * and replacing), UNMAP and PROTECT of random ranges (splitting jumbos),
 * DUMP into fresh untouched buffers (page faults under the space's lock),
 * QUERY, CHECK and STATS, plus RUN of a HLT guest when CAPS says
 * EPM_CAP_RUN; one thread keeps closing and reopening the shared files and
 * opening short-lived files that are closed with mappings in place; forked
 * children map and are SIGKILLed or exit with files open.
 *
 * Every call must return 0 or one of the errnos its situation allows
 * (MAP: EEXIST, and EFAULT for the churned memory; PROTECT: ENOENT; RUN:
 * EBUSY while another thread runs on the file), CHECK must never find a
 * mismatch, at least one RUN must reach its guest's HLT when RUN is in the
 * mix, and at the end every pin is released. The kernel's own
 * detectors judge the rest from the console.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "epm_test.h"

#define NSLOTS		4
#define NWORKERS	4
#define RW		(EPM_PERM_R | EPM_PERM_W)
#define GPA_SPAN	(256ULL << 20)		/* random ranges live below */
#define GPA_CODE	GPA_SPAN		/* the RUN guest's page */
#define POOL_4K		(16ULL << 20)
#define POOL_THP	(32ULL << 20)
#define POOL_CHURN	(4ULL << 20)

enum { OP_MAP, OP_MAP_THP, OP_MAP_CHURN, OP_UNMAP, OP_PROTECT, OP_DUMP,
       OP_QUERY, OP_CHECK, OP_STATS, OP_RUN, OP_REOPEN, OP_SHORT, OP_FORK,
       OP_CHURN, NOPS };
static const char *const op_names[NOPS] = {
	"map4k", "mapthp", "mapchurn", "unmap", "protect", "dump", "query",
	"check", "stats", "run", "reopen", "shortlived", "fork", "remap",
};

struct slot {
	pthread_rwlock_t lock;	/* read: use fd; write: close/reopen it */
	int fd;
};

static struct {
	struct slot slots[NSLOTS];
	char *pool4k, *poolthp, *churn;
	char *code;
	bool can_run;
	volatile bool stop;
	long ops[NOPS];
	long ok[NOPS];
	long unexpected;
	pthread_mutex_t log_lock;
} g;

static void bad(const char *op, int ret, int err, const char *what)
{
	pthread_mutex_lock(&g.log_lock);
	if (__atomic_add_fetch(&g.unexpected, 1, __ATOMIC_SEQ_CST) <= 20)
		printf("# stress: %s returned %d (%s)%s%s\n", op, ret,
		       strerror(err), what ? ": " : "", what ? what : "");
	fflush(stdout);
	pthread_mutex_unlock(&g.log_lock);
}

static void count(int op, bool ok)
{
	__atomic_add_fetch(&g.ops[op], 1, __ATOMIC_RELAXED);
	if (ok)
		__atomic_add_fetch(&g.ok[op], 1, __ATOMIC_RELAXED);
}

/* 0, or an errno from @allowed (0-terminated) is fine; anything else is not. */
static void judge(int op, int ret, int err, const int *allowed)
{
	if (!ret) {
		count(op, true);
		return;
	}
	count(op, false);
	for (; allowed && *allowed; allowed++) {
		if (*allowed == err)
			return;
	}
	bad(op_names[op], ret, err, NULL);
}

static uint64_t rnd(unsigned int *seed, uint64_t n)
{
	uint64_t r = ((uint64_t)rand_r(seed) << 31) ^ (uint64_t)rand_r(seed);

	return n ? r % n : 0;
}

static int map_code(int fd)
{
	if (!g.can_run)
		return 0;
	return epm_map_sized(fd, GPA_CODE, SZ_4K, g.code, EPM_PERM_ALL, 0,
			     EPM_PAGE_4K);
}

static int full_dump(int fd, struct epm_dump_entry *buf, uint32_t count)
{
	struct epm_dump d = { .buf = (uintptr_t)buf };

	do {
		d.count = count;
		if (ioctl(fd, EPM_IOC_DUMP, &d))
			return -1;
	} while (d.cursor != EPM_DUMP_DONE);
	return 0;
}

static void one_op(int fd, unsigned int *seed)
{
	static const int map_ok[] = { EEXIST, 0 };
	static const int churn_ok[] = { EEXIST, EFAULT, 0 };
	static const int protect_ok[] = { ENOENT, 0 };
	static const int run_ok[] = { EBUSY, 0 };
	static const uint32_t perms[] = { EPM_PERM_R, RW, EPM_PERM_R | EPM_PERM_X,
					  EPM_PERM_ALL };
	unsigned int pick = (unsigned int)rnd(seed, 100);
	uint64_t gpa, size, off;
	int ret;

	if (pick < 18) {
		size = (1 + rnd(seed, 32)) * SZ_4K;
		gpa = rnd(seed, (GPA_SPAN - size) / SZ_4K) * SZ_4K;
		off = rnd(seed, (POOL_4K - size) / SZ_4K) * SZ_4K;
		ret = epm_map_at(fd, gpa, size, g.pool4k + off, RW);
		judge(OP_MAP, ret, errno, map_ok);
	} else if (pick < 30) {
		size = (1 + rnd(seed, 2)) * SZ_2M;
		gpa = rnd(seed, (GPA_SPAN - size) / SZ_2M) * SZ_2M;
		off = rnd(seed, (POOL_THP - size) / SZ_2M) * SZ_2M;
		ret = epm_map_at(fd, gpa, size, g.poolthp + off, RW);
		judge(OP_MAP_THP, ret, errno, map_ok);
	} else if (pick < 36) {
		size = (1 + rnd(seed, 64)) * SZ_4K;
		gpa = rnd(seed, (GPA_SPAN - size) / SZ_4K) * SZ_4K;
		off = rnd(seed, (POOL_CHURN - size) / SZ_4K) * SZ_4K;
		ret = epm_map_at(fd, gpa, size, g.churn + off, RW);
		judge(OP_MAP_CHURN, ret, errno, churn_ok);
	} else if (pick < 56) {
		size = (1 + rnd(seed, 1024)) * SZ_4K;
		gpa = rnd(seed, (GPA_SPAN - size) / SZ_4K) * SZ_4K;
		ret = epm_unmap_at(fd, gpa, size);
		judge(OP_UNMAP, ret, errno, NULL);
	} else if (pick < 68) {
		size = (1 + rnd(seed, 16)) * SZ_4K;
		gpa = rnd(seed, (GPA_SPAN - size) / SZ_4K) * SZ_4K;
		ret = epm_protect_at(fd, gpa, size, perms[rnd(seed, 4)]);
		judge(OP_PROTECT, ret, errno, protect_ok);
	} else if (pick < 78) {
		/* a fresh, untouched buffer: DUMP faults it in under the lock */
		size_t len = 64 * 1024;
		struct epm_dump_entry *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
						  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (buf == MAP_FAILED) {
			bad("mmap", -1, errno, "dump buffer");
			return;
		}
		ret = full_dump(fd, buf, (uint32_t)(1 + rnd(seed, len / sizeof(*buf))));
		judge(OP_DUMP, ret, errno, NULL);
		munmap(buf, len);
	} else if (pick < 84) {
		struct epm_query q;

		ret = epm_query_at(fd, rnd(seed, GPA_SPAN / SZ_4K) * SZ_4K, &q);
		judge(OP_QUERY, ret, errno, NULL);
	} else if (pick < 90) {
		long long mm = epm_check_count(fd);

		if (mm != 0)
			bad("check", (int)mm, errno, "CHECK found mismatches (or failed)");
		count(OP_CHECK, mm == 0);
	} else if (pick < 95 || !g.can_run) {
		struct epm_stats s;

		ret = epm_stats_of(fd, &s);
		judge(OP_STATS, ret, errno, NULL);
	} else {
		struct epm_run r;

		memset(&r, 0, sizeof(r));
		r.mode = EPM_MODE_PROT32;
		r.timeout_ns = 100000000ULL;
		r.regs.rip = GPA_CODE;
		r.regs.rflags = 0x2;
		ret = ioctl(fd, EPM_IOC_RUN, &r);
		judge(OP_RUN, ret, errno, run_ok);
		if (!ret && r.exit_kind != EPM_EXIT_HLT)
			bad("run", ret, 0, "exit is not HLT");
	}
}

static void *worker(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg * 7919u + (unsigned int)time(NULL);

	while (!g.stop) {
		struct slot *s = &g.slots[rnd(&seed, NSLOTS)];

		pthread_rwlock_rdlock(&s->lock);
		if (s->fd >= 0)
			one_op(s->fd, &seed);
		pthread_rwlock_unlock(&s->lock);
	}
	return NULL;
}

/* Close and reopen shared files, short-lived files, forked children. */
static void *closer(void *arg)
{
	unsigned int seed = 12345u + (unsigned int)(uintptr_t)arg;
	unsigned int round = 0;

	while (!g.stop) {
		struct slot *s = &g.slots[rnd(&seed, NSLOTS)];
		long long mm;
		int fd, ret;

		usleep(20000 + rnd(&seed, 80000));
		round++;

		pthread_rwlock_wrlock(&s->lock);
		mm = epm_check_count(s->fd);
		if (mm != 0)
			bad("check", (int)mm, errno, "before close");
		close(s->fd);
		s->fd = epm_open_dev();
		if (s->fd < 0)
			bad("open", -1, errno, NULL);
		else if (map_code(s->fd))
			bad("map", -1, errno, "code page");
		count(OP_REOPEN, s->fd >= 0);
		pthread_rwlock_unlock(&s->lock);

		/* a file closed with mappings of every kind in place */
		fd = epm_open_dev();
		if (fd < 0) {
			bad("open", -1, errno, "short-lived");
		} else {
			ret = epm_map_at(fd, 0, SZ_2M, g.poolthp, RW);
			ret = ret ?: epm_map_at(fd, SZ_1G, 64 * SZ_4K, g.pool4k, RW);
			ret = ret ?: epm_protect_at(fd, SZ_4K, SZ_4K, EPM_PERM_R);
			if (ret)
				bad("map", ret, errno, "short-lived file");
			count(OP_SHORT, !ret);
			close(fd);
		}

		if (round % 10 == 0) {
			/* a child that maps and dies: SIGKILL or exit, files open */
			pid_t pid = fork();

			if (pid == 0) {
				int cfd = epm_open_dev();

				if (cfd >= 0) {
					epm_map_at(cfd, 0, POOL_4K, g.pool4k, RW);
					epm_map_at(cfd, SZ_1G, 4 * SZ_2M, g.poolthp, RW);
				}
				if (round % 20 == 0)
					pause();
				_exit(0);
			}
			if (pid > 0) {
				int st;

				usleep(rnd(&seed, 30000));
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				count(OP_FORK, true);
			} else {
				bad("fork", -1, errno, NULL);
			}
		}
	}
	return NULL;
}

/* Keep replacing the churn region's memory under the workers' MAPs. */
static void *churner(void *arg)
{
	unsigned int seed = 777u + (unsigned int)(uintptr_t)arg;

	while (!g.stop) {
		void *p;

		usleep(5000 + rnd(&seed, 20000));
		/*
		 * Never leave a hole another thread's mmap() could take:
		 * inaccessible for a while (MAP must fail EFAULT, not pin),
		 * then atomically replaced by fresh memory.
		 */
		if (mprotect(g.churn, POOL_CHURN, PROT_NONE)) {
			bad("mprotect", -1, errno, NULL);
			continue;
		}
		usleep(rnd(&seed, 2000));
		p = mmap(g.churn, POOL_CHURN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p != g.churn) {
			bad("mmap", -1, errno, "churn region");
			g.stop = true;
			break;
		}
		memset(g.churn, 0x33, POOL_CHURN);
		count(OP_CHURN, true);
	}
	return NULL;
}

FIXTURE(stress) {
	long long pins;
};

FIXTURE_SETUP(stress)
{
	int fd;

	if (geteuid() != 0)
		SKIP(return, "needs root (pin counters)");
	self->pins = epm_pins_exact();
	ASSERT_LE(0, self->pins);
	fd = epm_open_dev();
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", EPM_DEV, strerror(errno));
	close(fd);
}

FIXTURE_TEARDOWN(stress)
{
}

TEST_F_TIMEOUT(stress, threads_files_forks, 600)
{
	const char *env = getenv("EPM_STRESS_SECONDS");
	int seconds = env ? atoi(env) : 20;
	pthread_t workers[NWORKERS], closer_t, churn_t;
	struct epm_caps caps;
	long total = 0;
	int i, fd;

	if (_metadata->skip)
		return;
	if (seconds <= 0)
		seconds = 20;
	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g.log_lock, NULL);

	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, EPM_IOC_CAPS, &caps));
	close(fd);
	g.can_run = caps.flags & EPM_CAP_RUN;

	g.pool4k = epm_alloc(POOL_4K, SZ_4K, MADV_NOHUGEPAGE);
	g.poolthp = epm_alloc(POOL_THP, SZ_2M, MADV_HUGEPAGE);
	g.churn = epm_alloc(POOL_CHURN, SZ_4K, 0);
	g.code = epm_alloc(SZ_4K, SZ_4K, 0);
	ASSERT_NE(NULL, g.pool4k);
	ASSERT_NE(NULL, g.poolthp);
	ASSERT_NE(NULL, g.churn);
	ASSERT_NE(NULL, g.code);
	g.code[0] = (char)0xf4;		/* hlt */

	for (i = 0; i < NSLOTS; i++) {
		pthread_rwlock_init(&g.slots[i].lock, NULL);
		g.slots[i].fd = epm_open_dev();
		ASSERT_LE(0, g.slots[i].fd);
		ASSERT_EQ(0, map_code(g.slots[i].fd));
	}

	for (i = 0; i < NWORKERS; i++)
		ASSERT_EQ(0, pthread_create(&workers[i], NULL, worker, (void *)(uintptr_t)i));
	ASSERT_EQ(0, pthread_create(&closer_t, NULL, closer, NULL));
	ASSERT_EQ(0, pthread_create(&churn_t, NULL, churner, NULL));

	sleep((unsigned int)seconds);
	g.stop = true;
	for (i = 0; i < NWORKERS; i++)
		pthread_join(workers[i], NULL);
	pthread_join(closer_t, NULL);
	pthread_join(churn_t, NULL);

	for (i = 0; i < NSLOTS; i++) {
		if (g.slots[i].fd < 0)
			continue;
		EXPECT_EQ(0, epm_check_count(g.slots[i].fd));
		close(g.slots[i].fd);
	}

	printf("# stress: %d s, %d workers on %d files, RUN %s:", seconds,
	       NWORKERS, NSLOTS, g.can_run ? "in the mix" : "not available");
	for (i = 0; i < NOPS; i++) {
		printf(" %s %ld/%ld", op_names[i], g.ok[i], g.ops[i]);
		total += g.ops[i];
	}
	printf(" (succeeded/made); %ld calls, %ld unexpected\n", total, g.unexpected);
	fflush(stdout);

	EXPECT_EQ(0, g.unexpected);
	/* EBUSY is allowed for RUN, so count the guests that really ran */
	if (g.can_run)
		EXPECT_LT(0, g.ok[OP_RUN])
			TH_LOG("RUN in the mix, yet no guest ran: %ld RUN calls, none reached HLT",
			       g.ops[OP_RUN]);
	EXPECT_LT(0, g.ok[OP_MAP] + g.ok[OP_MAP_THP]);
	EXPECT_LT(0, g.ok[OP_UNMAP]);
	EXPECT_LT(0, g.ok[OP_REOPEN]);
	/* every file is closed and every child reaped: no pin may remain */
	EXPECT_EQ(self->pins, epm_pins_exact());
}

TEST_HARNESS_MAIN
