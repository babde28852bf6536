// SPDX-License-Identifier: GPL-2.0
/*
 * ept-pmap: the VMX launcher, EPM_IOC_RUN.
 *
 * Every test builds a small address space, runs a guest on its EPT half
 * and asserts the exact exit record, the registers that come back and the
 * memory the guest touched. The guests are assembled into this file (see
 * GUEST() below) and copied to a guest page, so they are position
 * independent: addresses reach them in registers.
 *
 * Tests that need a guest to run SKIP unless CAPS says EPM_CAP_RUN, so on a
 * CPU without usable VMX (QEMU TCG) they report SKIP, never PASS. Two tests
 * need no VMX: input validation (EINVAL/EFAULT come before any VMX check)
 * and ENODEV on a CPU without VMX. A module without RUN (ENOTTY) fails
 * them: RUN is part of the ABI.
 *
 * Layout used by most tests (PROT32: paging off, so gva = gpa):
 *   GPA_CODE  0x1000   one page, R+X: the guest
 *   GPA_DATA  0x10000  DATA_PAGES pages, R+W
 *   GPA_HOLE  0x50000  never mapped
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/hw_breakpoint.h>
#include <linux/kvm.h>
#include <linux/perf_event.h>

/* the 6.1 harness has an unused parameter: keep -Wextra for our code */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "epm_test.h"
#include "epm_trace.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << MAP_HUGE_SHIFT)
#endif

#define GPA_CODE	0x1000ULL
#define GPA_DATA	0x10000ULL
#define DATA_PAGES	4
#define GPA_HOLE	0x50000ULL

#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL
#define RUN_TIMEOUT_NS	(2 * NSEC_PER_SEC)

/* Basic VMX exit reasons (SDM Vol. 3, Appendix C) */
#define VMX_EXIT_EXCEPTION	0
#define VMX_EXIT_TRIPLE_FAULT	2
#define VMX_EXIT_CPUID		10
#define VMX_EXIT_HLT		12
#define VMX_EXIT_VMCALL		18
#define VMX_EXIT_IO		30
#define VMX_EXIT_BAD_GUEST	33
#define VMX_EXIT_EPT_VIOLATION	48
#define VMX_EXIT_ENTRY_FAIL	(1U << 31)

/* EPT violation qualification: bits 5:3, what the EPT entry allowed */
#define EPT_QUAL_CAN_R		0x08
#define EPT_QUAL_CAN_W		0x10
#define EPT_QUAL_CAN_X		0x20

/* x86 exception vectors and #PF error-code bits */
#define X86_BP_VECTOR		3
#define X86_UD_VECTOR		6
#define X86_PF_VECTOR		14
#define X86_PF_WRITE		0x2

/* Guest (x86-64) page-table bits */
#define PTE_P		0x001ULL
#define PTE_W		0x002ULL
#define PTE_A		0x020ULL
#define PTE_D		0x040ULL
#define PTE_PS		0x080ULL

/*
 * GUEST(name, bits, code): guest code assembled as .code16/32/64 into a
 * read-only section of this test, between name[] and name_end[].
 * GUEST_MARK(label) declares a label placed inside a guest, so a test can
 * compute exact rip values (label - name).
 */
#define GUEST(name, bits, code)					\
	extern const unsigned char name[], name##_end[];	\
	__asm__(".pushsection .rodata.epm_guests, \"a\"\n"	\
		".globl " #name "\n"				\
		#name ":\n"					\
		".code" #bits "\n"				\
		code						\
		".code64\n"					\
		".globl " #name "_end\n"			\
		#name "_end:\n"					\
		".popsection\n")
#define GUEST_MARK(label)	extern const unsigned char label[]
#define OFF(label, name)	((uint64_t)((label) - (name)))

GUEST(g_hlt, 32,
	"hlt\n");

/* eax, eax + 1, ... into ecx dwords at edi */
GUEST(g_pattern, 32,
	"1:	movl %eax, (%edi)\n"
	"	addl $4, %edi\n"
	"	incl %eax\n"
	"	decl %ecx\n"
	"	jnz 1b\n"
	"	hlt\n");

GUEST(g_read, 32,
	"movl (%esi), %eax\n"
	"hlt\n");

GUEST(g_store, 32,
	"movl %eax, (%edi)\n"
	"hlt\n");

GUEST(g_jump, 32,
	"jmp *%eax\n");

/* what g_jump runs from an execute-only page */
GUEST(g_xo_body, 32,
	"movl $0x600d, %ebx\n"
	"hlt\n");

/* read the dwords at esi and edi into eax and ebx, then store ecx, edx */
GUEST(g_touch2, 32,
	"movl (%esi), %eax\n"
	"movl (%edi), %ebx\n"
	"movl %ecx, (%esi)\n"
	"movl %edx, (%edi)\n"
	"hlt\n");

GUEST(g_spin_read, 32,
	"1:	movl (%esi), %eax\n"
	"	jmp 1b\n");

GUEST(g_loop, 32,
	"1:	jmp 1b\n");

GUEST_MARK(g_vmcall_back);
GUEST(g_vmcall, 32,
	"movl %ebx, %eax\n"
	"addl %ecx, %eax\n"
	"vmcall\n"
	"g_vmcall_back:\n"
	"movl %eax, %edx\n"
	"addl %esi, %edx\n"
	"hlt\n");

GUEST_MARK(g_io_1);
GUEST_MARK(g_io_2);
GUEST_MARK(g_io_3);
GUEST_MARK(g_io_4);
GUEST_MARK(g_io_5);
GUEST_MARK(g_io_6);
GUEST_MARK(g_io_7);
GUEST(g_io, 32,
	"outb %al, %dx\n"
	"g_io_1:\n"
	"outw %ax, %dx\n"
	"g_io_2:\n"
	"outl %eax, %dx\n"
	"g_io_3:\n"
	"outb %al, $0x80\n"
	"g_io_4:\n"
	"inb %dx, %al\n"
	"g_io_5:\n"
	"movb %al, (%edi)\n"
	"inw %dx, %ax\n"
	"g_io_6:\n"
	"movw %ax, 2(%edi)\n"
	"inl %dx, %eax\n"
	"g_io_7:\n"
	"movl %eax, 4(%edi)\n"
	"hlt\n");

/* the NUL-terminated string at esi to port dx, a byte at a time */
GUEST(g_hello, 32,
	"1:	movb (%esi), %al\n"
	"	testb %al, %al\n"
	"	jz 2f\n"
	"	outb %al, %dx\n"
	"	incl %esi\n"
	"	jmp 1b\n"
	"2:	hlt\n");

GUEST(g_ud2, 32,
	"ud2\n");

GUEST(g_int3, 32,
	"int3\n");

GUEST(g_cpuid, 32,
	"cpuid\n"
	"hlt\n");

/*
 * Clobber the FPU the guest was given: with SSE (CR4.OSFXSR) load xmm0-7
 * from the 128 bytes at esi and store xmm0 ^ xmm7 at edi; then FNINIT and
 * load mm0-7 (the x87 registers) from there, store mm0 ^ mm7 at edi + 16,
 * and leave MMX state dirty. ebx says what ran: 1 SSE, 2 MMX; 0 when CR0
 * says no FPU (EM or TS). Control registers are only read: the launcher
 * may make writes to them exit.
 */
GUEST(g_fpu, 32,
	"	xorl %ebx, %ebx\n"
	"	movl %cr0, %eax\n"
	"	testl $0xc, %eax\n"
	"	jnz 3f\n"
	"	movl %cr4, %eax\n"
	"	testl $0x200, %eax\n"
	"	jz 2f\n"
	"	movdqu 0x00(%esi), %xmm0\n"
	"	movdqu 0x10(%esi), %xmm1\n"
	"	movdqu 0x20(%esi), %xmm2\n"
	"	movdqu 0x30(%esi), %xmm3\n"
	"	movdqu 0x40(%esi), %xmm4\n"
	"	movdqu 0x50(%esi), %xmm5\n"
	"	movdqu 0x60(%esi), %xmm6\n"
	"	movdqu 0x70(%esi), %xmm7\n"
	"	pxor %xmm0, %xmm7\n"
	"	movdqu %xmm7, (%edi)\n"
	"	orl $1, %ebx\n"
	"2:	fninit\n"
	"	movq 0x00(%esi), %mm0\n"
	"	movq 0x10(%esi), %mm1\n"
	"	movq 0x20(%esi), %mm2\n"
	"	movq 0x30(%esi), %mm3\n"
	"	movq 0x40(%esi), %mm4\n"
	"	movq 0x50(%esi), %mm5\n"
	"	movq 0x60(%esi), %mm6\n"
	"	movq 0x70(%esi), %mm7\n"
	"	pxor %mm0, %mm7\n"
	"	movq %mm7, 0x10(%edi)\n"
	"	orl $2, %ebx\n"
	"3:	hlt\n");

/* real mode: OUT the word at ds:si to port dx, store bx after it */
GUEST_MARK(g_real_out);
GUEST(g_real, 16,
	"movw (%si), %ax\n"
	"outw %ax, %dx\n"
	"g_real_out:\n"
	"movw %bx, 2(%si)\n"
	"hlt\n");

/* long mode: rax, rax + 1, ... into rcx qwords at the virtual rdi */
GUEST(g_long, 64,
	"1:	movq %rax, (%rdi)\n"
	"	addq $8, %rdi\n"
	"	incq %rax\n"
	"	decq %rcx\n"
	"	jnz 1b\n"
	"	hlt\n");

/* ASSERT_EQ on unsigned fields, whatever the type of the expected value */
#define ASSERT_EQ_U(expected, seen) \
	ASSERT_EQ((uint64_t)(expected), (uint64_t)(seen))

#define GUEST_LEN(name)		((uint64_t)(name##_end - name))

FIXTURE(vmx) {
	int fd;
	struct epm_caps caps;
	pid_t churn;		/* a helper process the teardown must stop */
};

FIXTURE_SETUP(vmx)
{
	self->churn = 0;
	self->fd = epm_open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", EPM_DEV, strerror(errno));
	memset(&self->caps, 0, sizeof(self->caps));
	ASSERT_EQ(0, ioctl(self->fd, EPM_IOC_CAPS, &self->caps));
}

FIXTURE_TEARDOWN(vmx)
{
	if (self->churn > 0) {
		kill(self->churn, SIGKILL);
		waitpid(self->churn, NULL, 0);
	}
	if (self->fd >= 0)
		close(self->fd);
}

#define REQUIRE_RUN() do {						\
	if (!(self->caps.flags & EPM_CAP_RUN))				\
		SKIP(return, "RUN cannot launch guests on this CPU "	\
		     "(no EPM_CAP_RUN: no usable VMX, EPT, unrestricted " \
		     "guest or preemption timer)");			\
} while (0)

/* The exit record, for failure messages. */
static const char *exit_str(const struct epm_run *r)
{
	static char buf[200];

	snprintf(buf, sizeof(buf),
		 "exit_kind %u reason %#x qual %#llx gpa %#llx access %u vector %u rip %#llx entry_error %u",
		 r->exit_kind, r->exit_reason,
		 (unsigned long long)r->exit_qual,
		 (unsigned long long)r->gpa, r->access, r->vector,
		 (unsigned long long)r->regs.rip, r->entry_error);
	return buf;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* A fresh RUN request: @mode, rip, flat rflags, the default timeout. */
static void run_prep(struct epm_run *r, uint32_t mode, uint64_t rip)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->timeout_ns = RUN_TIMEOUT_NS;
	r->regs.rip = rip;
	r->regs.rflags = 0x2;
}

static int run(int fd, struct epm_run *r)
{
	return ioctl(fd, EPM_IOC_RUN, r);
}

/*
 * RUN again with the very struct the last RUN returned: that resumes the
 * guest after HLT, VMCALL and I/O, and its output fields are not input.
 */
static int resume(int fd, struct epm_run *r)
{
	return run(fd, r);
}

/* Page-aligned anonymous memory, zeroed. */
static void *zalloc(struct __test_metadata *_metadata, size_t size)
{
	void *p = epm_alloc(size, SZ_4K, 0);

	ASSERT_NE(NULL, p);
	memset(p, 0, size);
	return p;
}

/*
 * Copy a guest into its own page, the rest of which is int3 (so running
 * off its end is an exception, not a silent pass), and map it at @gpa.
 */
static void *load_guest(struct __test_metadata *_metadata, int fd,
			uint64_t gpa, const unsigned char *start,
			const unsigned char *end, uint32_t perm)
{
	unsigned char *page = zalloc(_metadata, SZ_4K);

	ASSERT_GE(SZ_4K, (uint64_t)(end - start));
	memset(page, 0xcc, SZ_4K);
	memcpy(page, start, end - start);
	ASSERT_EQ(0, epm_map_at(fd, gpa, SZ_4K, page, perm))
		TH_LOG("MAP guest at %#llx: %s", (unsigned long long)gpa,
		       strerror(errno));
	return page;
}

#define LOAD(fd, gpa, name) \
	load_guest(_metadata, fd, gpa, name, name##_end, \
		   EPM_PERM_R | EPM_PERM_X)

/* Zeroed memory mapped at @gpa with @perm. */
static void *map_data(struct __test_metadata *_metadata, int fd,
		      uint64_t gpa, uint64_t size, uint32_t perm)
{
	void *p = zalloc(_metadata, size);

	ASSERT_EQ(0, epm_map_at(fd, gpa, size, p, perm))
		TH_LOG("MAP data at %#llx: %s", (unsigned long long)gpa,
		       strerror(errno));
	return p;
}

static void expect_hlt(struct __test_metadata *_metadata, int ret,
		       const struct epm_run *r, uint64_t rip)
{
	ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(errno));
	ASSERT_EQ_U(EPM_EXIT_HLT, r->exit_kind) TH_LOG("%s", exit_str(r));
	ASSERT_EQ_U(VMX_EXIT_HLT, r->exit_reason & 0xffff);
	ASSERT_EQ(rip, r->regs.rip);
	ASSERT_EQ_U(0x2, r->regs.rflags & 0x2);
}

/* @can: the EPT_QUAL_CAN_* bits the entry at @gpa allowed */
static void expect_violation(struct __test_metadata *_metadata, int ret,
			     const struct epm_run *r, uint64_t gpa,
			     uint32_t access, uint64_t can)
{
	ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(errno));
	ASSERT_EQ_U(EPM_EXIT_EPT_VIOLATION, r->exit_kind)
		TH_LOG("%s", exit_str(r));
	ASSERT_EQ_U(VMX_EXIT_EPT_VIOLATION, r->exit_reason & 0xffff);
	ASSERT_EQ(gpa, r->gpa);
	ASSERT_EQ(access, r->access);
	ASSERT_EQ((uint64_t)access, r->exit_qual & 0x7);
	ASSERT_EQ(can, r->exit_qual & 0x38);
}

static void expect_io(struct __test_metadata *_metadata, int ret,
		      const struct epm_run *r, uint16_t port, uint8_t size,
		      uint8_t in, uint64_t rip)
{
	uint64_t imm = port == 0x80 ? 1 : 0;	/* only g_io's "outb $0x80" */

	ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(errno));
	ASSERT_EQ_U(EPM_EXIT_IO, r->exit_kind) TH_LOG("%s", exit_str(r));
	ASSERT_EQ_U(VMX_EXIT_IO, r->exit_reason & 0xffff);
	ASSERT_EQ(port, r->port);
	ASSERT_EQ(size, r->io_size);
	ASSERT_EQ(in, r->io_in);
	ASSERT_EQ_U(0, r->io_flags);
	ASSERT_EQ(((uint64_t)port << 16) | imm << 6 | (uint64_t)in << 3 |
		  (uint64_t)(size - 1), r->exit_qual);
	ASSERT_EQ(rip, r->regs.rip);
}

static void expect_exception(struct __test_metadata *_metadata, int ret,
			     const struct epm_run *r, uint32_t vector)
{
	ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(errno));
	ASSERT_EQ_U(EPM_EXIT_EXCEPTION, r->exit_kind)
		TH_LOG("%s", exit_str(r));
	ASSERT_EQ_U(VMX_EXIT_EXCEPTION, r->exit_reason & 0xffff);
	ASSERT_EQ(vector, r->vector);
}

/* Keep this thread on the CPU it is on, so its EPT TLB entries stay hot. */
static void pin_here(struct __test_metadata *_metadata)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	ASSERT_LE(0, cpu);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
}

/* 1 when THP is enabled at all (always or madvise), 0 otherwise. */
static int thp_enabled(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return !strstr(buf, "[never]") && buf[0];
}

/* THP-backed 2M at @gpa, RW: SKIPs the test unless it is one 2M leaf. */
#define MAP_THP_2M(gpa, out) do {					\
	struct epm_query q_;						\
	if (!(self->caps.map_sizes & (1u << EPM_PAGE_2M)))		\
		SKIP(return, "MAP builds no 2M leaves here (map_sizes %#x)", \
		     self->caps.map_sizes);				\
	if (!thp_enabled())						\
		SKIP(return, "transparent huge pages are off");	\
	out = epm_alloc(SZ_2M, SZ_2M, MADV_HUGEPAGE);			\
	ASSERT_NE(NULL, out);						\
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, SZ_2M, out,		\
				EPM_PERM_R | EPM_PERM_W));		\
	ASSERT_EQ(0, epm_query_at(self->fd, gpa, &q_));		\
	ASSERT_EQ_U(2, q_.level)					\
		TH_LOG("THP-backed memory did not become a 2M leaf");	\
} while (0)

TEST_F(vmx, hlt_exit_record)
{
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_hlt);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rflags = 0;
	r.regs.rbx = 0x1111;
	r.regs.r15 = 0xf15f15f15ULL;
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 1);
	ASSERT_EQ_U(0x1111, r.regs.rbx);
	ASSERT_EQ(0xf15f15f15ULL, r.regs.r15);
	ASSERT_EQ_U(0, r.reserved[0] | r.reserved[1] | r.reserved[2] |
		       r.reserved[3]);
}

TEST_F(vmx, pattern_to_rw_memory)
{
	uint32_t *data, i, n = DATA_PAGES * SZ_4K / 4;
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_pattern);
	data = map_data(_metadata, self->fd, GPA_DATA, DATA_PAGES * SZ_4K,
			EPM_PERM_R | EPM_PERM_W);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = 0xa5000000;
	r.regs.rcx = n;
	r.regs.rdi = GPA_DATA;
	expect_hlt(_metadata, run(self->fd, &r), &r,
		   GPA_CODE + GUEST_LEN(g_pattern));
	ASSERT_EQ_U(0, r.regs.rcx);
	ASSERT_EQ(GPA_DATA + DATA_PAGES * SZ_4K, r.regs.rdi);
	ASSERT_EQ(0xa5000000 + n, r.regs.rax);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0xa5000000 + i, data[i]) TH_LOG("dword %u", i);
}

TEST_F(vmx, hello_out_bytes)
{
	static const char msg[] = "hello\n";
	struct epm_run r;
	char *data, got[16] = "";
	unsigned int i;
	int ret;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_hello);
	data = map_data(_metadata, self->fd, GPA_DATA, SZ_4K, EPM_PERM_R);
	strcpy(data, msg);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = GPA_DATA;
	r.regs.rdx = 0x3f8;
	for (i = 0; i < sizeof(got) - 1; i++) {
		ret = i ? resume(self->fd, &r) : run(self->fd, &r);
		ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(errno));
		if (r.exit_kind != EPM_EXIT_IO)
			break;
		ASSERT_EQ(0x3f8, r.port);
		ASSERT_EQ(1, r.io_size);
		ASSERT_EQ(0, r.io_in);
		got[i] = (char)r.io_data;
		ASSERT_EQ((uint64_t)(uint8_t)msg[i], r.io_data);
	}
	expect_hlt(_metadata, 0, &r, GPA_CODE + GUEST_LEN(g_hello));
	ASSERT_STREQ(msg, got);
}

TEST_F(vmx, read_unmapped_violation)
{
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_read);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = GPA_HOLE + 0x123;
	r.regs.rax = 0x5555;
	expect_violation(_metadata, run(self->fd, &r), &r, GPA_HOLE + 0x123,
			 EPM_PERM_R, 0);
	/* a fault: the load did not retire */
	ASSERT_EQ(GPA_CODE, r.regs.rip);
	ASSERT_EQ_U(0x5555, r.regs.rax);
}

TEST_F(vmx, write_readonly_violation)
{
	uint32_t *data;
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_store);
	data = map_data(_metadata, self->fd, GPA_DATA, SZ_4K, EPM_PERM_R);
	data[0x40 / 4] = 0x77777777;
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = 0x12345678;
	r.regs.rdi = GPA_DATA + 0x40;
	expect_violation(_metadata, run(self->fd, &r), &r, GPA_DATA + 0x40,
			 EPM_PERM_W, EPT_QUAL_CAN_R);
	ASSERT_EQ(GPA_CODE, r.regs.rip);
	ASSERT_EQ_U(0x77777777, data[0x40 / 4]);
}

TEST_F(vmx, fetch_noexec_violation)
{
	unsigned char *data;
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_jump);
	data = map_data(_metadata, self->fd, GPA_DATA, SZ_4K,
			EPM_PERM_R | EPM_PERM_W);
	memcpy(data + 0x80, g_hlt, GUEST_LEN(g_hlt));
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = GPA_DATA + 0x80;
	expect_violation(_metadata, run(self->fd, &r), &r, GPA_DATA + 0x80,
			 EPM_PERM_X, EPT_QUAL_CAN_R | EPT_QUAL_CAN_W);
	ASSERT_EQ(GPA_DATA + 0x80, r.regs.rip);
}

TEST_F(vmx, exec_only_page)
{
	const uint64_t xo = 0x30000;
	struct epm_run r;

	REQUIRE_RUN();
	if (!(self->caps.flags & EPM_CAP_EPT_X_ONLY))
		SKIP(return, "the CPU has no execute-only EPT leaves");
	LOAD(self->fd, GPA_CODE, g_jump);
	load_guest(_metadata, self->fd, xo, g_xo_body, g_xo_body_end,
		   EPM_PERM_X);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = xo;
	expect_hlt(_metadata, run(self->fd, &r), &r, xo + GUEST_LEN(g_xo_body));
	ASSERT_EQ_U(0x600d, r.regs.rbx);

	/* the same page cannot be read */
	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_CODE, SZ_4K));
	LOAD(self->fd, GPA_CODE, g_read);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = xo + 8;
	expect_violation(_metadata, run(self->fd, &r), &r, xo + 8, EPM_PERM_R,
			 EPT_QUAL_CAN_X);
}

/*
 * Touch the first and the last dword of [gpa, gpa + size), a single leaf;
 * then write dwords from 64 bytes below its end upwards: the guest must
 * stop at exactly gpa + size, the first unmapped gpa, with the 64 bytes
 * below it written.
 */
static void touch_leaf_ends(struct __test_metadata *_metadata, int fd,
			    uint64_t gpa, uint64_t size, uint32_t *mem)
{
	uint32_t *last = mem + size / 4 - 1, *tail = mem + (size - 64) / 4;
	struct epm_run r;
	int i;

	LOAD(fd, GPA_CODE, g_touch2);
	mem[0] = 0x1f1f1f1f;
	*last = 0x2e2e2e2e;
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = gpa;
	r.regs.rdi = gpa + size - 4;
	r.regs.rcx = 0xc0c0c0c0;
	r.regs.rdx = 0xd0d0d0d0;
	expect_hlt(_metadata, run(fd, &r), &r, GPA_CODE + GUEST_LEN(g_touch2));
	ASSERT_EQ_U(0x1f1f1f1f, r.regs.rax);
	ASSERT_EQ_U(0x2e2e2e2e, r.regs.rbx);
	ASSERT_EQ(0xc0c0c0c0, mem[0]);
	ASSERT_EQ(0xd0d0d0d0, *last);

	ASSERT_EQ(0, epm_unmap_at(fd, GPA_CODE, SZ_4K));
	LOAD(fd, GPA_CODE, g_pattern);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = 0x70000000;
	r.regs.rcx = 32;
	r.regs.rdi = gpa + size - 64;
	expect_violation(_metadata, run(fd, &r), &r, gpa + size, EPM_PERM_W, 0);
	ASSERT_EQ(GPA_CODE, r.regs.rip);
	ASSERT_EQ(gpa + size, r.regs.rdi);
	ASSERT_EQ_U(16, r.regs.rcx);
	for (i = 0; i < 16; i++)
		ASSERT_EQ_U(0x70000000 + i, tail[i]);
}

TEST_F(vmx, leaf_2m_ends_and_beyond)
{
	const uint64_t gpa = 0x200000;
	uint32_t *mem;

	REQUIRE_RUN();
	MAP_THP_2M(gpa, mem);
	touch_leaf_ends(_metadata, self->fd, gpa, SZ_2M, mem);
}

#define HUGE_1G_NR "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"

static long read_long(const char *path)
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

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%ld\n", v) > 0 ? 0 : -1;
	if (fclose(f))
		ret = -1;
	return ret;
}

TEST_F_TIMEOUT(vmx, leaf_1g_ends_and_beyond, 120)
{
	const uint64_t gpa = SZ_1G;
	long had = read_long(HUGE_1G_NR);
	struct epm_query q;
	uint32_t *mem;

	REQUIRE_RUN();
	if (!(self->caps.map_sizes & (1u << EPM_PAGE_1G)))
		SKIP(return, "no 1G leaves here (EPT or host lacks 1G pages)");
	mem = mmap(NULL, SZ_1G, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB,
		   -1, 0);
	if (mem == MAP_FAILED && had >= 0 && !write_long(HUGE_1G_NR, had + 1))
		mem = mmap(NULL, SZ_1G, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			   MAP_HUGE_1GB, -1, 0);
	if (mem == MAP_FAILED) {
		if (had >= 0)
			write_long(HUGE_1G_NR, had);
		SKIP(return, "no hugetlbfs 1G page (boot with hugepagesz=1G hugepages=1)");
	}
	ASSERT_EQ(0, epm_map_at(self->fd, gpa, SZ_1G, mem,
				EPM_PERM_R | EPM_PERM_W))
		TH_LOG("MAP 1G: %s", strerror(errno));
	ASSERT_EQ(0, epm_query_at(self->fd, gpa, &q));
	ASSERT_EQ_U(3, q.level);
	touch_leaf_ends(_metadata, self->fd, gpa, SZ_1G, mem);
	/* leave the pool as it was: the page goes back at munmap */
	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, SZ_1G));
	munmap(mem, SZ_1G);
	if (had >= 0)
		write_long(HUGE_1G_NR, had);
}

TEST_F(vmx, stale_tlb_unmap_remap)
{
	const uint64_t g = 0x20000;
	uint32_t *a, *b;
	struct epm_run r;

	REQUIRE_RUN();
	pin_here(_metadata);
	LOAD(self->fd, GPA_CODE, g_read);
	a = map_data(_metadata, self->fd, g, SZ_4K, EPM_PERM_R | EPM_PERM_W);
	b = zalloc(_metadata, SZ_4K);
	a[4] = 0x1111aaaa;
	b[4] = 0x2222bbbb;

	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = g + 16;
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 3);
	ASSERT_EQ_U(0x1111aaaa, r.regs.rax);

	ASSERT_EQ(0, epm_unmap_at(self->fd, g, SZ_4K));
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = g + 16;
	expect_violation(_metadata, run(self->fd, &r), &r, g + 16, EPM_PERM_R,
			 0);

	ASSERT_EQ(0, epm_map_at(self->fd, g, SZ_4K, b,
				EPM_PERM_R | EPM_PERM_W));
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = g + 16;
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 3);
	ASSERT_EQ_U(0x2222bbbb, r.regs.rax);
}

TEST_F(vmx, stale_tlb_protect)
{
	const uint64_t g = 0x20000;
	struct epm_run r;
	uint32_t *a;

	REQUIRE_RUN();
	pin_here(_metadata);
	LOAD(self->fd, GPA_CODE, g_store);
	a = map_data(_metadata, self->fd, g, SZ_4K, EPM_PERM_R | EPM_PERM_W);

	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = 0x0d0d0d0d;
	r.regs.rdi = g + 8;
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 3);
	ASSERT_EQ_U(0x0d0d0d0d, a[2]);

	ASSERT_EQ(0, epm_protect_at(self->fd, g, SZ_4K, EPM_PERM_R));
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = 0x0e0e0e0e;
	r.regs.rdi = g + 8;
	expect_violation(_metadata, run(self->fd, &r), &r, g + 8, EPM_PERM_W,
			 EPT_QUAL_CAN_R);
	ASSERT_EQ_U(0x0d0d0d0d, a[2]);

	/* mapped with W at first, so W may come back */
	ASSERT_EQ(0, epm_protect_at(self->fd, g, SZ_4K,
				    EPM_PERM_R | EPM_PERM_W));
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = 0x0f0f0f0f;
	r.regs.rdi = g + 8;
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 3);
	ASSERT_EQ_U(0x0f0f0f0f, a[2]);
}

/* A jumbo leaf cut by UNMAP/PROTECT: the cached 2M translation must go. */
TEST_F(vmx, stale_tlb_jumbo_split)
{
	const uint64_t gpa = 0x200000;
	struct epm_query q;
	struct epm_run r;
	uint32_t *mem;

	REQUIRE_RUN();
	pin_here(_metadata);
	LOAD(self->fd, GPA_CODE, g_read);
	MAP_THP_2M(gpa, mem);
	mem[4] = 0xaaaa0001;
	mem[(SZ_4K + 16) / 4] = 0xbbbb0002;

	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = gpa + 16;
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 3);
	ASSERT_EQ(0xaaaa0001, r.regs.rax);

	ASSERT_EQ(0, epm_unmap_at(self->fd, gpa, SZ_4K));
	ASSERT_EQ(0, epm_query_at(self->fd, gpa + SZ_4K, &q));
	ASSERT_EQ_U(1, q.level);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = gpa + 16;
	expect_violation(_metadata, run(self->fd, &r), &r, gpa + 16,
			 EPM_PERM_R, 0);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = gpa + SZ_4K + 16;
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 3);
	ASSERT_EQ(0xbbbb0002, r.regs.rax);

	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_CODE, SZ_4K));
	LOAD(self->fd, GPA_CODE, g_store);
	ASSERT_EQ(0, epm_protect_at(self->fd, gpa + SZ_2M - SZ_4K, SZ_4K,
				    EPM_PERM_R));
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = 0x99;
	r.regs.rdi = gpa + SZ_2M - 4;
	expect_violation(_metadata, run(self->fd, &r), &r, gpa + SZ_2M - 4,
			 EPM_PERM_W, EPT_QUAL_CAN_R);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = 0x99;
	r.regs.rdi = gpa + SZ_2M - SZ_4K - 4;
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 3);
	ASSERT_EQ_U(0x99, mem[(SZ_2M - SZ_4K - 4) / 4]);
}

TEST_F(vmx, vmcall_round_trip)
{
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_vmcall);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rbx = 0x12340000;
	r.regs.rcx = 0x00005678;
	ASSERT_EQ(0, run(self->fd, &r));
	ASSERT_EQ_U(EPM_EXIT_VMCALL, r.exit_kind) TH_LOG("%s", exit_str(&r));
	ASSERT_EQ_U(VMX_EXIT_VMCALL, r.exit_reason & 0xffff);
	ASSERT_EQ_U(0x12345678, r.regs.rax);
	ASSERT_EQ_U(0x12340000, r.regs.rbx);
	ASSERT_EQ_U(0x00005678, r.regs.rcx);
	ASSERT_EQ(GPA_CODE + OFF(g_vmcall_back, g_vmcall), r.regs.rip);

	/* the host answers in rax; the guest goes on after the VMCALL */
	r.regs.rax = 0x1000;
	r.regs.rsi = 0x22;
	expect_hlt(_metadata, resume(self->fd, &r), &r,
		   GPA_CODE + GUEST_LEN(g_vmcall));
	ASSERT_EQ_U(0x1022, r.regs.rdx);
	ASSERT_EQ_U(0x1000, r.regs.rax);
}

TEST_F(vmx, port_io_out_in_resume)
{
	const uint16_t port = 0x2f8;
	unsigned char *data;
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_io);
	data = map_data(_metadata, self->fd, GPA_DATA, SZ_4K,
			EPM_PERM_R | EPM_PERM_W);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = 0x89abcdef;
	r.regs.rdx = port;
	r.regs.rdi = GPA_DATA;

	expect_io(_metadata, run(self->fd, &r), &r, port, 1, 0,
		  GPA_CODE + OFF(g_io_1, g_io));
	ASSERT_EQ_U(0xef, r.io_data);
	expect_io(_metadata, resume(self->fd, &r), &r, port, 2, 0,
		  GPA_CODE + OFF(g_io_2, g_io));
	ASSERT_EQ_U(0xcdef, r.io_data);
	expect_io(_metadata, resume(self->fd, &r), &r, port, 4, 0,
		  GPA_CODE + OFF(g_io_3, g_io));
	ASSERT_EQ(0x89abcdef, r.io_data);
	expect_io(_metadata, resume(self->fd, &r), &r, 0x80, 1, 0,
		  GPA_CODE + OFF(g_io_4, g_io));
	ASSERT_EQ_U(0xef, r.io_data);

	expect_io(_metadata, resume(self->fd, &r), &r, port, 1, 1,
		  GPA_CODE + OFF(g_io_5, g_io));
	r.regs.rax = (r.regs.rax & ~0xffULL) | 0xa5;
	expect_io(_metadata, resume(self->fd, &r), &r, port, 2, 1,
		  GPA_CODE + OFF(g_io_6, g_io));
	r.regs.rax = (r.regs.rax & ~0xffffULL) | 0xbeef;
	expect_io(_metadata, resume(self->fd, &r), &r, port, 4, 1,
		  GPA_CODE + OFF(g_io_7, g_io));
	r.regs.rax = 0xfeedface;
	expect_hlt(_metadata, resume(self->fd, &r), &r,
		   GPA_CODE + GUEST_LEN(g_io));

	ASSERT_EQ(0xa5, data[0]);
	ASSERT_EQ(0x00, data[1]);
	ASSERT_EQ(0xbeef, *(uint16_t *)(data + 2));
	ASSERT_EQ(0xfeedface, *(uint32_t *)(data + 4));
	ASSERT_EQ(0x00, data[8]);
}

TEST_F(vmx, exception_exits)
{
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_ud2);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	expect_exception(_metadata, run(self->fd, &r), &r, X86_UD_VECTOR);
	ASSERT_EQ(GPA_CODE, r.regs.rip);
	ASSERT_EQ_U(0, r.error_code);

	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_CODE, SZ_4K));
	LOAD(self->fd, GPA_CODE, g_int3);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	expect_exception(_metadata, run(self->fd, &r), &r, X86_BP_VECTOR);
}

TEST_F(vmx, guest_exceptions_triple_fault)
{
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_ud2);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.flags = EPM_RUN_GUEST_EXC;
	ASSERT_EQ(0, run(self->fd, &r)) TH_LOG("RUN: %s", strerror(errno));
	ASSERT_EQ_U(EPM_EXIT_TRIPLE_FAULT, r.exit_kind)
		TH_LOG("%s", exit_str(&r));
	ASSERT_EQ_U(VMX_EXIT_TRIPLE_FAULT, r.exit_reason & 0xffff);

	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_CODE, SZ_4K));
	LOAD(self->fd, GPA_CODE, g_int3);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.flags = EPM_RUN_GUEST_EXC;
	ASSERT_EQ(0, run(self->fd, &r));
	ASSERT_EQ_U(EPM_EXIT_TRIPLE_FAULT, r.exit_kind)
		TH_LOG("%s", exit_str(&r));
}

/* CPUID always exits on VMX; the kernel leaves it to the caller. */
TEST_F(vmx, cpuid_exit_other)
{
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_cpuid);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	ASSERT_EQ(0, run(self->fd, &r));
	ASSERT_EQ_U(EPM_EXIT_OTHER, r.exit_kind) TH_LOG("%s", exit_str(&r));
	ASSERT_EQ_U(VMX_EXIT_CPUID, r.exit_reason & 0xffff);
	ASSERT_EQ(GPA_CODE, r.regs.rip);
}

TEST_F(vmx, timeout_stops_endless_loop)
{
	uint64_t t0, dt;
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_loop);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.timeout_ns = 50 * NSEC_PER_MSEC;
	t0 = now_ns();
	ASSERT_EQ(0, run(self->fd, &r)) TH_LOG("RUN: %s", strerror(errno));
	dt = now_ns() - t0;
	ASSERT_EQ_U(EPM_EXIT_TIMEOUT, r.exit_kind) TH_LOG("%s", exit_str(&r));
	ASSERT_EQ(GPA_CODE, r.regs.rip);
	ASSERT_LE(45 * NSEC_PER_MSEC, dt);
	ASSERT_GT(5 * NSEC_PER_SEC, dt);
}

/*
 * Timeouts shorter than setting up VMX: the deadline has passed before the
 * first entry, and RUN must still end at once with TIMEOUT, not run the
 * guest for the preemption timer's maximum (it did: its value wrapped).
 */
TEST_F(vmx, timeout_shorter_than_setup)
{
	static const uint64_t timeouts[] = { 1000, 10000, 100000, 1000000 };
	struct epm_run r;
	uint64_t t0, dt;
	unsigned int i, k;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_loop);
	for (i = 0; i < ARRAY_SIZE(timeouts); i++) {
		for (k = 0; k < 5; k++) {
			run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
			r.timeout_ns = timeouts[i];
			t0 = now_ns();
			ASSERT_EQ(0, run(self->fd, &r)) TH_LOG("RUN: %s", strerror(errno));
			dt = now_ns() - t0;
			ASSERT_EQ_U(EPM_EXIT_TIMEOUT, r.exit_kind)
				TH_LOG("timeout %llu ns: %s",
				       (unsigned long long)timeouts[i], exit_str(&r));
			ASSERT_EQ(GPA_CODE, r.regs.rip);
			ASSERT_GT(timeouts[i] + NSEC_PER_SEC, dt)
				TH_LOG("timeout %llu ns took %llu ns",
				       (unsigned long long)timeouts[i],
				       (unsigned long long)dt);
		}
	}
}

static volatile sig_atomic_t sigusr1_seen;

static void on_sigusr1(int sig)
{
	(void)sig;
	sigusr1_seen++;
}

struct kicker {
	pthread_t target;
	bool stop;		/* __atomic */
};

/* SIGUSR1 to the target every 20 ms until told to stop. */
static void *kicker_fn(void *arg)
{
	struct kicker *k = arg;

	while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE)) {
		usleep(20000);
		if (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE))
			pthread_kill(k->target, SIGUSR1);
	}
	return NULL;
}

TEST_F(vmx, signal_interrupts_run)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };	/* no SA_RESTART */
	struct kicker k = { .target = pthread_self() };
	uint64_t t0, dt;
	struct epm_run r;
	pthread_t th;
	int ret, err;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_loop);
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.timeout_ns = 10 * NSEC_PER_SEC;
	r.regs.rbx = 0xb0b0;
	ASSERT_EQ(0, pthread_create(&th, NULL, kicker_fn, &k));
	t0 = now_ns();
	ret = run(self->fd, &r);
	err = errno;
	dt = now_ns() - t0;
	__atomic_store_n(&k.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);

	ASSERT_EQ(-1, ret) TH_LOG("%s", exit_str(&r));
	ASSERT_EQ(EINTR, err);
	ASSERT_EQ_U(EPM_EXIT_INTR, r.exit_kind);
	ASSERT_LT(0, sigusr1_seen);
	ASSERT_GT(5 * NSEC_PER_SEC, dt);
	/* registers are written back: still in the loop */
	ASSERT_EQ(GPA_CODE, r.regs.rip);
	ASSERT_EQ_U(0xb0b0, r.regs.rbx);

	/* and the file still runs guests */
	r.timeout_ns = 20 * NSEC_PER_MSEC;
	ASSERT_EQ(0, resume(self->fd, &r)) TH_LOG("RUN: %s", strerror(errno));
	ASSERT_EQ_U(EPM_EXIT_TIMEOUT, r.exit_kind);
}

struct runner {
	int fd;
	struct epm_run run;
	int ret;
	int err;
	bool started;		/* __atomic */
};

static void *runner_fn(void *arg)
{
	struct runner *rn = arg;

	__atomic_store_n(&rn->started, true, __ATOMIC_RELEASE);
	rn->ret = ioctl(rn->fd, EPM_IOC_RUN, &rn->run);
	rn->err = errno;
	return NULL;
}

static void start_runner(struct __test_metadata *_metadata, pthread_t *th,
			 struct runner *rn)
{
	ASSERT_EQ(0, pthread_create(th, NULL, runner_fn, rn));
	while (!__atomic_load_n(&rn->started, __ATOMIC_ACQUIRE))
		usleep(1000);
	/* let it get into the guest */
	usleep(100000);
}

TEST_F(vmx, close_while_running)
{
	struct runner rn = { .fd = self->fd };
	struct epm_run r;
	pthread_t th;
	int fd;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_loop);
	run_prep(&rn.run, EPM_MODE_PROT32, GPA_CODE);
	rn.run.timeout_ns = 400 * NSEC_PER_MSEC;
	start_runner(_metadata, &th, &rn);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	pthread_join(th, NULL);
	ASSERT_EQ(0, rn.ret) TH_LOG("RUN: %s", strerror(rn.err));
	ASSERT_EQ_U(EPM_EXIT_TIMEOUT, rn.run.exit_kind);

	/* the module is fine: a new address space runs */
	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	self->fd = fd;
	LOAD(fd, GPA_CODE, g_hlt);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	expect_hlt(_metadata, run(fd, &r), &r, GPA_CODE + 1);
}

TEST_F(vmx, second_run_on_file_busy)
{
	struct runner rn = { .fd = self->fd };
	struct epm_run r;
	pthread_t th;
	int ret, err;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_loop);
	run_prep(&rn.run, EPM_MODE_PROT32, GPA_CODE);
	rn.run.timeout_ns = 500 * NSEC_PER_MSEC;
	start_runner(_metadata, &th, &rn);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.timeout_ns = 10 * NSEC_PER_MSEC;
	ret = run(self->fd, &r);
	err = errno;
	pthread_join(th, NULL);
	ASSERT_EQ(-1, ret);
	ASSERT_EQ(EBUSY, err);
	ASSERT_EQ(0, rn.ret) TH_LOG("RUN: %s", strerror(rn.err));
	ASSERT_EQ_U(EPM_EXIT_TIMEOUT, rn.run.exit_kind);
}

/*
 * UNMAP while a guest spins reading the page: UNMAP must not wait for the
 * run to end, and the running guest must lose the page (Documentation/
 * design.md, "Locking and flush rules": UNMAP waits for the running
 * slice only, and the next slice flushes the EPT TLB before entering).
 */
TEST_F(vmx, unmap_while_running)
{
	struct runner rn = { .fd = self->fd };
	const uint64_t g = 0x20000;
	uint64_t t0, dt;
	pthread_t th;
	int ret;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_spin_read);
	map_data(_metadata, self->fd, g, SZ_4K, EPM_PERM_R | EPM_PERM_W);
	run_prep(&rn.run, EPM_MODE_PROT32, GPA_CODE);
	rn.run.timeout_ns = 10 * NSEC_PER_SEC;
	rn.run.regs.rsi = g + 4;
	start_runner(_metadata, &th, &rn);
	t0 = now_ns();
	ret = epm_unmap_at(self->fd, g, SZ_4K);
	dt = now_ns() - t0;
	pthread_join(th, NULL);
	ASSERT_EQ(0, ret) TH_LOG("UNMAP: %s", strerror(errno));
	ASSERT_GT(5 * NSEC_PER_SEC, dt) TH_LOG("UNMAP waited for the run");
	expect_violation(_metadata, rn.ret, &rn.run, g + 4, EPM_PERM_R, 0);
}

TEST_F(vmx, long_mode_high_alias)
{
	const uint64_t pt_gpa = 0x100000, data_gpa = 0x200000;
	const uint64_t alias = 0xffff800040203000ULL; /* 256/1/1/3 */
	const uint64_t start = 0x1122334455667788ULL;
	uint64_t *pml4, *pdpt_lo, *pd_lo, *pdpt_hi, *pd_hi, *pt_hi, *data;
	struct epm_run r;
	unsigned int i;
	uint64_t *pt;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_long);
	pt = map_data(_metadata, self->fd, pt_gpa, 6 * SZ_4K,
		      EPM_PERM_R | EPM_PERM_W);
	data = map_data(_metadata, self->fd, data_gpa, SZ_4K,
			EPM_PERM_R | EPM_PERM_W);
	pml4 = pt;
	pdpt_lo = pt + 512;
	pd_lo = pt + 2 * 512;
	pdpt_hi = pt + 3 * 512;
	pd_hi = pt + 4 * 512;
	pt_hi = pt + 5 * 512;
	/* identity: the first 2M as one 2M page (code and these tables) */
	pml4[0] = (pt_gpa + 1 * SZ_4K) | PTE_P | PTE_W;
	pdpt_lo[0] = (pt_gpa + 2 * SZ_4K) | PTE_P | PTE_W;
	pd_lo[0] = 0 | PTE_PS | PTE_P | PTE_W;
	/* alias: 4K pages down to the data page */
	pml4[256] = (pt_gpa + 3 * SZ_4K) | PTE_P | PTE_W;
	pdpt_hi[1] = (pt_gpa + 4 * SZ_4K) | PTE_P | PTE_W;
	pd_hi[1] = (pt_gpa + 5 * SZ_4K) | PTE_P | PTE_W;
	pt_hi[3] = data_gpa | PTE_P | PTE_W;

	run_prep(&r, EPM_MODE_LONG64, GPA_CODE);
	r.cr3 = pt_gpa;
	r.regs.rax = start;
	r.regs.rcx = 512;
	r.regs.rdi = alias;
	expect_hlt(_metadata, run(self->fd, &r), &r,
		   GPA_CODE + GUEST_LEN(g_long));
	ASSERT_EQ(alias + SZ_4K, r.regs.rdi);
	ASSERT_EQ(start + 512, r.regs.rax);
	for (i = 0; i < 512; i++)
		ASSERT_EQ(start + i, data[i]) TH_LOG("qword %u", i);
	/* the guest's walks set accessed, and dirty on the written leaf */
	ASSERT_EQ(PTE_A, pml4[256] & PTE_A);
	ASSERT_EQ(PTE_A, pdpt_hi[1] & PTE_A);
	ASSERT_EQ(PTE_A, pd_hi[1] & PTE_A);
	ASSERT_EQ(data_gpa | PTE_P | PTE_W | PTE_A | PTE_D, pt_hi[3]);
	ASSERT_EQ(PTE_PS | PTE_P | PTE_W | PTE_A, pd_lo[0]);

	/* a virtual address with no translation: #PF, write, not present */
	run_prep(&r, EPM_MODE_LONG64, GPA_CODE);
	r.cr3 = pt_gpa;
	r.regs.rcx = 1;
	r.regs.rdi = 0x0000400000000000ULL;
	expect_exception(_metadata, run(self->fd, &r), &r, X86_PF_VECTOR);
	ASSERT_EQ_U(X86_PF_WRITE, r.error_code);
	ASSERT_EQ(GPA_CODE, r.regs.rip);
}

TEST_F(vmx, real_mode_guest)
{
	unsigned char *data;
	struct epm_run r;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_real);
	data = map_data(_metadata, self->fd, 0x8000, SZ_4K,
			EPM_PERM_R | EPM_PERM_W);
	data[0] = 0xef;
	data[1] = 0xbe;
	run_prep(&r, EPM_MODE_REAL, GPA_CODE);
	r.regs.rsi = 0x8000;
	r.regs.rdx = 0x70;
	r.regs.rbx = 0xcafe;
	expect_io(_metadata, run(self->fd, &r), &r, 0x70, 2, 0,
		  GPA_CODE + OFF(g_real_out, g_real));
	ASSERT_EQ_U(0xbeef, r.io_data);
	expect_hlt(_metadata, resume(self->fd, &r), &r,
		   GPA_CODE + GUEST_LEN(g_real));
	ASSERT_EQ(0xfe, data[2]);
	ASSERT_EQ(0xca, data[3]);
}

/* The host FPU state the FPU test sets before RUN and reads after it. */
struct fpu_state {
	uint8_t xmm[128];	/* xmm0-7 */
	double st0;		/* the one value on the x87 stack */
	uint16_t cw;		/* x87 control word */
	uint16_t saved_cw;	/* out only: the control word before the test */
};

/*
 * RUN through a raw syscall with xmm0-7, the x87 control word and st(0)
 * loaded right before it and read back right after it, so that no libc or
 * compiler code touches them in between. Returns 0 or -errno.
 */
static long run_fpu_probe(int fd, struct epm_run *r,
			  const struct fpu_state *in, struct fpu_state *out)
{
	long ret = SYS_ioctl;

	__asm__ volatile(
		"fnstcw %c[scw](%[out])\n\t"
		"fldcw %c[cw](%[in])\n\t"
		"fldl %c[st](%[in])\n\t"
		"movdqu 0x00(%[in]), %%xmm0\n\t"
		"movdqu 0x10(%[in]), %%xmm1\n\t"
		"movdqu 0x20(%[in]), %%xmm2\n\t"
		"movdqu 0x30(%[in]), %%xmm3\n\t"
		"movdqu 0x40(%[in]), %%xmm4\n\t"
		"movdqu 0x50(%[in]), %%xmm5\n\t"
		"movdqu 0x60(%[in]), %%xmm6\n\t"
		"movdqu 0x70(%[in]), %%xmm7\n\t"
		"syscall\n\t"
		"movdqu %%xmm0, 0x00(%[out])\n\t"
		"movdqu %%xmm1, 0x10(%[out])\n\t"
		"movdqu %%xmm2, 0x20(%[out])\n\t"
		"movdqu %%xmm3, 0x30(%[out])\n\t"
		"movdqu %%xmm4, 0x40(%[out])\n\t"
		"movdqu %%xmm5, 0x50(%[out])\n\t"
		"movdqu %%xmm6, 0x60(%[out])\n\t"
		"movdqu %%xmm7, 0x70(%[out])\n\t"
		"fnstcw %c[cw](%[out])\n\t"
		"fstpl %c[st](%[out])\n\t"
		"fldcw %c[scw](%[out])\n\t"
		: "+a" (ret)
		: "D" ((long)fd), "S" ((unsigned long)EPM_IOC_RUN), "d" (r),
		  [in] "r" (in), [out] "r" (out),
		  [cw] "i" (offsetof(struct fpu_state, cw)),
		  [scw] "i" (offsetof(struct fpu_state, saved_cw)),
		  [st] "i" (offsetof(struct fpu_state, st0))
		: "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3",
		  "xmm4", "xmm5", "xmm6", "xmm7");
	return ret;
}

/*
 * The caller's FPU state (xmm0-7, x87 control word and stack) is the same
 * after RUN, though the guest loaded its own values into the FPU.
 */
TEST_F(vmx, host_fpu_survives_guest)
{
	struct fpu_state in, out;
	uint8_t *src, *proof;
	struct epm_run r;
	int i, round;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_fpu);
	src = map_data(_metadata, self->fd, GPA_DATA, SZ_4K,
		       EPM_PERM_R | EPM_PERM_W);
	proof = src + 0x800;
	for (i = 0; i < 128; i++) {
		src[i] = 0xe0 ^ i;
		in.xmm[i] = (0x11 * (i % 16)) ^ (i / 16);
	}
	in.cw = 0x027f;		/* 53-bit precision: FNINIT would say 0x37f */
	for (round = 0; round < 16; round++) {
		memset(proof, 0, 32);
		memset(&out, 0, sizeof(out));
		in.xmm[0] = round;
		in.st0 = 3.25 + round;
		run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
		r.regs.rsi = GPA_DATA;
		r.regs.rdi = GPA_DATA + 0x800;
		ASSERT_EQ(0, run_fpu_probe(self->fd, &r, &in, &out));
		expect_hlt(_metadata, 0, &r, GPA_CODE + GUEST_LEN(g_fpu));
		if (!r.regs.rbx)
			SKIP(return, "guests get no FPU here (CR0.EM or TS)");
		if (!round)
			TH_LOG("guest clobbered: %s%s",
			       r.regs.rbx & 1 ? "xmm0-7 " : "",
			       r.regs.rbx & 2 ? "x87/mm0-7" : "");
		/* what the guest loaded, it really had */
		ASSERT_EQ_U(2, r.regs.rbx & 2);
		for (i = 0; r.regs.rbx & 1 && i < 16; i++)
			ASSERT_EQ(src[i] ^ src[112 + i], proof[i]);
		for (i = 0; i < 8; i++)
			ASSERT_EQ(src[i] ^ src[112 + i], proof[16 + i]);
		/* and the host kept its own */
		for (i = 0; i < 128; i++)
			ASSERT_EQ(in.xmm[i], out.xmm[i])
				TH_LOG("round %d: xmm%d byte %d", round,
				       i / 16, i % 16);
		ASSERT_EQ(in.cw, out.cw);
		ASSERT_TRUE(in.st0 == out.st0)
			TH_LOG("st0 %g, not %g", out.st0, in.st0);
	}
}

TEST_F_TIMEOUT(vmx, many_short_runs_stats, 600)
{
	const unsigned int n = 10000;
	struct epm_stats s0, s1;
	struct epm_run r;
	unsigned int i;
	int ret;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_hlt);
	ASSERT_EQ(0, epm_stats_of(self->fd, &s0));
	for (i = 0; i < n; i++) {
		run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
		r.regs.rax = i;
		ret = run(self->fd, &r);
		if (ret || r.exit_kind != EPM_EXIT_HLT ||
		    r.regs.rip != GPA_CODE + 1 || r.regs.rax != i) {
			TH_LOG("run %u of %u", i, n);
			expect_hlt(_metadata, ret, &r, GPA_CODE + 1);
			ASSERT_EQ(i, r.regs.rax);
		}
	}
	ASSERT_EQ(0, epm_stats_of(self->fd, &s1));
	ASSERT_EQ(n, s1.runs - s0.runs);
	ASSERT_EQ(n, s1.exits[EPM_EXIT_HLT] - s0.exits[EPM_EXIT_HLT]);
	for (i = 0; i < EPM_EXIT_KINDS; i++)
		if (i != EPM_EXIT_HLT)
			ASSERT_EQ(s0.exits[i], s1.exits[i]) TH_LOG("kind %u", i);
}

/* runs and exits[] move by exactly what each kind of exit adds */
TEST_F(vmx, stats_count_exits_by_kind)
{
	struct epm_stats s0, s1;
	struct epm_run r;
	unsigned int k;
	uint64_t want[EPM_EXIT_KINDS] = { 0 };

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_hello);
	map_data(_metadata, self->fd, GPA_DATA, SZ_4K, EPM_PERM_R);
	ASSERT_EQ(0, epm_stats_of(self->fd, &s0));

	/* empty string at GPA_DATA: HLT; twice */
	for (k = 0; k < 2; k++) {
		run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
		r.regs.rsi = GPA_DATA + 0x100;
		ASSERT_EQ(0, run(self->fd, &r));
		ASSERT_EQ_U(EPM_EXIT_HLT, r.exit_kind);
		want[EPM_EXIT_HLT]++;
	}
	/* a string in unmapped memory: EPT violation */
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = GPA_HOLE;
	ASSERT_EQ(0, run(self->fd, &r));
	ASSERT_EQ_U(EPM_EXIT_EPT_VIOLATION, r.exit_kind);
	want[EPM_EXIT_EPT_VIOLATION]++;
	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_CODE, SZ_4K));
	LOAD(self->fd, GPA_CODE, g_vmcall);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	ASSERT_EQ(0, run(self->fd, &r));
	ASSERT_EQ_U(EPM_EXIT_VMCALL, r.exit_kind);
	want[EPM_EXIT_VMCALL]++;
	expect_hlt(_metadata, resume(self->fd, &r), &r,
		   GPA_CODE + GUEST_LEN(g_vmcall));
	want[EPM_EXIT_HLT]++;
	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_CODE, SZ_4K));
	LOAD(self->fd, GPA_CODE, g_loop);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.timeout_ns = 5 * NSEC_PER_MSEC;
	ASSERT_EQ(0, run(self->fd, &r));
	ASSERT_EQ_U(EPM_EXIT_TIMEOUT, r.exit_kind);
	want[EPM_EXIT_TIMEOUT]++;
	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_CODE, SZ_4K));
	LOAD(self->fd, GPA_CODE, g_ud2);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	ASSERT_EQ(0, run(self->fd, &r));
	ASSERT_EQ_U(EPM_EXIT_EXCEPTION, r.exit_kind);
	want[EPM_EXIT_EXCEPTION]++;
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.flags = EPM_RUN_GUEST_EXC;
	ASSERT_EQ(0, run(self->fd, &r));
	ASSERT_EQ_U(EPM_EXIT_TRIPLE_FAULT, r.exit_kind);
	want[EPM_EXIT_TRIPLE_FAULT]++;

	ASSERT_EQ(0, epm_stats_of(self->fd, &s1));
	ASSERT_EQ_U(8, s1.runs - s0.runs);
	for (k = 0; k < EPM_EXIT_KINDS; k++)
		ASSERT_EQ(want[k], s1.exits[k] - s0.exits[k])
			TH_LOG("exits[%u]", k);
}

static bool module_loaded(const char *name)
{
	char path[80];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return !access(path, F_OK);
}

TEST_F_TIMEOUT(vmx, kvm_intel_coexistence, 120)
{
	bool had = module_loaded("kvm_intel");
	struct epm_run r;
	int kvm, vm, ret, err;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_hlt);
	if (!had) {
		/* VMX must be free between runs, or kvm_intel cannot load */
		run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
		expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 1);
		if (system("modprobe kvm_intel >/dev/null 2>&1") ||
		    !module_loaded("kvm_intel"))
			SKIP(return, "kvm_intel cannot be loaded (not installed, or VMX held)");
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, kvm) TH_LOG("/dev/kvm: %s", strerror(errno));
	/* 6.1 turns VMX on only while a VM exists */
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));

	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	ret = run(self->fd, &r);
	err = errno;
	close(vm);
	close(kvm);
	if (!had) {
		if (system("modprobe -r kvm_intel >/dev/null 2>&1"))
			ASSERT_EQ(0, system("rmmod kvm_intel"));
		ASSERT_FALSE(module_loaded("kvm_intel"));
	}
	ASSERT_EQ(-1, ret) TH_LOG("%s", exit_str(&r));
	ASSERT_EQ(EBUSY, err);
	if (had)
		return;

	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 1);
}

/*
 * rip above 4G outside 64-bit mode is an invalid guest state (SDM 26.3.1.4):
 * the launcher either rejects it or reports the hardware's VM-entry
 * failure, and the file runs guests afterwards.
 */
TEST_F(vmx, entry_failure_reported)
{
	struct epm_run r;
	int ret;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_hlt);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE | 1ULL << 32);
	ret = run(self->fd, &r);
	if (ret) {
		ASSERT_EQ(EINVAL, errno);
	} else {
		ASSERT_EQ_U(EPM_EXIT_ENTRY_FAIL, r.exit_kind)
			TH_LOG("%s", exit_str(&r));
		ASSERT_EQ_U(VMX_EXIT_ENTRY_FAIL | VMX_EXIT_BAD_GUEST,
			    r.exit_reason);
	}
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 1);
}

TEST_F(vmx, other_process_eperm)
{
	struct epm_run r;
	int status;
	pid_t pid;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_hlt);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(run(self->fd, &r) == -1 && errno == EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

/* Validation comes first: no VMX is needed to get these errors. */
TEST_F(vmx, bad_input_einval)
{
	struct epm_run r;
	unsigned int i;

	LOAD(self->fd, GPA_CODE, g_hlt);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.flags = ~EPM_RUN_ALL;
	ASSERT_EQ(-1, run(self->fd, &r));
	/* ENOTTY (no RUN at all) is a failure like any other errno */
	ASSERT_EQ(EINVAL, errno);

	/* the lowest flag bit that has no meaning yet */
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.flags = EPM_RUN_ALL + 1;
	ASSERT_EQ(0, r.flags & EPM_RUN_ALL);
	ASSERT_EQ(-1, run(self->fd, &r));
	ASSERT_EQ(EINVAL, errno);

	run_prep(&r, EPM_MODE_LONG64 + 1, GPA_CODE);
	ASSERT_EQ(-1, run(self->fd, &r));
	ASSERT_EQ(EINVAL, errno);
	run_prep(&r, 0xffffffff, GPA_CODE);
	ASSERT_EQ(-1, run(self->fd, &r));
	ASSERT_EQ(EINVAL, errno);

	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.timeout_ns = 0;
	ASSERT_EQ(-1, run(self->fd, &r));
	ASSERT_EQ(EINVAL, errno);
	r.timeout_ns = 60 * NSEC_PER_SEC + 1;
	ASSERT_EQ(-1, run(self->fd, &r));
	ASSERT_EQ(EINVAL, errno);
	r.timeout_ns = ~0ULL;
	ASSERT_EQ(-1, run(self->fd, &r));
	ASSERT_EQ(EINVAL, errno);

	for (i = 0; i < 4; i++) {
		run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
		r.reserved[i] = 1ULL << (i * 16);
		ASSERT_EQ(-1, run(self->fd, &r));
		ASSERT_EQ(EINVAL, errno) TH_LOG("reserved[%u]", i);
	}

	ASSERT_EQ(-1, ioctl(self->fd, EPM_IOC_RUN, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(-1, ioctl(self->fd, EPM_IOC_RUN, (void *)8));
	ASSERT_EQ(EFAULT, errno);
}

TEST_F(vmx, no_vmx_enodev)
{
	struct epm_run r;

	if (self->caps.flags & EPM_CAP_RUN)
		SKIP(return, "RUN works on this CPU");
	LOAD(self->fd, GPA_CODE, g_hlt);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	ASSERT_EQ(-1, run(self->fd, &r));
	ASSERT_EQ(ENODEV, errno);
}

/* ---- guest isolation: what a guest must never see or change of the host */

/* Basic exit reasons of the instructions that must exit */
#define VMX_EXIT_RDPMC		15
#define VMX_EXIT_CR_ACCESS	28
#define VMX_EXIT_MWAIT		36
#define VMX_EXIT_MONITOR	39
#define VMX_EXIT_WBINVD		54
#define X86_DB_VECTOR		1

/*
 * LONG64 identity map of the first 2 MiB (one 2M page) with its tables at
 * 0x100000, for guests that need 64-bit mode; returns cr3.
 */
static uint64_t map_long64_low(struct __test_metadata *_metadata, int fd)
{
	const uint64_t pt_gpa = 0x100000;
	uint64_t *pt = map_data(_metadata, fd, pt_gpa, 3 * SZ_4K,
				EPM_PERM_R | EPM_PERM_W);

	pt[0] = (pt_gpa + SZ_4K) | PTE_P | PTE_W;
	pt[512] = (pt_gpa + 2 * SZ_4K) | PTE_P | PTE_W;
	pt[1024] = PTE_PS | PTE_P | PTE_W;
	return pt_gpa;
}

/* rbx = CR8 after CR8 = rax; then spin */
GUEST_MARK(g_cr8_spin);
GUEST(g_cr8, 64,
	"	movq %rax, %cr8\n"
	"	movq %cr8, %rbx\n"
	"g_cr8_spin:\n"
	"	jmp g_cr8_spin\n");

/* rbx = CR8 */
GUEST(g_cr8_read, 64,
	"	movq %cr8, %rbx\n"
	"	hlt\n");

/* LOC ("Local timer interrupts") of @cpu from /proc/interrupts, or -1 */
static long long local_timer_count(int cpu)
{
	char line[4096];
	long long v = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		int i;

		while (*p == ' ')
			p++;
		if (strncmp(p, "LOC:", 4))
			continue;
		p += 4;
		for (i = 0; i <= cpu; i++) {
			v = strtoll(p, &end, 10);
			if (end == p) {
				v = -1;
				break;
			}
			p = end;
		}
		break;
	}
	fclose(f);
	return v;
}

/*
 * A guest that sets CR8 = 15 must not raise the host CPU's TPR (which
 * would mask its timer and IPIs for good): CR8 is the vCPU's own, the CPU
 * keeps taking timer interrupts during and after the run, and the value
 * stays the guest's across RUNs until EPM_RUN_RESET.
 */
TEST_F(vmx, cr8_is_the_guests_own)
{
	long long loc0, loc1, loc2;
	struct epm_run r;
	uint64_t cr3;
	int cpu;

	REQUIRE_RUN();
	pin_here(_metadata);
	cpu = sched_getcpu();
	LOAD(self->fd, GPA_CODE, g_cr8);
	cr3 = map_long64_low(_metadata, self->fd);
	loc0 = local_timer_count(cpu);
	ASSERT_LE(0, loc0) TH_LOG("no LOC line for CPU %d in /proc/interrupts", cpu);

	run_prep(&r, EPM_MODE_LONG64, GPA_CODE);
	r.cr3 = cr3;
	r.regs.rax = 15;
	r.timeout_ns = 300 * NSEC_PER_MSEC;
	ASSERT_EQ(0, run(self->fd, &r));
	ASSERT_EQ_U(EPM_EXIT_TIMEOUT, r.exit_kind) TH_LOG("%s", exit_str(&r));
	ASSERT_EQ_U(15, r.regs.rbx);
	ASSERT_EQ(GPA_CODE + OFF(g_cr8_spin, g_cr8), r.regs.rip);
	loc1 = local_timer_count(cpu);
	/* 300 ms at HZ >= 100 is 30 ticks; ask for a tenth of that */
	ASSERT_LE(loc0 + 3, loc1) TH_LOG("LOC %lld -> %lld during the run",
					 loc0, loc1);
	usleep(100 * 1000);
	loc2 = local_timer_count(cpu);
	ASSERT_LT(loc1, loc2) TH_LOG("no timer tick after the run: TPR raised?");

	/* CR8 is kept for the next RUN, and INIT again after a reset */
	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_CODE, SZ_4K));
	LOAD(self->fd, GPA_CODE, g_cr8_read);
	run_prep(&r, EPM_MODE_LONG64, GPA_CODE);
	r.cr3 = cr3;
	expect_hlt(_metadata, run(self->fd, &r), &r,
		   GPA_CODE + GUEST_LEN(g_cr8_read));
	ASSERT_EQ_U(15, r.regs.rbx);
	run_prep(&r, EPM_MODE_LONG64, GPA_CODE);
	r.cr3 = cr3;
	r.flags = EPM_RUN_RESET;
	r.regs.rbx = 0x77;
	expect_hlt(_metadata, run(self->fd, &r), &r,
		   GPA_CODE + GUEST_LEN(g_cr8_read));
	ASSERT_EQ_U(0, r.regs.rbx);
}

/* CR8 with bits 63:4 set would #GP: RUN reports the CR access instead */
TEST_F(vmx, cr8_reserved_bits_exit)
{
	struct epm_run r;
	uint64_t cr3;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_cr8);
	cr3 = map_long64_low(_metadata, self->fd);
	run_prep(&r, EPM_MODE_LONG64, GPA_CODE);
	r.cr3 = cr3;
	r.regs.rax = 16;
	ASSERT_EQ(0, run(self->fd, &r));
	ASSERT_EQ_U(EPM_EXIT_OTHER, r.exit_kind) TH_LOG("%s", exit_str(&r));
	ASSERT_EQ_U(VMX_EXIT_CR_ACCESS, r.exit_reason);
	/* CR 8, MOV to CR, from RAX (SDM Table 28-3) */
	ASSERT_EQ_U(8, r.exit_qual);
	ASSERT_EQ(GPA_CODE, r.regs.rip);
}

/* FXSAVE image offsets (SDM Vol. 1, Table 10-2) */
#define FX_FCW		0
#define FX_FSW		2
#define FX_FTW		4
#define FX_MXCSR	24
#define FX_ST0		32	/* 8 x 16 bytes */
#define FX_XMM0		160	/* 16 x 16 bytes in 64-bit mode */

/* spin rcx times, then FXSAVE to rdi */
GUEST(g_fxsave64, 64,
	"1:	decq %rcx\n"
	"	jnz 1b\n"
	"	fxsave64 (%rdi)\n"
	"	hlt\n");

/*
 * Fill xmm0-15 and the whole x87 stack with @pat (bytes pat, pat+1, ...)
 * and do the ioctl as a raw syscall, so nothing touches them in between.
 */
static long ioctl_with_fpu_pattern(int fd, unsigned long cmd, void *arg,
				   uint8_t pat)
{
	uint8_t buf[256] __attribute__((aligned(16)));
	long ret = SYS_ioctl;
	int i;

	for (i = 0; i < 256; i++)
		buf[i] = pat + i;
	__asm__ volatile(
		"movdqa 0x00(%[b]), %%xmm0\n\t"
		"movdqa 0x10(%[b]), %%xmm1\n\t"
		"movdqa 0x20(%[b]), %%xmm2\n\t"
		"movdqa 0x30(%[b]), %%xmm3\n\t"
		"movdqa 0x40(%[b]), %%xmm4\n\t"
		"movdqa 0x50(%[b]), %%xmm5\n\t"
		"movdqa 0x60(%[b]), %%xmm6\n\t"
		"movdqa 0x70(%[b]), %%xmm7\n\t"
		"movdqa 0x80(%[b]), %%xmm8\n\t"
		"movdqa 0x90(%[b]), %%xmm9\n\t"
		"movdqa 0xa0(%[b]), %%xmm10\n\t"
		"movdqa 0xb0(%[b]), %%xmm11\n\t"
		"movdqa 0xc0(%[b]), %%xmm12\n\t"
		"movdqa 0xd0(%[b]), %%xmm13\n\t"
		"movdqa 0xe0(%[b]), %%xmm14\n\t"
		"movdqa 0xf0(%[b]), %%xmm15\n\t"
		"fninit\n\t"
		"fldt 0x00(%[b])\n\t"
		"fldt 0x10(%[b])\n\t"
		"fldt 0x20(%[b])\n\t"
		"fldt 0x30(%[b])\n\t"
		"fldt 0x40(%[b])\n\t"
		"fldt 0x50(%[b])\n\t"
		"fldt 0x60(%[b])\n\t"
		"fldt 0x70(%[b])\n\t"
		"syscall\n\t"
		"fninit\n\t"
		: "+a" (ret)
		: "D" ((long)fd), "S" (cmd), "d" (arg), [b] "r" (buf)
		: "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3",
		  "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
		  "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	return ret;
}

/* A process on @cpu that keeps its FPU full of @pat and yields. */
static pid_t start_fpu_churn(int cpu, uint8_t pat)
{
	pid_t pid = fork();
	cpu_set_t set;

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (;;) {
		/* an ioctl nobody answers: just a way into the kernel */
		ioctl_with_fpu_pattern(-1, 0, NULL, pat);
		sched_yield();
	}
}

/* (the fixture's teardown also stops it when a test fails first) */
static void stop_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* The FXSAVE image at @fx is the INIT state: no byte of anyone else's. */
static void expect_fpu_init(struct __test_metadata *_metadata,
			    const uint8_t *fx, int nxmm)
{
	uint16_t fcw, fsw;
	uint32_t mxcsr;
	int i;

	memcpy(&fcw, fx + FX_FCW, 2);
	memcpy(&fsw, fx + FX_FSW, 2);
	memcpy(&mxcsr, fx + FX_MXCSR, 4);
	ASSERT_EQ(0x37f, fcw);
	ASSERT_EQ(0, fsw);
	ASSERT_EQ(0, fx[FX_FTW]) TH_LOG("x87 registers in use");
	ASSERT_EQ_U(0x1f80, mxcsr);
	for (i = 0; i < 8 * 16; i++)
		ASSERT_EQ(0, fx[FX_ST0 + i]) TH_LOG("st%d byte %d", i / 16, i % 16);
	for (i = 0; i < nxmm * 16; i++)
		ASSERT_EQ(0, fx[FX_XMM0 + i]) TH_LOG("xmm%d byte %d", i / 16, i % 16);
}

/*
 * The guest's FPU starts in the INIT state, never with the registers of
 * the caller (loaded right before the ioctl) or of another process that
 * ran on this CPU between two slices of the run.
 */
TEST_F_TIMEOUT(vmx, guest_fpu_starts_clean, 60)
{
	struct epm_run r;
	uint8_t *data;
	uint64_t cr3;
	int round;

	REQUIRE_RUN();
	pin_here(_metadata);
	LOAD(self->fd, GPA_CODE, g_fxsave64);
	cr3 = map_long64_low(_metadata, self->fd);
	data = map_data(_metadata, self->fd, GPA_DATA, SZ_4K,
			EPM_PERM_R | EPM_PERM_W);
	self->churn = start_fpu_churn(sched_getcpu(), 0x90);
	for (round = 0; round < 2; round++) {
		memset(data, 0xee, 512);
		run_prep(&r, EPM_MODE_LONG64, GPA_CODE);
		r.cr3 = cr3;
		r.flags = round ? EPM_RUN_RESET : 0;
		r.regs.rdi = GPA_DATA;
		/* round 0: straight to FXSAVE; round 1: after many slices */
		r.regs.rcx = round ? 20000000 : 1;
		r.timeout_ns = 20 * NSEC_PER_SEC;
		ASSERT_EQ(0, ioctl_with_fpu_pattern(self->fd, EPM_IOC_RUN, &r,
						    0x40));
		expect_hlt(_metadata, 0, &r, GPA_CODE + GUEST_LEN(g_fxsave64));
		TH_LOG("round %d: x87 tag %#x, xmm0 byte 0 %#x", round,
		       data[FX_FTW], data[FX_XMM0]);
		expect_fpu_init(_metadata, data, 16);
	}
}

GUEST(g_fxsave32, 32,
	"	fxsave (%edi)\n"
	"	hlt\n");

/* load xmm0-7 from esi, st0 = pi, st1 = 1, MXCSR = ebx; OUT; FXSAVE to edi */
GUEST_MARK(g_fpu_keep_out);
GUEST(g_fpu_keep, 32,
	"	movdqu 0x00(%esi), %xmm0\n"
	"	movdqu 0x10(%esi), %xmm1\n"
	"	movdqu 0x20(%esi), %xmm2\n"
	"	movdqu 0x30(%esi), %xmm3\n"
	"	movdqu 0x40(%esi), %xmm4\n"
	"	movdqu 0x50(%esi), %xmm5\n"
	"	movdqu 0x60(%esi), %xmm6\n"
	"	movdqu 0x70(%esi), %xmm7\n"
	"	fninit\n"
	"	fld1\n"
	"	fldpi\n"
	"	movl %ebx, 0x80(%esi)\n"
	"	ldmxcsr 0x80(%esi)\n"
	"	outb %al, $0x80\n"
	"g_fpu_keep_out:\n"
	"1:	decl %ecx\n"
	"	jnz 1b\n"
	"	fxsave (%edi)\n"
	"	hlt\n");

/* x87 80-bit values as FXSAVE stores them (in 16-byte slots) */
static const uint8_t x87_pi[10] = {
	0x35, 0xc2, 0x68, 0x21, 0xa2, 0xda, 0x0f, 0xc9, 0x00, 0x40 };
static const uint8_t x87_one[10] = {
	0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f };

static void expect_fpu_kept(struct __test_metadata *_metadata,
			    const uint8_t *fx, const uint8_t *src)
{
	uint32_t mxcsr;
	int i;

	memcpy(&mxcsr, fx + FX_MXCSR, 4);
	ASSERT_EQ_U(0x1fc0, mxcsr);
	for (i = 0; i < 128; i++)
		ASSERT_EQ(src[i], fx[FX_XMM0 + i])
			TH_LOG("xmm%d byte %d", i / 16, i % 16);
	ASSERT_EQ(0, memcmp(fx + FX_ST0, x87_pi, 10)) TH_LOG("st0 is not pi");
	ASSERT_EQ(0, memcmp(fx + FX_ST0 + 16, x87_one, 10)) TH_LOG("st1 is not 1");
}

/*
 * A guest resumed after an OUT finds its FPU registers as it left them,
 * whatever the caller loaded into its own in between, also when the rest
 * of the run spans many slices while another process churns the FPU on
 * the same CPU.
 */
TEST_F_TIMEOUT(vmx, guest_fpu_kept_across_exits, 60)
{
	uint8_t *src, *fx;
	struct epm_run r;
	int i, round;

	REQUIRE_RUN();
	pin_here(_metadata);
	LOAD(self->fd, GPA_CODE, g_fpu_keep);
	src = map_data(_metadata, self->fd, GPA_DATA, 2 * SZ_4K,
		       EPM_PERM_R | EPM_PERM_W);
	fx = src + SZ_4K;
	for (i = 0; i < 128; i++)
		src[i] = 0xa0 ^ (i * 7);
	self->churn = start_fpu_churn(sched_getcpu(), 0x90);
	for (round = 0; round < 2; round++) {
		memset(fx, 0xee, 512);
		run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
		r.regs.rsi = GPA_DATA;
		r.regs.rdi = GPA_DATA + SZ_4K;
		r.regs.rbx = 0x1fc0;	/* MXCSR with DAZ */
		/* round 1: the rest of the run spans many slices */
		r.regs.rcx = round ? 20000000 : 1;
		r.timeout_ns = 20 * NSEC_PER_SEC;
		ASSERT_EQ(0, ioctl_with_fpu_pattern(self->fd, EPM_IOC_RUN, &r,
						    0x30));
		expect_io(_metadata, 0, &r, 0x80, 1, 0,
			  GPA_CODE + OFF(g_fpu_keep_out, g_fpu_keep));
		/* the caller's own FPU use between the exit and the resume */
		ASSERT_EQ(0, ioctl_with_fpu_pattern(self->fd, EPM_IOC_RUN, &r,
						    0x50));
		expect_hlt(_metadata, 0, &r, GPA_CODE + GUEST_LEN(g_fpu_keep));
		expect_fpu_kept(_metadata, fx, src);
	}
	stop_child(self->churn);
	self->churn = 0;

	/* kept from one RUN to the next too, until EPM_RUN_RESET */
	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_CODE, SZ_4K));
	LOAD(self->fd, GPA_CODE, g_fxsave32);
	for (round = 0; round < 2; round++) {
		memset(fx, 0, 512);
		run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
		r.regs.rdi = GPA_DATA + SZ_4K;
		r.flags = round ? EPM_RUN_RESET : 0;
		ASSERT_EQ(0, ioctl_with_fpu_pattern(self->fd, EPM_IOC_RUN, &r,
						    0x60));
		expect_hlt(_metadata, 0, &r, GPA_CODE + GUEST_LEN(g_fxsave32));
		if (round)
			expect_fpu_init(_metadata, fx, 8);
		else
			expect_fpu_kept(_metadata, fx, src);
	}
}

/* eax = CR2; OUT it to port 0x80; CR2 = ebx; OUT; eax = CR2; OUT; HLT */
GUEST_MARK(g_cr2_1);
GUEST_MARK(g_cr2_2);
GUEST_MARK(g_cr2_3);
GUEST(g_cr2, 32,
	"	movl %cr2, %eax\n"
	"	outl %eax, $0x80\n"
	"g_cr2_1:\n"
	"	movl %ebx, %cr2\n"
	"	outl %eax, $0x80\n"
	"g_cr2_2:\n"
	"	movl %cr2, %eax\n"
	"	outl %eax, $0x80\n"
	"g_cr2_3:\n"
	"	hlt\n");

/*
 * The guest reads its own CR2 (0 at first, what it wrote later, across
 * exits), never the host's last page-fault address.
 */
TEST_F(vmx, guest_cr2_is_its_own)
{
	volatile uint8_t *fresh;
	struct epm_run r;

	REQUIRE_RUN();
	pin_here(_metadata);
	LOAD(self->fd, GPA_CODE, g_cr2);
	fresh = mmap(NULL, 2 * SZ_4K, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, (void *)fresh);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rbx = 0xc2c2c2c0;
	fresh[0] = 1;	/* a page fault: the host's CR2 is now its address */
	expect_io(_metadata, run(self->fd, &r), &r, 0x80, 4, 0,
		  GPA_CODE + OFF(g_cr2_1, g_cr2));
	TH_LOG("host faulted at %p; the guest read CR2 %#llx", fresh,
	       (unsigned long long)r.io_data);
	ASSERT_EQ_U(0, r.io_data);
	expect_io(_metadata, resume(self->fd, &r), &r, 0x80, 4, 0,
		  GPA_CODE + OFF(g_cr2_2, g_cr2));
	fresh[SZ_4K] = 1;
	expect_io(_metadata, resume(self->fd, &r), &r, 0x80, 4, 0,
		  GPA_CODE + OFF(g_cr2_3, g_cr2));
	ASSERT_EQ_U(0xc2c2c2c0, r.io_data);
	expect_hlt(_metadata, resume(self->fd, &r), &r,
		   GPA_CODE + GUEST_LEN(g_cr2));
	munmap((void *)fresh, 2 * SZ_4K);
}

/* host address and gpa of the breakpoint test: below 4G, above the binary */
#define BP_ADDR		0x30000000ULL

static int hw_breakpoint_on(void *addr)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_BREAKPOINT,
		.size = sizeof(a),
		.bp_type = HW_BREAKPOINT_RW,
		.bp_addr = (uintptr_t)addr,
		.bp_len = HW_BREAKPOINT_LEN_4,
		.sample_period = 1,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};

	return syscall(__NR_perf_event_open, &a, 0, -1, -1, 0);
}

static long long perf_count(int fd)
{
	long long v = -1;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return -1;
	return v;
}

/*
 * A host breakpoint (DR7 armed by perf for this task) does not apply in
 * the guest, whose DR7 and DEBUGCTL come from the VMCS; and it still
 * fires in the host after the run.
 */
TEST_F(vmx, host_breakpoint_not_in_guest)
{
	volatile uint32_t *host;
	long long c0, c1, c2;
	struct epm_run r;
	int bp;

	REQUIRE_RUN();
	pin_here(_metadata);
	host = mmap((void *)BP_ADDR, SZ_4K, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_EQ((void *)BP_ADDR, (void *)host);
	LOAD(self->fd, GPA_CODE, g_read);
	map_data(_metadata, self->fd, BP_ADDR, SZ_4K, EPM_PERM_R | EPM_PERM_W);
	bp = hw_breakpoint_on((void *)host);
	ASSERT_LE(0, bp) TH_LOG("perf_event_open(PERF_TYPE_BREAKPOINT): %s",
				strerror(errno));
	c0 = perf_count(bp);
	(void)host[0];
	c1 = perf_count(bp);
	ASSERT_EQ(c0 + 1, c1) TH_LOG("the breakpoint does not fire in the host");

	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rsi = BP_ADDR;
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 3);
	ASSERT_EQ(c1, perf_count(bp));
	(void)host[0];
	c2 = perf_count(bp);
	ASSERT_EQ(c1 + 1, c2) TH_LOG("the breakpoint no longer fires after RUN");
	close(bp);
	munmap((void *)host, SZ_4K);
}

GUEST(g_wbinvd, 32, "wbinvd\n hlt\n");
GUEST(g_rdpmc, 32, "rdpmc\n hlt\n");
GUEST(g_monitor, 32, "monitor\n hlt\n");
GUEST(g_mwait, 32, "mwait\n hlt\n");

static bool cpu_has_monitor(void)
{
	unsigned int a = 1, b, c = 0, d;

	__asm__("cpuid" : "+a" (a), "=b" (b), "+c" (c), "=d" (d));
	return c & (1u << 3);
}

static void expect_other_at(struct __test_metadata *_metadata, int fd,
			    const unsigned char *start,
			    const unsigned char *end, uint32_t reason)
{
	struct epm_run r;
	uint64_t t0, dt;

	ASSERT_EQ(0, epm_unmap_at(fd, GPA_CODE, SZ_4K));
	load_guest(_metadata, fd, GPA_CODE, start, end,
		   EPM_PERM_R | EPM_PERM_X);
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.regs.rax = GPA_DATA;	/* MONITOR's address */
	r.timeout_ns = 2 * NSEC_PER_SEC;
	t0 = now_ns();
	ASSERT_EQ(0, run(fd, &r));
	dt = now_ns() - t0;
	ASSERT_EQ_U(EPM_EXIT_OTHER, r.exit_kind) TH_LOG("%s", exit_str(&r));
	ASSERT_EQ_U(reason, r.exit_reason);
	ASSERT_EQ(GPA_CODE, r.regs.rip);
	/* exits at once: MWAIT never gets to wait out the timeout */
	ASSERT_GT(NSEC_PER_SEC, dt);
}

/* WBINVD, RDPMC, MONITOR and MWAIT end the run before they execute */
TEST_F(vmx, host_stalling_instructions_exit)
{
	struct epm_stats s;

	REQUIRE_RUN();
	LOAD(self->fd, GPA_CODE, g_hlt);
	map_data(_metadata, self->fd, GPA_DATA, SZ_4K, EPM_PERM_R | EPM_PERM_W);
	expect_other_at(_metadata, self->fd, g_wbinvd, g_wbinvd_end,
			VMX_EXIT_WBINVD);
	expect_other_at(_metadata, self->fd, g_rdpmc, g_rdpmc_end,
			VMX_EXIT_RDPMC);
	if (cpu_has_monitor()) {
		expect_other_at(_metadata, self->fd, g_monitor, g_monitor_end,
				VMX_EXIT_MONITOR);
		expect_other_at(_metadata, self->fd, g_mwait, g_mwait_end,
				VMX_EXIT_MWAIT);
	} else {
		TH_LOG("no MONITOR/MWAIT on this CPU: those two not tried");
	}
	ASSERT_EQ(0, epm_stats_of(self->fd, &s));
	ASSERT_EQ(cpu_has_monitor() ? 4 : 2, s.exits[EPM_EXIT_OTHER]);
}

static int online_cpus(cpu_set_t *set)
{
	CPU_ZERO(set);
	if (sched_getaffinity(0, sizeof(*set), set))
		return -1;
	return CPU_COUNT(set);
}

static void run_hlt_on(struct __test_metadata *_metadata, int fd, int cpu)
{
	cpu_set_t one;
	struct epm_run r;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	expect_hlt(_metadata, run(fd, &r), &r, GPA_CODE + 1);
}

static uint64_t invepts_of(struct __test_metadata *_metadata, int fd)
{
	struct epm_stats s;

	EXPECT_EQ(0, epm_stats_of(fd, &s));
	return s.invepts;
}

/*
 * Both emulators flush their TLBs on every VM entry, so a missing INVEPT
 * never shows as a stale translation there: count them instead. One per
 * CPU on its first entry, none while nothing changes (MAP only adds), and
 * one per CPU on its next entry after each UNMAP or PROTECT.
 */
TEST_F(vmx, invept_after_unmap_and_protect_only)
{
	cpu_set_t all;
	uint64_t base;
	int n, cpu, step;

	REQUIRE_RUN();
	n = online_cpus(&all);
	ASSERT_LT(0, n);
	LOAD(self->fd, GPA_CODE, g_hlt);
	map_data(_metadata, self->fd, GPA_DATA, 2 * SZ_4K,
		 EPM_PERM_R | EPM_PERM_W);
	ASSERT_EQ(0, invepts_of(_metadata, self->fd));
	for (step = 0; step < 5; step++) {
		base = invepts_of(_metadata, self->fd);
		if (step == 2)
			ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_DATA, SZ_4K));
		if (step == 3)
			ASSERT_EQ(0, epm_protect_at(self->fd, GPA_DATA + SZ_4K,
						    SZ_4K, EPM_PERM_R));
		if (step == 4)
			map_data(_metadata, self->fd, GPA_DATA, SZ_4K,
				 EPM_PERM_R);
		for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
			if (!CPU_ISSET(cpu, &all))
				continue;
			run_hlt_on(_metadata, self->fd, cpu);
			run_hlt_on(_metadata, self->fd, cpu);
		}
		/* steps 0, 2, 3: one per CPU; 1 (nothing), 4 (MAP): none */
		ASSERT_EQ(base + (step == 1 || step == 4 ? 0 : n),
			  invepts_of(_metadata, self->fd))
			TH_LOG("step %d on %d CPUs", step, n);
	}
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(all), &all));
}

/*
 * The RUN trace events (src/trace.h): one entry and one exit per RUN, the
 * exit saying what the record says; an INVEPT at a CPU's first entry and
 * at the first entry after each flush, none otherwise. Pinned to one CPU,
 * so no migration adds an INVEPT.
 */
TEST_F_TIMEOUT(vmx, trace_run_events, 60)
{
	const uint64_t gpa_read = GPA_CODE + 2 * SZ_4K;
	static char buf[10][160];
	const char *want[10];
	struct epm_trace t;
	struct epm_run r;
	const char *type;
	cpu_set_t set;
	int cpu, n = 0;

	REQUIRE_RUN();
	cpu = sched_getcpu();
	ASSERT_LE(0, cpu);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	LOAD(self->fd, GPA_CODE, g_hlt);
	LOAD(self->fd, gpa_read, g_read);
	map_data(_metadata, self->fd, GPA_DATA, SZ_4K, EPM_PERM_R | EPM_PERM_W);
	if (epm_trace_start(&t)) {
		if (errno == ENODEV)
			SKIP(return, "the kernel has no tracefs");
		ASSERT_EQ(0, errno) TH_LOG("enabling events/ept_pmap: %s",
					   strerror(errno));
	}
	type = self->caps.flags & EPM_CAP_INVEPT_SINGLE ? "single-context" :
							  "global";
#define WANT(...) \
	(snprintf(buf[n], sizeof(buf[n]), __VA_ARGS__), want[n] = buf[n], n++)

	/* the first entry on this CPU flushes (generation 0) */
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 1);
	WANT("ept_pmap_run_entry: mode prot32 rip 0x1000 timeout_ns %llu",
	     RUN_TIMEOUT_NS);
	WANT("ept_pmap_invept: cpu %d flushes 0 %s", cpu, type);
	WANT("ept_pmap_run_exit: kind hlt reason 0x%x qual 0x%llx gpa 0x0 rip 0x1001 ret 0",
	     r.exit_reason, (unsigned long long)r.exit_qual);

	/* no flush since: no INVEPT; the violation's gpa and qualification */
	run_prep(&r, EPM_MODE_PROT32, gpa_read);
	r.regs.rsi = GPA_HOLE + 0x123;
	expect_violation(_metadata, run(self->fd, &r), &r, GPA_HOLE + 0x123,
			 EPM_PERM_R, 0);
	WANT("ept_pmap_run_entry: mode prot32 rip 0x3000 timeout_ns %llu",
	     RUN_TIMEOUT_NS);
	WANT("ept_pmap_run_exit: kind ept_violation reason 0x%x qual 0x%llx gpa 0x50123 rip 0x3000 ret 0",
	     r.exit_reason, (unsigned long long)r.exit_qual);

	/* UNMAP moves the generation on: the next entry flushes again */
	ASSERT_EQ(0, epm_unmap_at(self->fd, GPA_DATA, SZ_4K));
	WANT("ept_pmap_unmap: gpa 0x10000 size 0x1000 ret 0");
	WANT("ept_pmap_flush: flushes 1");
	run_prep(&r, EPM_MODE_PROT32, GPA_CODE);
	r.timeout_ns = NSEC_PER_SEC;
	expect_hlt(_metadata, run(self->fd, &r), &r, GPA_CODE + 1);
	WANT("ept_pmap_run_entry: mode prot32 rip 0x1000 timeout_ns %llu",
	     NSEC_PER_SEC);
	WANT("ept_pmap_invept: cpu %d flushes 1 %s", cpu, type);
	WANT("ept_pmap_run_exit: kind hlt reason 0x%x qual 0x%llx gpa 0x0 rip 0x1001 ret 0",
	     r.exit_reason, (unsigned long long)r.exit_qual);
#undef WANT

	epm_trace_expect(_metadata, &t, want, n);
	epm_trace_stop(&t);
}

TEST_HARNESS_MAIN
