// SPDX-License-Identifier: GPL-2.0
/*
 * vmx_bench: the round trip of a guest exit through ept-pmap's RUN against
 * the same round trip through KVM's KVM_RUN, on the same CPU in one boot.
 *
 * Both run the same guest at gpa 0x1000, "1: out %al, $0x80; jmp 1b", in
 * the same mode (32-bit flat protected mode with paging off by default,
 * or real mode). One round trip is: the guest's OUT exits to the host, the
 * ioctl returns to this program, which checks the exit and calls the ioctl
 * again to re-enter the guest. RUN is resumed with the struct it returned,
 * KVM_RUN with the vCPU as it is.
 *
 * Order matters on kernels that turn VMX on while a KVM VM exists (6.1):
 * RUN fails EBUSY then. So: every RUN first, then KVM (and one RUN while
 * its VM exists, which must fail EBUSY), then the VM is closed and RUN is
 * shown to work again. kvm_intel must be loaded before (modprobe); loading
 * it alone does not take VMX on 6.1.
 *
 * Under an emulator (Bochs) the times are only indicative: the ratio and
 * the counts are what it prints. Exit status: 0 when both sides ran every
 * round trip, 1 on a failure, 2 on a usage error; the ratio is reported,
 * not judged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "ept-pmap.h"	/* libept-pmap */
#include <linux/kvm.h>

#define GUEST_GPA	0x1000ULL
#define MEM_SIZE	0x10000ULL	/* guest memory: gpa [0, 64 KiB) */
#define PAGE_SIZE_4K	0x1000ULL
#define BENCH_PORT	0x80
#define RUN_TIMEOUT_NS	(5ULL * 1000000000ULL)
#define DEFAULT_ITERS	10000
#define WARMUP		20

/* 1: out %al, $0x80; jmp 1b -- the same bytes in 16- and 32-bit code */
static const unsigned char guest_code[] = { 0xe6, BENCH_PORT, 0xeb, 0xfc };

struct result {
	unsigned long done;
	double secs;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 64 KiB of guest memory, the guest at GUEST_GPA, the rest int3. */
static void *guest_memory(void)
{
	unsigned char *m = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED) {
		perror("vmx_bench: mmap");
		return NULL;
	}
	/* every page written now, so that what is pinned is what we wrote */
	memset(m, 0xcc, MEM_SIZE);
	memcpy(m + GUEST_GPA, guest_code, sizeof(guest_code));
	return m;
}

/* --- ept-pmap -------------------------------------------------------------- */

static int epm_setup(void *mem)
{
	struct epm_map map = {
		.gpa = 0,
		.size = MEM_SIZE,
		.uaddr = (uintptr_t)mem,
		.flags = EPM_PERM_R | EPM_PERM_W | EPM_PERM_X,
	};
	int fd = ept_pmap_open(NULL), ret;

	if (fd < 0) {
		fprintf(stderr, "vmx_bench: cannot open %s: %s (is ept_pmap.ko loaded?)\n",
			EPT_PMAP_DEFAULT_DEVICE, strerror(-fd));
		return -1;
	}
	ret = ept_pmap_map(fd, &map);
	if (ret) {
		fprintf(stderr, "vmx_bench: EPM_IOC_MAP: %s\n", strerror(-ret));
		ept_pmap_close(fd);
		return -1;
	}
	return fd;
}

static void epm_start(struct epm_run *r, unsigned int mode)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->timeout_ns = RUN_TIMEOUT_NS;
	r->regs.rip = GUEST_GPA;
	r->regs.rflags = 2;
}

/* One RUN; 0 when it ended at the guest's OUT, else -1 (reported). */
static int epm_once(int fd, struct epm_run *r)
{
	int err = -ept_pmap_run(fd, r);

	if (err) {
		fprintf(stderr, "vmx_bench: EPM_IOC_RUN: %s%s\n", strerror(err),
			err == EBUSY ? " (VMX is held by another hypervisor)" :
			err == ENODEV ? " (no usable VMX here)" : "");
		return -1;
	}
	if (r->exit_kind != EPM_EXIT_IO || r->port != BENCH_PORT ||
	    r->io_in || r->io_size != 1) {
		fprintf(stderr, "vmx_bench: RUN: exit kind %u reason %u port 0x%x at rip 0x%llx\n",
			r->exit_kind, r->exit_reason, r->port,
			(unsigned long long)r->regs.rip);
		return -1;
	}
	return 0;
}

static int epm_bench(int fd, unsigned int mode, unsigned long iters,
		     struct result *res)
{
	struct epm_run r;
	unsigned long i;
	double t0;

	epm_start(&r, mode);
	for (i = 0; i < WARMUP; i++) {
		if (epm_once(fd, &r))
			return -1;
	}
	t0 = now_s();
	for (i = 0; i < iters; i++) {
		if (epm_once(fd, &r))
			break;
	}
	res->secs = now_s() - t0;
	res->done = i;
	return i == iters ? 0 : -1;
}

/* --- KVM ------------------------------------------------------------------- */

struct kvm {
	int sys, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
};

static void kvm_close(struct kvm *k)
{
	if (k->run)
		munmap(k->run, k->run_size);
	if (k->vcpu >= 0)
		close(k->vcpu);
	if (k->vm >= 0)
		close(k->vm);
	if (k->sys >= 0)
		close(k->sys);
	k->run = NULL;
	k->vcpu = -1;
	k->vm = -1;
	k->sys = -1;
}

static int kvm_fail(struct kvm *k, const char *what)
{
	fprintf(stderr, "vmx_bench: %s: %s\n", what, strerror(errno));
	kvm_close(k);
	return -1;
}

static void flat_segment(struct kvm_segment *s, unsigned short sel,
			 unsigned char type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->db = 1;
	s->g = 1;
}

/* A VM with one slot over @mem and one vCPU at GUEST_GPA in @mode. */
static int kvm_setup(struct kvm *k, void *mem, unsigned int mode)
{
	struct kvm_userspace_memory_region slot = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int size;

	k->vm = -1;
	k->vcpu = -1;
	k->run = NULL;
	k->sys = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys < 0)
		return kvm_fail(k, "cannot open /dev/kvm (modprobe kvm_intel first)");
	if (ioctl(k->sys, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		errno = EINVAL;
		return kvm_fail(k, "KVM_GET_API_VERSION");
	}
	k->vm = ioctl(k->sys, KVM_CREATE_VM, 0);
	if (k->vm < 0)
		return kvm_fail(k, "KVM_CREATE_VM");
	/* as QEMU does on Intel: a TSS for real mode, out of the guest's way */
	if (ioctl(k->vm, KVM_SET_TSS_ADDR, 0xfffbd000UL))
		return kvm_fail(k, "KVM_SET_TSS_ADDR");
	if (ioctl(k->vm, KVM_SET_USER_MEMORY_REGION, &slot))
		return kvm_fail(k, "KVM_SET_USER_MEMORY_REGION");
	k->vcpu = ioctl(k->vm, KVM_CREATE_VCPU, 0);
	if (k->vcpu < 0)
		return kvm_fail(k, "KVM_CREATE_VCPU");
	size = ioctl(k->sys, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0)
		return kvm_fail(k, "KVM_GET_VCPU_MMAP_SIZE");
	k->run_size = size;
	k->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      k->vcpu, 0);
	if (k->run == MAP_FAILED) {
		k->run = NULL;
		return kvm_fail(k, "mmap of the vCPU's kvm_run");
	}

	if (ioctl(k->vcpu, KVM_GET_SREGS, &sregs))
		return kvm_fail(k, "KVM_GET_SREGS");
	if (mode == EPM_MODE_PROT32) {
		/* 32-bit flat, paging off: what RUN's PROT32 sets up */
		flat_segment(&sregs.cs, 0x08, 11);
		flat_segment(&sregs.ds, 0x10, 3);
		sregs.es = sregs.ds;
		sregs.fs = sregs.ds;
		sregs.gs = sregs.ds;
		sregs.ss = sregs.ds;
		sregs.cr0 |= 1;		/* PE */
		sregs.cr0 &= ~(1ULL << 31);
	} else {
		/* real mode, CS = 0 like RUN's REAL */
		sregs.cs.base = 0;
		sregs.cs.selector = 0;
	}
	if (ioctl(k->vcpu, KVM_SET_SREGS, &sregs))
		return kvm_fail(k, "KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_GPA;
	regs.rflags = 2;
	if (ioctl(k->vcpu, KVM_SET_REGS, &regs))
		return kvm_fail(k, "KVM_SET_REGS");
	return 0;
}

static int kvm_once(struct kvm *k)
{
	struct kvm_run *run = k->run;

	if (ioctl(k->vcpu, KVM_RUN, 0)) {
		fprintf(stderr, "vmx_bench: KVM_RUN: %s\n", strerror(errno));
		return -1;
	}
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != BENCH_PORT ||
	    run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 1) {
		fprintf(stderr, "vmx_bench: KVM_RUN: unexpected exit reason %u (port 0x%x)\n",
			run->exit_reason,
			run->exit_reason == KVM_EXIT_IO ? run->io.port : 0);
		if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
			fprintf(stderr, "vmx_bench: hardware entry failure reason 0x%llx\n",
				(unsigned long long)
				run->fail_entry.hardware_entry_failure_reason);
		return -1;
	}
	return 0;
}

static int kvm_bench(struct kvm *k, unsigned long iters, struct result *res)
{
	unsigned long i;
	double t0;

	for (i = 0; i < WARMUP; i++) {
		if (kvm_once(k))
			return -1;
	}
	t0 = now_s();
	for (i = 0; i < iters; i++) {
		if (kvm_once(k))
			break;
	}
	res->secs = now_s() - t0;
	res->done = i;
	return i == iters ? 0 : -1;
}

/* --- main ------------------------------------------------------------------ */

static void report(const char *what, const struct result *r)
{
	printf("%-28s %8lu round trips in %9.6f s: %10.3f us each\n", what,
	       r->done, r->secs, r->done ? r->secs * 1e6 / r->done : 0.0);
}

static void print_usage(void)
{
	fprintf(stderr,
		"usage: vmx_bench [-n ITERATIONS] [-m prot32|real]\n"
		"       vmx_bench -H SECONDS\n"
		"\n"
		"Times N round trips of a guest port-I/O exit through ept-pmap's RUN,\n"
		"then through KVM_RUN (kvm_intel loaded), and prints the ratio\n"
		"ours/KVM (target <= 1.0). Default: -n %d -m prot32.\n"
		"-H holds a KVM VM (so VMX) for SECONDS, to see RUN fail EBUSY.\n",
		DEFAULT_ITERS);
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long iters = DEFAULT_ITERS, hold = 0;
	unsigned int mode = EPM_MODE_PROT32;
	struct result ours = { 0 }, kvm = { 0 }, after = { 0 };
	struct epm_run r;
	struct kvm k;
	void *mem;
	int opt, fd, err, ret = 0;
	char *end;

	while ((opt = getopt(argc, argv, "n:m:H:h")) != -1) {
		switch (opt) {
		case 'H':
			errno = 0;
			hold = strtoul(optarg, &end, 0);
			if (errno || *end || !hold)
				print_usage();
			break;
		case 'n':
			errno = 0;
			iters = strtoul(optarg, &end, 0);
			if (errno || *end || !iters)
				print_usage();
			break;
		case 'm':
			if (!strcmp(optarg, "prot32"))
				mode = EPM_MODE_PROT32;
			else if (!strcmp(optarg, "real"))
				mode = EPM_MODE_REAL;
			else
				print_usage();
			break;
		default:
			print_usage();
		}
	}
	if (optind != argc)
		print_usage();

	setvbuf(stdout, NULL, _IOLBF, 0);
	mem = guest_memory();
	if (!mem)
		return 1;
	if (hold) {
		if (kvm_setup(&k, mem, mode))
			return 1;
		printf("vmx_bench: holding a KVM VM for %lu s\n", hold);
		sleep(hold);
		kvm_close(&k);
		return 0;
	}
	printf("vmx_bench: guest \"1: out %%al, $0x80; jmp 1b\" at gpa 0x%llx, %s mode\n",
	       GUEST_GPA, mode == EPM_MODE_REAL ? "real" : "prot32");
	printf("vmx_bench: %lu round trips each, after %d to warm up\n",
	       iters, WARMUP);

	/* 1. ours, while no VM holds VMX */
	fd = epm_setup(mem);
	if (fd < 0)
		return 1;
	if (epm_bench(fd, mode, iters, &ours)) {
		report("ours (EPM_IOC_RUN)", &ours);
		return 1;
	}
	report("ours (EPM_IOC_RUN)", &ours);

	/* 2. KVM, on the same memory */
	if (kvm_setup(&k, mem, mode))
		return 1;
	epm_start(&r, mode);
	err = -ept_pmap_run(fd, &r);
	if (!err) {
		printf("RUN while a KVM VM exists:   ran (exit kind %u): KVM holds no VMX\n",
		       r.exit_kind);
	} else if (err == EBUSY) {
		printf("RUN while a KVM VM exists:   EBUSY, as expected (KVM holds VMX)\n");
	} else {
		printf("RUN while a KVM VM exists:   %s (expected EBUSY)\n",
		       strerror(err));
		ret = 1;
	}
	if (kvm_bench(&k, iters, &kvm)) {
		report("kvm  (KVM_RUN)", &kvm);
		kvm_close(&k);
		return 1;
	}
	report("kvm  (KVM_RUN)", &kvm);
	kvm_close(&k);

	/* 3. ours again, the VM closed: KVM gave VMX back */
	if (epm_bench(fd, mode, iters / 10 ? iters / 10 : 1, &after)) {
		report("ours after the VM is closed", &after);
		return 1;
	}
	report("ours after the VM is closed", &after);
	close(fd);

	if (ours.done && kvm.done && kvm.secs > 0) {
		double ratio = (ours.secs / ours.done) / (kvm.secs / kvm.done);

		printf("ratio ours/KVM: %.3fx per round trip (target <= 1.0x: %s)\n",
		       ratio, ratio <= 1.0 ? "met" : "not met");
	}
	printf("counts: ours %lu + %lu, kvm %lu round trips\n", ours.done,
	       after.done, kvm.done);
	printf("note: emulated timings (Bochs) are only indicative\n");
	return ret;
}
