// SPDX-License-Identifier: GPL-2.0
/*
 * libept-pmap against the real device (in the VM lane, as root, module
 * loaded): each call returns what the ioctl did as 0 or -errno, the dump
 * iterator walks more entries than one DUMP batch holds, every memory kind
 * comes out as leaves of its size, and the decoders name what the module
 * wrote. The host-side half of the library's tests is lib/tests/.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ept-pmap.h"
#include "kselftest_harness.h"

#define SZ_4K	0x1000ULL
#define SZ_2M	0x200000ULL
#define SZ_1G	0x40000000ULL

FIXTURE(lib) {
	int fd;
	struct epm_caps caps;
};

FIXTURE_SETUP(lib)
{
	self->fd = ept_pmap_open(NULL);
	if (self->fd == -ENOENT)
		SKIP(return, "no /dev/ept-pmap: ept_pmap.ko is not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ept_pmap_caps(self->fd, &self->caps));
}

FIXTURE_TEARDOWN(lib)
{
	if (self->fd >= 0)
		EXPECT_EQ(0, ept_pmap_close(self->fd));
}

TEST_F(lib, versions)
{
	char ver[32];

	ASSERT_EQ(EPM_API_VERSION, ept_pmap_version(self->fd));
	ASSERT_EQ(EPM_API_VERSION, self->caps.api_version);
	ASSERT_EQ(0, ept_pmap_module_version(ver, sizeof(ver)));
	ASSERT_STREQ(EXPECT_VERSION, ver);
	ASSERT_STREQ(EXPECT_VERSION, ept_pmap_lib_version());
}

/* Leaves the dump iterator hands out, by level; -errno on failure. */
static int count_leaves(int fd, unsigned long long leaves[4], unsigned long long *all)
{
	struct ept_pmap_dump_iter it;
	const struct epm_dump_entry *e;
	int ret;

	memset(leaves, 0, 4 * sizeof(leaves[0]));
	*all = 0;
	ept_pmap_dump_init(&it, fd, 0);
	while ((ret = ept_pmap_dump_next(&it, &e)) > 0) {
		(*all)++;
		if (e->leaf)
			leaves[e->level]++;
	}
	return ret;
}

/* 2 MiB of 4K pages: 515 entries, more than two DUMP batches of 256. */
TEST_F(lib, dump_iterator_crosses_batches)
{
	struct ept_pmap_mem m;
	struct epm_map map = { .gpa = 0, .size = SZ_2M, .flags = EPM_PERM_R | EPM_PERM_W };
	unsigned long long leaves[4], all;
	struct ept_pmap_dump_iter it;
	const struct epm_dump_entry *e;
	unsigned long long n = 0, last = 0;

	ASSERT_EQ(0, ept_pmap_mem_alloc(&m, EPT_PMAP_MEM_ANON, SZ_2M));
	map.uaddr = (uintptr_t)m.addr;
	ASSERT_EQ(0, ept_pmap_map(self->fd, &map));
	ASSERT_EQ(0, count_leaves(self->fd, leaves, &all));
	ASSERT_EQ(515, all);
	ASSERT_EQ(512, leaves[1]);

	/* leaves only, in gpa order, 4 KiB apart */
	ept_pmap_dump_init(&it, self->fd, EPM_DUMP_LEAVES);
	while (ept_pmap_dump_next(&it, &e) > 0) {
		ASSERT_EQ(1, e->leaf);
		ASSERT_EQ(n * SZ_4K, e->gpa);
		ASSERT_EQ(e->kpte & EPM_PTE_ADDR, e->epte & EPM_PTE_ADDR);
		last = e->gpa;
		n++;
	}
	ASSERT_EQ(512, n);
	ASSERT_EQ(SZ_2M - SZ_4K, last);
	ASSERT_EQ(0, ept_pmap_dump_next(&it, &e));	/* stays at the end */
	ASSERT_EQ(0, ept_pmap_unmap(self->fd, 0, SZ_2M));
	ept_pmap_mem_free(&m);
}

/* Each memory kind, mapped: leaves of its page size, decoded by name. */
TEST_F(lib, memory_kinds_give_their_leaves)
{
	static const struct {
		enum ept_pmap_mem_kind kind;
		unsigned long long gpa, size;
		unsigned int level, leaves;
	} k[] = {
		{ EPT_PMAP_MEM_ANON, 0, 4 * SZ_4K, 1, 4 },
		{ EPT_PMAP_MEM_THP, 2 * SZ_2M, 2 * SZ_2M, 2, 2 },
		{ EPT_PMAP_MEM_HUGETLB_2M, 8 * SZ_2M, 2 * SZ_2M, 2, 2 },
		{ EPT_PMAP_MEM_HUGETLB_1G, SZ_1G, SZ_1G, 3, 1 },
	};
	/* a kernel without THP (PREEMPT_RT) refuses MADV_HUGEPAGE: EINVAL */
	bool thp = !access("/sys/kernel/mm/transparent_hugepage", F_OK);
	struct ept_pmap_mem m[4];
	unsigned long long leaves[4], all;
	struct epm_stats s;
	struct epm_query q;
	char buf[96];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		struct epm_map map = {
			.gpa = k[i].gpa, .size = k[i].size,
			.flags = EPM_PERM_R | EPM_PERM_W,
		};

		if (k[i].kind == EPT_PMAP_MEM_THP && !thp) {
			ASSERT_EQ(-EINVAL, ept_pmap_mem_alloc(&m[i], k[i].kind,
							      k[i].size));
			continue;
		}
		ASSERT_EQ(0, ept_pmap_mem_alloc(&m[i], k[i].kind, k[i].size)) {
			TH_LOG("%s memory", ept_pmap_mem_kind_name(k[i].kind));
		}
		ASSERT_EQ(k[i].size, m[i].size);
		map.uaddr = (uintptr_t)m[i].addr;
		ASSERT_EQ(0, ept_pmap_map(self->fd, &map));
		ASSERT_EQ(0, ept_pmap_query(self->fd, k[i].gpa + k[i].size - 1, &q));
		ASSERT_EQ(k[i].level, q.level) {
			TH_LOG("%s memory", ept_pmap_mem_kind_name(k[i].kind));
		}
		ASSERT_EQ(ept_pmap_level_size(k[i].level), q.page_size);
		ASSERT_STREQ("rw-", ept_pmap_perm_str(q.perm, buf));
		ASSERT_STREQ(k[i].level == 1 ? "R W WB pinw" : "R W WB PS pinw",
			     ept_pmap_epte_str(q.epte[k[i].level - 1], k[i].level,
					       true, buf, sizeof(buf)));
		ASSERT_STREQ(k[i].level == 1 ? "P W U NX pinw" : "P W U PS NX pinw",
			     ept_pmap_kpte_str(q.kpte[k[i].level - 1], k[i].level,
					       true, buf, sizeof(buf)));
	}
	ASSERT_EQ(0, count_leaves(self->fd, leaves, &all));
	ASSERT_EQ(4, leaves[1]);
	ASSERT_EQ(thp ? 4 : 2, leaves[2]);
	ASSERT_EQ(1, leaves[3]);
	ASSERT_EQ(0, ept_pmap_stats(self->fd, &s));
	ASSERT_EQ(4 * SZ_4K, s.mapped_4k);
	ASSERT_EQ((thp ? 4 : 2) * SZ_2M, s.mapped_2m);
	ASSERT_EQ(SZ_1G, s.mapped_1g);
	for (i = 0; i < 4; i++) {
		if (k[i].kind == EPT_PMAP_MEM_THP && !thp)
			continue;
		ASSERT_EQ(0, ept_pmap_unmap(self->fd, k[i].gpa, k[i].size));
		ept_pmap_mem_free(&m[i]);
	}
	ASSERT_EQ(0, count_leaves(self->fd, leaves, &all));
	ASSERT_EQ(0, all);
}

/* Every call's failure comes back as the exact -errno. */
TEST_F(lib, errors_are_negative_errnos)
{
	struct epm_map map = { .gpa = 0, .size = SZ_4K, .flags = EPM_PERM_R };
	struct ept_pmap_mem m;
	struct epm_check c;
	struct epm_eptp e;
	struct epm_run r = { .timeout_ns = 1000000 };

	ASSERT_EQ(0, ept_pmap_mem_alloc(&m, EPT_PMAP_MEM_ANON, SZ_4K));
	map.uaddr = (uintptr_t)m.addr;
	ASSERT_EQ(0, ept_pmap_map(self->fd, &map));
	ASSERT_EQ(-EEXIST, ept_pmap_map(self->fd, &map));
	ASSERT_STREQ("EEXIST", ept_pmap_errno_name(-EEXIST));
	map.flags = EPM_PERM_W;
	map.gpa = SZ_4K;
	ASSERT_EQ(-EINVAL, ept_pmap_map(self->fd, &map));
	ASSERT_EQ(-EINVAL, ept_pmap_unmap(self->fd, 0, 0x800));
	ASSERT_EQ(-ENOENT, ept_pmap_protect(self->fd, SZ_4K, SZ_4K, EPM_PERM_R));
	ASSERT_EQ(-EINVAL, ept_pmap_protect(self->fd, 0, SZ_4K, EPM_PERM_W));
	ASSERT_EQ(0, ept_pmap_protect(self->fd, 0, SZ_4K, EPM_PERM_R | EPM_PERM_X));
	ASSERT_EQ(0, ept_pmap_check(self->fd, &c));
	ASSERT_EQ(0, c.mismatches);
	ASSERT_EQ(0, ept_pmap_eptp(self->fd, 0, &e));
	ASSERT_EQ(e.kpt_root + SZ_4K, e.eptp & EPM_PTE_ADDR);
	ASSERT_EQ(EPTP_MT_WB | EPTP_WALK_4, e.eptp & ~EPM_PTE_ADDR);
	if (!(self->caps.flags & EPM_CAP_EPT_AD))
		ASSERT_EQ(-EOPNOTSUPP, ept_pmap_eptp(self->fd, EPM_EPTP_AD, &e));
	if (!(self->caps.flags & EPM_CAP_RUN))
		ASSERT_EQ(-ENODEV, ept_pmap_run(self->fd, &r));
	ASSERT_EQ(0, ept_pmap_unmap(self->fd, 0, SZ_4K));
	ept_pmap_mem_free(&m);
}

TEST_HARNESS_MAIN
