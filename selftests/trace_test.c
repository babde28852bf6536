// SPDX-License-Identifier: GPL-2.0
/*
 * ept-pmap: the trace events of MAP, UNMAP, PROTECT and the flushes they
 * cause (src/trace.h), read back from a private tracefs instance. Each
 * test runs a short sequence of calls and asserts the exact events, in
 * order: one per call that got past argument validation, with its errno,
 * and a flush event for each change that made translations stale. The
 * RUN events (entry, INVEPT, exit) are tested in vmx_test.c, where guests
 * run.
 */
#include <stdbool.h>

/* the 6.1 harness has an unused parameter: keep -Wextra for our code */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "epm_test.h"
#include "epm_trace.h"

#define GPA		0x200000ULL

FIXTURE(trace) {
	int fd;
	void *mem;
	struct epm_trace t;
};

FIXTURE_SETUP(trace)
{
	self->fd = epm_open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", EPM_DEV, strerror(errno));
	self->mem = epm_alloc(SZ_2M, SZ_4K, 0);
	ASSERT_NE(NULL, self->mem);
	if (epm_trace_start(&self->t)) {
		if (errno == ENODEV)
			SKIP(return, "the kernel has no tracefs");
		ASSERT_EQ(0, errno)
			TH_LOG("enabling events/ept_pmap in a tracefs instance: %s",
			       strerror(errno));
	}
}

FIXTURE_TEARDOWN(trace)
{
	if (self->t.dir[0])
		epm_trace_stop(&self->t);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(trace, map_protect_unmap_flush)
{
	static const char *const want[] = {
		"ept_pmap_map: gpa 0x200000 size 0x200000 flags rw memtype wb max_page 0x1000 ret 0",
		"ept_pmap_map: gpa 0x3ff000 size 0x2000 flags r memtype uc max_page 0x40000000 ret -17",
		"ept_pmap_protect: gpa 0x201000 size 0x1000 perm r ret 0",
		"ept_pmap_flush: flushes 1",
		"ept_pmap_protect: gpa 0x3ff000 size 0x2000 perm rw ret -2",
		"ept_pmap_unmap: gpa 0x200000 size 0x200000 ret 0",
		"ept_pmap_flush: flushes 2",
		"ept_pmap_unmap: gpa 0x200000 size 0x200000 ret 0",
		"ept_pmap_flush: flushes 3",
	};
	struct epm_map m = {
		.gpa = GPA, .size = SZ_2M, .uaddr = (uintptr_t)self->mem,
		.flags = EPM_PERM_R | EPM_PERM_W, .memtype = EPM_MEMTYPE_WB,
		.max_page = EPM_PAGE_4K,
	};
	struct epm_stats st;

	ASSERT_EQ(0, ioctl(self->fd, EPM_IOC_MAP, &m));
	/* overlaps the last page: EEXIST, traced */
	m.gpa = GPA + SZ_2M - SZ_4K;
	m.size = 2 * SZ_4K;
	m.flags = EPM_PERM_R;
	m.memtype = EPM_MEMTYPE_UC;
	m.max_page = 0;
	ASSERT_EQ(-1, ioctl(self->fd, EPM_IOC_MAP, &m));
	ASSERT_EQ(EEXIST, errno);
	/* malformed (an unknown flag; W without R): EINVAL first, untraced */
	m.flags = EPM_PERM_R | 0x80000000u;
	ASSERT_EQ(-1, ioctl(self->fd, EPM_IOC_MAP, &m));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, epm_protect_at(self->fd, GPA, SZ_4K, EPM_PERM_W));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, epm_protect_at(self->fd, GPA + SZ_4K, SZ_4K, EPM_PERM_R));
	/* half unmapped: ENOENT, traced, no flush */
	ASSERT_EQ(-1, epm_protect_at(self->fd, GPA + SZ_2M - SZ_4K, 2 * SZ_4K,
				     EPM_PERM_R | EPM_PERM_W));
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA, SZ_2M));
	/* nothing left there: still done, still a flush */
	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA, SZ_2M));

	epm_trace_expect(_metadata, &self->t, want, ARRAY_SIZE(want));
	/* the flush events count what STATS counts */
	ASSERT_EQ(0, epm_stats_of(self->fd, &st));
	ASSERT_EQ(3, st.flushes);
}

/*
 * Every file of the process is traced; what closing a file releases and
 * calls refused before the space is touched are not.
 */
TEST_F(trace, close_and_refused_calls_untraced)
{
	static const char *const want[] = {
		"ept_pmap_map: gpa 0x0 size 0x1000 flags rwx memtype wb max_page 0x40000000 ret 0",
	};
	int fd2 = epm_open_dev();

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, epm_map_at(fd2, 0, SZ_4K, self->mem,
				EPM_PERM_R | EPM_PERM_W | EPM_PERM_X));
	/* closing a file with mappings releases them untraced */
	ASSERT_EQ(0, close(fd2));
	/* bad ranges are refused before the lock: untraced */
	ASSERT_EQ(-1, epm_unmap_at(self->fd, 1, SZ_4K));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, epm_unmap_at(self->fd, 0, 0));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, epm_protect_at(self->fd, 0, SZ_4K, 0x8));
	ASSERT_EQ(EINVAL, errno);
	epm_trace_expect(_metadata, &self->t, want, ARRAY_SIZE(want));
}

TEST_HARNESS_MAIN
