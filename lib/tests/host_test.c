// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libept-pmap on the host, where the module is never loaded: every decoder
 * with exact values, every ioctl call against a file that is not the
 * device (/dev/null: ENOTTY), opening a missing device, and the memory
 * helpers with what this machine's sysfs says they must give. TAP out;
 * exit 1 on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ept-pmap.h"

static int n, failed;

static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	n++;
	if (!cond)
		failed++;
	printf("%sok %d ", cond ? "" : "not ", n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define EQ_INT(want, got) do {						\
	long long w_ = (want), g_ = (got);				\
	ok(w_ == g_, "%s == %s (%lld, got %lld)", #got, #want, w_, g_);	\
} while (0)

#define EQ_STR(want, got) do {						\
	const char *w_ = (want), *g_ = (got);				\
	ok(g_ && !strcmp(w_, g_), "%s == \"%s\" (got %s%s%s)", #got, w_, \
	   g_ ? "\"" : "", g_ ? g_ : "NULL", g_ ? "\"" : "");		\
} while (0)

static void test_names(void)
{
	const struct ept_pmap_flag *f;
	char buf[128], p[4];
	size_t count, i;
	uint32_t kind = 99;
	int good;

	EQ_STR(EXPECT_VERSION, ept_pmap_lib_version());
	EQ_STR("EINVAL", ept_pmap_errno_name(EINVAL));
	EQ_STR("ENOTTY", ept_pmap_errno_name(-ENOTTY));
	EQ_STR("EOPNOTSUPP", ept_pmap_errno_name(EOPNOTSUPP));
	EQ_STR("E4095", ept_pmap_errno_name(4095));

	EQ_STR("ept_violation", ept_pmap_exit_name(EPM_EXIT_EPT_VIOLATION));
	EQ_STR("other", ept_pmap_exit_name(EPM_EXIT_OTHER));
	ok(!ept_pmap_exit_name(12), "exit kind 12 has no name");
	ok(!ept_pmap_exit_name(EPM_EXIT_KINDS), "exit kind 16 has no name");
	EQ_INT(0, ept_pmap_exit_parse("EPT-Violation", &kind));
	EQ_INT(EPM_EXIT_EPT_VIOLATION, kind);
	EQ_INT(-EINVAL, ept_pmap_exit_parse("none", &kind));
	EQ_INT(-EINVAL, ept_pmap_exit_parse("hltx", &kind));
	EQ_INT(EPM_EXIT_EPT_VIOLATION, kind);

	EQ_STR("EPT_VIOLATION", ept_pmap_vmx_reason_name(48));
	EQ_STR("HLT", ept_pmap_vmx_reason_name(12));
	EQ_STR("IO_INSTRUCTION", ept_pmap_vmx_reason_name(30));
	EQ_STR("PREEMPTION_TIMER", ept_pmap_vmx_reason_name(52));
	ok(!ept_pmap_vmx_reason_name(35), "VMX reason 35 has no name");
	EQ_STR("npf", ept_pmap_svm_exit_name(0x400));
	EQ_STR("hlt", ept_pmap_svm_exit_name(0x78));
	EQ_STR("invalid_guest_state", ept_pmap_svm_exit_name(0xffffffffULL));
	EQ_STR("invalid_guest_state", ept_pmap_svm_exit_name(~0ULL));
	ok(!ept_pmap_svm_exit_name(0x12345), "SVM exit 0x12345 has no name");

	EQ_STR("#PF", ept_pmap_vector_name(14));
	EQ_STR("#?", ept_pmap_vector_name(22));
	EQ_INT(1, ept_pmap_vector_has_error_code(13));
	EQ_INT(0, ept_pmap_vector_has_error_code(6));
	EQ_STR("long64", ept_pmap_mode_name(EPM_MODE_LONG64));
	ok(!ept_pmap_mode_name(3), "mode 3 has no name");

	f = ept_pmap_cap_flags(&count);
	EQ_INT(19, count);
	for (good = 1, i = 0; i < count; i++)
		good &= f[i].flag == 1ULL << i && f[i].name && f[i].what;
	ok(good, "capability flags are bits 0..18 in order, each named");
	EQ_STR("ept_1g", f[5].name);
	EQ_STR("run", f[18].name);

	EQ_STR("r-x", ept_pmap_perm_str(EPM_PERM_R | EPM_PERM_X, p));
	EQ_STR("---", ept_pmap_perm_str(0, p));
	EQ_STR("WP", ept_pmap_memtype_name(EPM_MEMTYPE_WP));
	EQ_STR("?", ept_pmap_memtype_name(5));
	EQ_STR("WB", ept_pmap_ept_mt_name(EPM_MT_WB));
	EQ_STR("MT3?", ept_pmap_ept_mt_name(3));
	EQ_STR("PDPTE", ept_pmap_level_name(3));
	EQ_STR("?", ept_pmap_level_name(5));
	EQ_INT(0x1000, ept_pmap_level_size(1));
	EQ_INT(0x8000000000LL, ept_pmap_level_size(4));
	EQ_INT(0, ept_pmap_level_size(0));
	EQ_STR("leaf bits do not correspond",
	       ept_pmap_mismatch_name(EPM_MISMATCH_LEAF));
	EQ_STR("unknown reason", ept_pmap_mismatch_name(8));

	/* entries as the module writes them (see include/uapi/linux/ept_pmap_pte.h) */
	EQ_INT(1, ept_pmap_kpte_is_leaf(0x1007, 1));
	EQ_INT(0, ept_pmap_kpte_is_leaf(0x1007, 2));
	EQ_INT(1, ept_pmap_kpte_is_leaf(0x200087, 2));
	EQ_INT(0, ept_pmap_kpte_is_leaf(0x87, 4));
	EQ_INT(1, ept_pmap_epte_is_leaf(0x4000000b7ULL, 3));
	EQ_INT(0x123456600000LL, ept_pmap_entry_addr(0x123456789087ULL, 2, true));
	EQ_INT(0x123456789000LL, ept_pmap_entry_addr(0x123456789087ULL, 2, false));
	EQ_INT(0x123456789000LL, ept_pmap_entry_addr(0x8000123456789207ULL, 1, true));
	EQ_STR("P W U NX pinw",
	       ept_pmap_kpte_str(0x8000000012345207ULL, 1, true, buf, sizeof(buf)));
	EQ_STR("P W U PS PAT",
	       ept_pmap_kpte_str(0x40001087ULL, 2, true, buf, sizeof(buf)));
	EQ_STR("P W U PS ?0x2000",
	       ept_pmap_kpte_str(0x40002087ULL, 2, true, buf, sizeof(buf)));
	EQ_STR("P W U", ept_pmap_kpte_str(0x12345007ULL, 4, false, buf,
					  sizeof(buf)));
	EQ_STR("R W X WB pinw",
	       ept_pmap_epte_str(0x12345837ULL, 1, true, buf, sizeof(buf)));
	EQ_STR("R X UC IPAT PS A D",
	       ept_pmap_epte_str(0x400003c5ULL, 3, true, buf, sizeof(buf)));
	EQ_STR("R W X", ept_pmap_epte_str(0x12346007ULL, 2, false, buf,
					  sizeof(buf)));
	EQ_STR("R ?0x30", ept_pmap_epte_str(0x12346031ULL, 2, false, buf,
					    sizeof(buf)));
	EQ_STR("P W", ept_pmap_kpte_str(0x8000000000000207ULL, 1, true, buf, 4));
}

/* Every call on a file that is not the device: exactly -ENOTTY. */
static void test_not_the_device(void)
{
	struct ept_pmap_dump_iter it;
	const struct epm_dump_entry *e = NULL;
	struct epm_map m = { 0 };
	struct epm_caps c;
	struct epm_query q;
	struct epm_dump d = { 0 };
	struct epm_check ck;
	struct epm_eptp ep;
	struct epm_stats s;
	struct epm_run r = { 0 };
	char ver[32];
	int fd;

	EQ_INT(-ENOENT, ept_pmap_open("/nonexistent/ept-pmap"));
	fd = ept_pmap_open("/dev/null");
	ok(fd >= 0, "ept_pmap_open(/dev/null) gives a file descriptor (%d)", fd);
	if (fd < 0)
		return;
	EQ_INT(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EQ_INT(-ENOTTY, ept_pmap_version(fd));
	EQ_INT(-ENOTTY, ept_pmap_caps(fd, &c));
	EQ_INT(-ENOTTY, ept_pmap_map(fd, &m));
	EQ_INT(-ENOTTY, ept_pmap_unmap(fd, 0, 0x1000));
	EQ_INT(-ENOTTY, ept_pmap_protect(fd, 0, 0x1000, EPM_PERM_R));
	EQ_INT(-ENOTTY, ept_pmap_query(fd, 0x1234, &q));
	EQ_INT(0x1234, q.gpa);
	EQ_INT(-ENOTTY, ept_pmap_dump(fd, &d));
	EQ_INT(-ENOTTY, ept_pmap_check(fd, &ck));
	EQ_INT(-ENOTTY, ept_pmap_eptp(fd, EPM_EPTP_AD, &ep));
	EQ_INT(EPM_EPTP_AD, ep.flags);
	EQ_INT(-ENOTTY, ept_pmap_stats(fd, &s));
	EQ_INT(-ENOTTY, ept_pmap_run(fd, &r));
	ept_pmap_dump_init(&it, fd, EPM_DUMP_LEAVES);
	EQ_INT(-ENOTTY, ept_pmap_dump_next(&it, &e));
	ok(!e, "no entry handed out after a failed DUMP");
	EQ_INT(0, ept_pmap_close(fd));
	EQ_INT(-EBADF, ept_pmap_close(fd));
	EQ_INT(-EBADF, ept_pmap_version(fd));

	if (access("/sys/module/ept_pmap", F_OK))
		EQ_INT(-ENOENT, ept_pmap_module_version(ver, sizeof(ver)));
	else
		EQ_INT(0, ept_pmap_module_version(ver, sizeof(ver)));
}

static long sysfs_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* What MAP_HUGETLB of one page of @kb must give on this machine. */
static int hugetlb_expect(long kb)
{
	char path[128];
	long free_pages;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%ldkB/free_hugepages", kb);
	free_pages = sysfs_long(path);
	if (free_pages < 0)
		return -EINVAL;		/* no such huge page size */
	return free_pages ? 0 : -ENOMEM;
}

static void test_mem(void)
{
	struct ept_pmap_mem m;
	int want, ret;

	EQ_INT(0, ept_pmap_mem_alloc(&m, EPT_PMAP_MEM_ANON, 5000));
	EQ_INT(8192, m.size);
	EQ_INT(4096, m.page);
	EQ_INT(0, (uintptr_t)m.addr & 0xfff);
	memset(m.addr, 0x5a, m.size);
	ok(((unsigned char *)m.addr)[8191] == 0x5a, "anon memory is writable");
	ept_pmap_mem_free(&m);
	ok(!m.addr && !m.size, "freed memory is forgotten");

	EQ_INT(0, ept_pmap_mem_alloc(&m, EPT_PMAP_MEM_THP, 3 << 20));
	EQ_INT(4 << 20, m.size);
	EQ_INT(2 << 20, m.page);
	EQ_INT(0, (uintptr_t)m.addr & ((2 << 20) - 1));
	EQ_STR("thp", ept_pmap_mem_kind_name(m.kind));
	ept_pmap_mem_free(&m);

	want = hugetlb_expect(2048);
	ret = ept_pmap_mem_alloc(&m, EPT_PMAP_MEM_HUGETLB_2M, 4096);
	EQ_INT(want, ret);
	if (!ret) {
		EQ_INT(2 << 20, m.size);
		ept_pmap_mem_free(&m);
	}
	want = hugetlb_expect(1048576);
	ret = ept_pmap_mem_alloc(&m, EPT_PMAP_MEM_HUGETLB_1G, 4096);
	EQ_INT(want, ret);
	if (!ret) {
		EQ_INT(1 << 30, m.size);
		ept_pmap_mem_free(&m);
	}
	EQ_INT(-EINVAL, ept_pmap_mem_alloc(&m, EPT_PMAP_MEM_ANON, 0));
	EQ_INT(-EINVAL, ept_pmap_mem_alloc(&m, (enum ept_pmap_mem_kind)7, 4096));
	EQ_INT(-EINVAL, ept_pmap_mem_alloc(&m, EPT_PMAP_MEM_ANON, SIZE_MAX));
	EQ_STR("?", ept_pmap_mem_kind_name((enum ept_pmap_mem_kind)7));
}

int main(void)
{
	printf("TAP version 13\n");
	test_names();
	test_not_the_device();
	test_mem();
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed ? 1 : 0;
}
