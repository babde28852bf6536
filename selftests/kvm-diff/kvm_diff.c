// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_diff: run the same random guest programs on KVM (KVM_RUN) and on
 * ept-pmap's RUN, on the same memory map, and compare what they did, exit
 * by exit. gen.py makes the programs; selftests/kvm-diff/lane.sh runs this
 * in Bochs (Intel VMX) with kvm_intel and ept_pmap.ko loaded.
 *
 * Usage: kvm_diff [-k] [-v N] PROGS.BIN PROGS.TXT    (-k: KVM only)
 *
 * Programs go in batches of BATCH: one KVM VM runs the whole batch, each
 * program on a vCPU of its own (born in the reset state) and its own
 * slots, and is closed (on 6.1 kvm_intel holds VMX only while a VM
 * exists, and RUN fails EBUSY then); then each program runs on a fresh
 * ept-pmap address space with the same map, and the two
 * records and the final memory are compared. A record is the list of
 * exits up to the end: port I/O (each answered, for IN, with a value both
 * sides get: answer()), the first access to a hole or a write to
 * read-only memory (KVM_EXIT_MMIO; EPM_EXIT_EPT_VIOLATION), HLT, a
 * shutdown (triple fault) or a time limit. The registers are compared
 * where KVM's API says they are consistent: after an I/O or MMIO exit
 * only once KVM_RUN has completed it (immediate_exit = 1 completes it and
 * runs nothing more). So at an I/O exit both sides show the state after
 * the instruction; at a fault ours shows the state before the access
 * (the guest cannot go on) and KVM the state after it completed, and the
 * generator's table of fault sites (S lines) says what the instruction
 * did in between: its length, size, direction and register.
 *
 * Prints one line per divergent program, the first N (-v, default 5)
 * with both records side by side and the map, and a summary; exit status
 * 0 when nothing diverged, 1 when something did, 2 on a setup failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/ept_pmap.h>
#include <linux/kvm.h>

#define MAX_REGIONS	32
#define MAX_SITES	4
#define MAX_EXITS	96
#define PAGE		0x1000ULL
#define MB2		0x200000ULL
#define TIME_LIMIT_S	4
#define BATCH		50	/* programs per KVM VM */
#define MODE_REAL	0
#define MODE_PROT32	1
#define MODE_LONG64	2

static const char *const mode_names[] = { "real", "prot32", "long64" };
static const char *const reg_names[18] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
};

struct region {
	uint64_t gpa, size;
	int rw, thp, role;	/* role: 0 data, 1 code, 2 stack, 3 page tables */
};

struct site {
	uint32_t off, len, size, store, reg;
};

struct prog {
	unsigned long idx;
	uint64_t seed;
	int mode;
	uint64_t code_off, code_len, entry, cr3, rflags, regs[16];
	int nregions, nsites;
	struct region r[MAX_REGIONS];
	struct site s[MAX_SITES];
	uint64_t pt_gpa, split, np_gpa;
};

enum { X_HLT = 1, X_IO, X_FAULT, X_SHUTDOWN, X_TIMEOUT, X_OTHER, X_ERROR };
static const char *const kind_names[] = {
	"?", "HLT", "IO", "FAULT", "SHUTDOWN", "TIMEOUT", "OTHER", "ERROR",
};

struct xrec {
	int kind, dir, size;	/* dir: 1 IN / write */
	unsigned int port;
	uint64_t data, gpa;
	uint64_t raw;		/* KVM exit reason / ours kind<<32|reason, access */
	uint64_t regs[18];	/* 16 GPRs, rip, rflags */
};

struct record {
	int n;
	struct xrec x[MAX_EXITS];
	void *mem[MAX_REGIONS];	/* the guest memory as it ended */
	size_t len[MAX_REGIONS];
};

static const unsigned char *blob;
static size_t blob_len;
static int kvm_sys = -1;
static int verbose_left = 5;
static int only_kvm;		/* -k: KVM side only (no comparison) */

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* What an IN (or an MMIO read) at exit @n of the program reads. */
static uint64_t answer(const struct prog *p, int n)
{
	return mix64(p->seed * 0x100 + n);
}

static uint64_t mask_of(int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

/* A register after a load of @size bytes of @d: as KVM's emulator and the
 * CPU write GPRs (8 and 16 bits merge, 32 bits zero-extend). */
static uint64_t merged(uint64_t old, uint64_t d, int size)
{
	if (size >= 4)
		return d & mask_of(size);
	return (old & ~mask_of(size)) | (d & mask_of(size));
}

/* ---- the manifest ---------------------------------------------------- */

static FILE *manifest;

static int read_prog(struct prog *p)
{
	char line[1024], kind[8], back[8], role[8];
	struct region *rg;
	struct site *st;

	memset(p, 0, sizeof(*p));
	while (fgets(line, sizeof(line), manifest)) {
		switch (line[0]) {
		case 'P':
			if (sscanf(line, "P %lu %" SCNu64 " %d %" SCNu64 " %" SCNu64
				   " %" SCNu64 " %" SCNu64 " %" SCNu64
				   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
				   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
				   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
				   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
				   &p->idx, &p->seed, &p->mode, &p->code_off,
				   &p->code_len, &p->entry, &p->cr3, &p->rflags,
				   &p->regs[0], &p->regs[1], &p->regs[2], &p->regs[3],
				   &p->regs[4], &p->regs[5], &p->regs[6], &p->regs[7],
				   &p->regs[8], &p->regs[9], &p->regs[10], &p->regs[11],
				   &p->regs[12], &p->regs[13], &p->regs[14],
				   &p->regs[15]) != 24)
				goto bad;
			if (p->mode < 0 || p->mode > 2 ||
			    p->code_off + p->code_len > blob_len)
				goto bad;
			break;
		case 'R':
			if (p->nregions == MAX_REGIONS)
				goto bad;
			rg = &p->r[p->nregions++];
			if (sscanf(line, "R %" SCNu64 " %" SCNu64 " %7s %7s %7s",
				   &rg->gpa, &rg->size, kind, back, role) != 5)
				goto bad;
			rg->rw = !strcmp(kind, "rw");
			rg->thp = !strcmp(back, "2m");
			rg->role = !strcmp(role, "code") ? 1 :
				   !strcmp(role, "stack") ? 2 :
				   !strcmp(role, "pt") ? 3 : 0;
			break;
		case 'S':
			if (p->nsites == MAX_SITES)
				goto bad;
			st = &p->s[p->nsites++];
			if (sscanf(line, "S %u %u %u %u %u", &st->off, &st->len,
				   &st->size, &st->store, &st->reg) != 5)
				goto bad;
			break;
		case 'T':
			if (sscanf(line, "T %" SCNu64 " %" SCNu64 " %" SCNu64,
				   &p->pt_gpa, &p->split, &p->np_gpa) != 3)
				goto bad;
			break;
		case 'E':
			return 1;
		default:
			goto bad;
		}
	}
	return 0;
bad:
	fprintf(stderr, "kvm_diff: bad manifest line: %s", line);
	exit(2);
}

/* ---- guest memory ------------------------------------------------------ */

static void *region_alloc(const struct region *rg, size_t *len)
{
	size_t n = rg->thp ? rg->size + MB2 : rg->size;
	unsigned char *m = mmap(NULL, n, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (m == MAP_FAILED) {
		perror("kvm_diff: mmap");
		exit(2);
	}
	if (!rg->thp) {
		*len = n;
		return m;
	}
	a = ((uintptr_t)m + MB2 - 1) & ~(MB2 - 1);
	if (a > (uintptr_t)m)
		munmap(m, a - (uintptr_t)m);
	if (a + rg->size < (uintptr_t)m + n)
		munmap((void *)(a + rg->size), (uintptr_t)m + n - a - rg->size);
	madvise((void *)a, rg->size, MADV_HUGEPAGE);
	*len = rg->size;
	return (void *)a;
}

/* Where gpa lands in @mem (the regions' buffers), or NULL. */
static unsigned char *host_addr(const struct prog *p, void *const *mem,
				uint64_t gpa)
{
	int i;

	for (i = 0; i < p->nregions; i++)
		if (gpa >= p->r[i].gpa && gpa < p->r[i].gpa + p->r[i].size)
			return (unsigned char *)mem[i] + (gpa - p->r[i].gpa);
	return NULL;
}

static void put64(const struct prog *p, void *const *mem, uint64_t gpa,
		  uint64_t v)
{
	unsigned char *h = host_addr(p, mem, gpa);

	if (h)
		memcpy(h, &v, 8);
}

/* Long mode: identity map of [0, 1G), 2M pages but for the split slots. */
static void build_page_tables(const struct prog *p, void *const *mem)
{
	uint64_t pml4 = p->pt_gpa, pdpt = pml4 + PAGE, pd = pdpt + PAGE;
	uint64_t pt = pd + PAGE;
	int slot, i;

	put64(p, mem, pml4, pdpt | 3);
	put64(p, mem, pdpt, pd | 3);
	for (slot = 0; slot < 512; slot++) {
		if (slot < 64 && (p->split >> slot & 1)) {
			put64(p, mem, pd + 8 * slot, pt | 3);
			for (i = 0; i < 512; i++) {
				uint64_t g = slot * MB2 + i * PAGE;

				put64(p, mem, pt + 8 * i,
				      g == p->np_gpa ? 0 : g | 3);
			}
			pt += PAGE;
		} else {
			put64(p, mem, pd + 8 * slot, slot * MB2 | 0x83);
		}
	}
}

/* The memory both sides start from: seeded bytes, code, page tables. */
static void fill(const struct prog *p, void **mem, size_t *len)
{
	unsigned char *code;
	int i;

	for (i = 0; i < p->nregions; i++) {
		const struct region *rg = &p->r[i];
		uint64_t *q, x = mix64(p->seed ^ (uint64_t)i << 56);
		size_t k, n;

		mem[i] = region_alloc(rg, &len[i]);
		q = mem[i];
		n = rg->size / 8;
		if (rg->role == 3) {
			memset(q, 0, rg->size);
			continue;
		}
		/* a 2M region: seeded bytes in its first and last 64 KiB and
		 * one page in 16, zeros elsewhere (what we touch is filled) */
		for (k = 0; k < n; k++) {
			if (rg->thp && k >= 8192 && k < n - 8192 &&
			    (k / 512) % 16)
				continue;
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			q[k] = x ^ (x >> 29);
		}
	}
	code = host_addr(p, mem, p->entry);
	if (!code || !host_addr(p, mem, p->entry + p->code_len - 1)) {
		fprintf(stderr, "kvm_diff: program %lu: code outside its map\n",
			p->idx);
		exit(2);
	}
	memcpy(code, blob + p->code_off, p->code_len);
	if (p->mode == MODE_LONG64)
		build_page_tables(p, mem);
}

static void release(const struct prog *p, struct record *rec)
{
	int i;

	for (i = 0; i < p->nregions; i++)
		if (rec->mem[i])
			munmap(rec->mem[i], rec->len[i]);
}

static struct xrec *next_exit(struct record *rec)
{
	struct xrec *x;

	if (rec->n == MAX_EXITS)
		return NULL;
	x = &rec->x[rec->n++];
	memset(x, 0, sizeof(*x));
	return x;
}

/* ---- KVM ------------------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
}

static void seg(struct kvm_segment *s, unsigned short sel, unsigned char type,
		int mode)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	if (mode == MODE_REAL) {
		s->limit = 0xffff;
		return;
	}
	s->limit = 0xffffffff;
	s->g = 1;
	if (mode == MODE_LONG64 && type == 11)
		s->l = 1;
	else
		s->db = 1;
}

static void kvm_regs_out(const struct kvm_regs *k, uint64_t *o)
{
	const uint64_t v[18] = {
		k->rax, k->rbx, k->rcx, k->rdx, k->rsi, k->rdi, k->rsp, k->rbp,
		k->r8, k->r9, k->r10, k->r11, k->r12, k->r13, k->r14, k->r15,
		k->rip, k->rflags,
	};

	memcpy(o, v, sizeof(v));
}

static int kvm_fail(const char *what)
{
	fprintf(stderr, "kvm_diff: %s: %s\n", what, strerror(errno));
	return -1;
}

/*
 * Run @p on KVM into @rec, in @vm, on a new vCPU @id (a vCPU is born in
 * the reset state, FPU included: nothing of the previous program's vCPU
 * is left to reset), after taking the previous program's @prev slots
 * away. 0, or -1 when KVM could not be set up.
 */
static int kvm_side(const struct prog *p, struct record *rec, int vm, int id,
		    int prev)
{
	int vcpu = -1, i, ret = -1, size = 0;
	struct kvm_run *run = NULL;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct xrec *x;

	fill(p, rec->mem, rec->len);
	for (i = 0; i < prev; i++) {
		struct kvm_userspace_memory_region slot = { .slot = i };

		if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot))
			return kvm_fail("KVM_SET_USER_MEMORY_REGION (delete)");
	}
	for (i = 0; i < p->nregions; i++) {
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.flags = p->r[i].rw ? 0 : KVM_MEM_READONLY,
			.guest_phys_addr = p->r[i].gpa,
			.memory_size = p->r[i].size,
			.userspace_addr = (uintptr_t)rec->mem[i],
		};

		if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot))
			return kvm_fail("KVM_SET_USER_MEMORY_REGION");
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, id);
	size = ioctl(kvm_sys, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || size <= 0) {
		kvm_fail("KVM_CREATE_VCPU");
		goto out;
	}
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		run = NULL;
		kvm_fail("mmap kvm_run");
		goto out;
	}
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs)) {
		kvm_fail("KVM_GET_SREGS");
		goto out;
	}
	/* what RUN sets up for the mode (src/vmx.c epm_write_guest) */
	if (p->mode == MODE_REAL) {
		seg(&sregs.cs, 0, 11, p->mode);
		seg(&sregs.ds, 0, 3, p->mode);
	} else {
		seg(&sregs.cs, 0x08, 11, p->mode);
		seg(&sregs.ds, 0x10, 3, p->mode);
	}
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.type = 11;
	sregs.tr.present = 1;
	sregs.tr.limit = 0xff;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;
	sregs.gdt.base = sregs.gdt.limit = 0;
	sregs.idt.base = sregs.idt.limit = 0;
	sregs.cr0 = 0x32;			/* NE ET MP */
	sregs.cr4 = 0x600;			/* OSFXSR OSXMMEXCPT */
	sregs.efer = 0;
	sregs.cr3 = 0;
	if (p->mode != MODE_REAL)
		sregs.cr0 |= 1;			/* PE */
	if (p->mode == MODE_LONG64) {
		sregs.cr0 |= 0x80010000;	/* PG WP */
		sregs.cr4 |= 0x20;		/* PAE */
		sregs.efer = 0x500;		/* LME LMA */
		sregs.cr3 = p->cr3;
	}
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs)) {
		kvm_fail("KVM_SET_SREGS");
		goto out;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rax = p->regs[0]; regs.rbx = p->regs[1];
	regs.rcx = p->regs[2]; regs.rdx = p->regs[3];
	regs.rsi = p->regs[4]; regs.rdi = p->regs[5];
	regs.rsp = p->regs[6]; regs.rbp = p->regs[7];
	regs.r8 = p->regs[8]; regs.r9 = p->regs[9];
	regs.r10 = p->regs[10]; regs.r11 = p->regs[11];
	regs.r12 = p->regs[12]; regs.r13 = p->regs[13];
	regs.r14 = p->regs[14]; regs.r15 = p->regs[15];
	regs.rip = p->entry;
	regs.rflags = p->rflags;
	if (ioctl(vcpu, KVM_SET_REGS, &regs)) {
		kvm_fail("KVM_SET_REGS");
		goto out;
	}

	ret = 0;
	alarm(TIME_LIMIT_S);
	for (;;) {
		int done = 1;

		x = next_exit(rec);
		if (!x)
			break;
		run->immediate_exit = 0;
		if (ioctl(vcpu, KVM_RUN, 0)) {
			x->kind = errno == EINTR ? X_TIMEOUT : X_ERROR;
			x->raw = errno;
			break;
		}
		x->raw = run->exit_reason;
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			unsigned char *d = (unsigned char *)run + run->io.data_offset;
			uint64_t v = 0;

			x->kind = X_IO;
			x->port = run->io.port;
			x->size = run->io.size;
			x->dir = run->io.direction == KVM_EXIT_IO_IN;
			if (run->io.count != 1) {
				x->kind = X_OTHER;
				break;
			}
			if (x->dir) {
				v = answer(p, rec->n - 1) & mask_of(x->size);
				memcpy(d, &v, x->size);
			} else {
				memcpy(&v, d, x->size);
			}
			x->data = v;
			done = 0;
			break;
		}
		case KVM_EXIT_MMIO: {
			uint64_t v = 0;

			x->kind = X_FAULT;
			x->gpa = run->mmio.phys_addr;
			x->size = run->mmio.len;
			x->dir = run->mmio.is_write;
			if (x->dir) {
				memcpy(&v, run->mmio.data, x->size > 8 ? 8 : x->size);
			} else {
				v = answer(p, rec->n - 1) & mask_of(x->size);
				memcpy(run->mmio.data, &v, 8);
			}
			x->data = v;
			break;
		}
		case KVM_EXIT_HLT:
			x->kind = X_HLT;
			break;
		case KVM_EXIT_SHUTDOWN:
			x->kind = X_SHUTDOWN;
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			x->kind = X_OTHER;
			x->raw |= (uint64_t)run->internal.suberror << 32;
			break;
		case KVM_EXIT_FAIL_ENTRY:
			x->kind = X_OTHER;
			x->raw |= run->fail_entry.hardware_entry_failure_reason << 32;
			break;
		default:
			x->kind = X_OTHER;
			break;
		}
		if (x->kind == X_IO || x->kind == X_FAULT) {
			/* complete the I/O: only then is the state consistent */
			run->immediate_exit = 1;
			if (ioctl(vcpu, KVM_RUN, 0) == 0 || errno != EINTR) {
				x->kind = X_ERROR;
				x->raw = 0x10000 | errno;
				done = 1;
			}
			run->immediate_exit = 0;
		}
		if (ioctl(vcpu, KVM_GET_REGS, &regs)) {
			kvm_fail("KVM_GET_REGS");
			ret = -1;
			break;
		}
		kvm_regs_out(&regs, x->regs);
		if (done)
			break;
	}
	alarm(0);
out:
	if (run)
		munmap(run, size);
	if (vcpu >= 0)
		close(vcpu);
	return ret;
}

/* A VM for a batch of programs; each gets its own vCPU and slots. */
static int kvm_vm(void)
{
	int vm = ioctl(kvm_sys, KVM_CREATE_VM, 0);

	if (vm < 0)
		return kvm_fail("KVM_CREATE_VM");
	/* as QEMU does on Intel: a TSS for real mode, out of the guests' way */
	if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL)) {
		kvm_fail("KVM_SET_TSS_ADDR");
		close(vm);
		return -1;
	}
	return vm;
}

/* ---- ept-pmap ---------------------------------------------------------- */

static int epm_side(const struct prog *p, struct record *rec)
{
	struct epm_run r;
	struct xrec *x;
	int fd, i;

	fill(p, rec->mem, rec->len);
	fd = open("/dev/" EPM_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return kvm_fail("open /dev/ept-pmap");
	for (i = 0; i < p->nregions; i++) {
		struct epm_map m = {
			.gpa = p->r[i].gpa,
			.size = p->r[i].size,
			.uaddr = (uintptr_t)rec->mem[i],
			.flags = EPM_PERM_R | EPM_PERM_X |
				 (p->r[i].rw ? EPM_PERM_W : 0),
		};

		if (ioctl(fd, EPM_IOC_MAP, &m)) {
			kvm_fail("EPM_IOC_MAP");
			close(fd);
			return -1;
		}
	}
	memset(&r, 0, sizeof(r));
	r.mode = p->mode == MODE_REAL ? EPM_MODE_REAL :
		 p->mode == MODE_LONG64 ? EPM_MODE_LONG64 : EPM_MODE_PROT32;
	r.flags = EPM_RUN_GUEST_EXC;
	r.timeout_ns = TIME_LIMIT_S * 1000000000ULL;
	r.cr3 = p->cr3;
	memcpy(&r.regs, p->regs, sizeof(p->regs));
	r.regs.rip = p->entry;
	r.regs.rflags = p->rflags;
	for (;;) {
		int done = 1;

		x = next_exit(rec);
		if (!x)
			break;
		if (ioctl(fd, EPM_IOC_RUN, &r)) {
			x->kind = X_ERROR;
			x->raw = errno;
			break;
		}
		x->raw = (uint64_t)r.exit_kind << 32 | r.exit_reason;
		switch (r.exit_kind) {
		case EPM_EXIT_IO:
			x->kind = X_IO;
			x->port = r.port;
			x->size = r.io_size;
			x->dir = r.io_in;
			if (r.io_flags) {
				x->kind = X_OTHER;
				break;
			}
			if (x->dir) {
				x->data = answer(p, rec->n - 1) & mask_of(x->size);
				r.regs.rax = merged(r.regs.rax, x->data, x->size);
			} else {
				x->data = r.io_data;
			}
			done = 0;
			break;
		case EPM_EXIT_EPT_VIOLATION:
			x->kind = X_FAULT;
			x->gpa = r.gpa;
			x->dir = !!(r.access & EPM_PERM_W);
			x->raw = r.access;
			break;
		case EPM_EXIT_HLT:
			x->kind = X_HLT;
			break;
		case EPM_EXIT_TRIPLE_FAULT:
			x->kind = X_SHUTDOWN;
			break;
		case EPM_EXIT_TIMEOUT:
			x->kind = X_TIMEOUT;
			break;
		default:
			x->kind = X_OTHER;
			break;
		}
		memcpy(x->regs, &r.regs, sizeof(x->regs));
		if (done)
			break;
	}
	close(fd);
	return 0;
}

/* ---- comparing ----------------------------------------------------------- */

static char why[256];

static const struct site *site_at(const struct prog *p, uint64_t rip)
{
	int i;

	for (i = 0; i < p->nsites; i++)
		if (p->entry + p->s[i].off == rip)
			return &p->s[i];
	return NULL;
}

/* The registers @k should hold after the fault site @s completed on KVM,
 * from @o, ours before it. */
static void after_site(const struct prog *p, const struct site *s,
		       const struct xrec *o, const struct xrec *k, uint64_t *want)
{
	memcpy(want, o->regs, sizeof(o->regs));
	want[16] += s->len;
	if (p->mode == MODE_REAL)
		want[16] &= 0xffff;
	if (!s->store)
		want[s->reg] = merged(o->regs[s->reg], k->data, s->size);
}

static int compare_exit(const struct prog *p, int i, const struct xrec *o,
			const struct xrec *k)
{
	uint64_t want[18];
	const struct site *s;
	int r;

	if (o->kind != k->kind) {
		snprintf(why, sizeof(why), "exit %d: %s vs %s", i,
			 kind_names[o->kind], kind_names[k->kind]);
		return 1;
	}
	switch (o->kind) {
	case X_IO:
		if (o->port != k->port || o->size != k->size ||
		    o->dir != k->dir || o->data != k->data) {
			snprintf(why, sizeof(why), "exit %d: I/O port/size/dir/data", i);
			return 1;
		}
		break;
	case X_FAULT:
		if (o->gpa != k->gpa || o->dir != k->dir) {
			snprintf(why, sizeof(why), "exit %d: fault gpa/direction", i);
			return 1;
		}
		s = site_at(p, o->regs[16]);
		if (!s) {
			snprintf(why, sizeof(why),
				 "exit %d: fault at rip 0x%" PRIx64 ", no fault site there",
				 i, o->regs[16]);
			return 1;
		}
		if (o->raw != (s->store ? EPM_PERM_W : EPM_PERM_R) ||
		    k->size != (int)s->size) {
			snprintf(why, sizeof(why),
				 "exit %d: fault access 0x%" PRIx64 " size %d, the site says %s of %u",
				 i, o->raw, k->size, s->store ? "store" : "load", s->size);
			return 1;
		}
		if (s->store && k->data != (o->regs[s->reg] & mask_of(s->size))) {
			snprintf(why, sizeof(why), "exit %d: stored data", i);
			return 1;
		}
		after_site(p, s, o, k, want);
		for (r = 0; r < 18; r++)
			if (want[r] != k->regs[r]) {
				snprintf(why, sizeof(why),
					 "exit %d: %s after the faulting access", i,
					 reg_names[r]);
				return 1;
			}
		return 0;
	case X_OTHER:
	case X_ERROR:
		snprintf(why, sizeof(why), "exit %d: %s (ours 0x%" PRIx64
			 ", kvm 0x%" PRIx64 ")", i, kind_names[o->kind], o->raw,
			 k->raw);
		return 1;
	}
	for (r = 0; r < 18; r++)
		if (o->regs[r] != k->regs[r]) {
			snprintf(why, sizeof(why), "exit %d (%s): %s", i,
				 kind_names[o->kind], reg_names[r]);
			return 1;
		}
	return 0;
}

static int compare(const struct prog *p, const struct record *o,
		   const struct record *k)
{
	int i, n = o->n < k->n ? o->n : k->n;

	for (i = 0; i < n; i++)
		if (compare_exit(p, i, &o->x[i], &k->x[i]))
			return 1;
	if (o->n != k->n) {
		snprintf(why, sizeof(why), "%d exits vs %d", o->n, k->n);
		return 1;
	}
	if (n && o->x[n - 1].kind == X_IO) {
		snprintf(why, sizeof(why), "more than %d exits", MAX_EXITS);
		return 1;
	}
	for (i = 0; i < p->nregions; i++)
		if (memcmp(o->mem[i], k->mem[i], p->r[i].size)) {
			snprintf(why, sizeof(why), "memory at gpa 0x%" PRIx64 " (%s)",
				 p->r[i].gpa, p->r[i].rw ? "rw" : "ro");
			return 1;
		}
	return 0;
}

static void describe_exit(char *b, size_t n, const struct xrec *x)
{
	switch (x->kind) {
	case X_IO:
		snprintf(b, n, "IO %s port 0x%x size %d data 0x%" PRIx64,
			 x->dir ? "in" : "out", x->port, x->size, x->data);
		break;
	case X_FAULT:
		snprintf(b, n, "FAULT %s gpa 0x%" PRIx64 " size %d data 0x%" PRIx64,
			 x->dir ? "write" : "read", x->gpa, x->size, x->data);
		break;
	default:
		snprintf(b, n, "%s raw 0x%" PRIx64, kind_names[x->kind], x->raw);
	}
}

static void report(const struct prog *p, const struct record *o,
		   const struct record *k)
{
	static const char *const roles[] = { "data", "code", "stack", "pt" };
	int i, r, n = o->n > k->n ? o->n : k->n;
	char a[96], b[96];

	printf("DIVERGE prog %lu seed %" PRIu64 " mode %s: %s\n", p->idx,
	       p->seed, mode_names[p->mode], why);
	if (verbose_left <= 0)
		return;
	verbose_left--;
	printf("  map (gpa size perm backing role):\n");
	for (i = 0; i < p->nregions; i++)
		printf("    0x%08" PRIx64 " 0x%06" PRIx64 " %s %s %s\n",
		       p->r[i].gpa, p->r[i].size, p->r[i].rw ? "rw" : "ro",
		       p->r[i].thp ? "2m" : "4k", roles[p->r[i].role]);
	printf("    entry 0x%" PRIx64 " cr3 0x%" PRIx64 " split 0x%" PRIx64
	       " np 0x%" PRIx64 "; all else a hole\n", p->entry, p->cr3,
	       p->split, p->np_gpa);
	for (i = 0; i < p->nsites; i++)
		printf("    fault site +0x%x len %u: %s of %u, reg %s\n",
		       p->s[i].off, p->s[i].len,
		       p->s[i].store ? "store" : "load", p->s[i].size,
		       reg_names[p->s[i].reg]);
	printf("  %-4s %-48s %s\n", "exit", "ours (RUN)", "kvm (KVM_RUN)");
	for (i = 0; i < n; i++) {
		a[0] = b[0] = 0;
		if (i < o->n)
			describe_exit(a, sizeof(a), &o->x[i]);
		if (i < k->n)
			describe_exit(b, sizeof(b), &k->x[i]);
		printf("  %-4d %-48s %s\n", i, a, b);
		for (r = 0; r < 18; r++) {
			uint64_t ov = i < o->n ? o->x[i].regs[r] : 0;
			uint64_t kv = i < k->n ? k->x[i].regs[r] : 0;

			printf("       %-6s %016" PRIx64 " %c %016" PRIx64 "\n",
			       reg_names[r], ov, ov == kv ? ' ' : '*', kv);
		}
	}
	for (i = 0; i < p->nregions; i++) {
		const unsigned char *om = o->mem[i], *km = k->mem[i];
		uint64_t off, cnt = 0, first = 0;

		for (off = 0; off < p->r[i].size; off++)
			if (om[off] != km[off] && !cnt++)
				first = off;
		if (!cnt)
			continue;
		printf("  memory 0x%" PRIx64 ": %" PRIu64 " bytes differ, first at gpa 0x%"
		       PRIx64 ":\n    ours", p->r[i].gpa, cnt, p->r[i].gpa + first);
		for (off = first; off < first + 16 && off < p->r[i].size; off++)
			printf(" %02x", om[off]);
		printf("\n    kvm ");
		for (off = first; off < first + 16 && off < p->r[i].size; off++)
			printf(" %02x", km[off]);
		printf("\n");
	}
}

/* ---- the kernel log --------------------------------------------------------- */

static int kmsg = -1;

/*
 * Print, with the program that ran just before, every kernel message since
 * the last call that the lanes judge (a warning, an oops, a bad FPU state).
 * Returns how many there were. The console fails the run on them anyway:
 * this says which program to replay.
 */
static int kernel_reports(const struct prog *p, const char *side)
{
	static const char *const bad[] = {
		"BUG:", "WARNING:", "Oops", "Call Trace", "Bad FPU", "general protection",
	};
	char buf[2048];
	int n = 0;
	ssize_t len;
	size_t i;

	if (kmsg < 0)
		return 0;
	while ((len = read(kmsg, buf, sizeof(buf) - 1)) > 0 || (len < 0 && errno == EPIPE)) {
		char *msg;

		if (len <= 0)
			continue;
		buf[len] = 0;
		msg = strchr(buf, ';');
		msg = msg ? msg + 1 : buf;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (strstr(msg, bad[i])) {
				printf("KERNEL after prog %lu seed %" PRIu64 " mode %s (%s side): %s",
				       p->idx, p->seed, mode_names[p->mode], side, msg);
				n++;
				break;
			}
	}
	return n;
}

/* ---- main ------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *b;

	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	rewind(f);
	b = malloc(*len + 1);
	if (!b || fread(b, 1, *len, f) != *len) {
		perror(path);
		exit(2);
	}
	fclose(f);
	return b;
}

int main(int argc, char **argv)
{
	unsigned long progs[3] = { 0 }, bad[3] = { 0 }, kinds[8] = { 0 };
	unsigned long faults_w = 0, faults_r = 0, io_in = 0, io_out = 0;
	static struct record ours, kvm[BATCH];
	static struct prog batch[BATCH];
	struct sigaction sa;
	double t0 = now_s(), tk = 0, to = 0;
	int opt, i, kreports = 0;

	while ((opt = getopt(argc, argv, "kv:")) != -1) {
		if (opt == 'v')
			verbose_left = atoi(optarg);
		else if (opt == 'k')
			only_kvm = 1;
		else
			goto usage;
	}
	if (argc - optind != 2) {
usage:
		fprintf(stderr, "usage: kvm_diff [-k] [-v N] PROGS.BIN PROGS.TXT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	blob = load(argv[optind], &blob_len);
	manifest = fopen(argv[optind + 1], "r");
	if (!manifest) {
		perror(argv[optind + 1]);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	kvm_sys = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_sys < 0) {
		kvm_fail("open /dev/kvm (modprobe kvm_intel)");
		return 2;
	}
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	if (ioctl(kvm_sys, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
		fprintf(stderr, "kvm_diff: KVM has no KVM_CAP_READONLY_MEM\n");
		return 2;
	}

	for (;;) {
		int nb = 0, vm, j;
		double t1 = now_s(), t2;

		while (nb < BATCH && read_prog(&batch[nb]))
			nb++;
		if (!nb)
			break;
		/* KVM first, for the whole batch, then the VM is closed: on
		 * 6.1 kvm_intel holds VMX while a VM exists (RUN: EBUSY) */
		vm = kvm_vm();
		if (vm < 0)
			return 2;
		for (j = 0; j < nb; j++) {
			memset(&kvm[j], 0, sizeof(kvm[j]));
			if (kvm_side(&batch[j], &kvm[j], vm, j,
				     j ? batch[j - 1].nregions : 0))
				return 2;
			kreports += kernel_reports(&batch[j], "kvm");
		}
		close(vm);
		t2 = now_s();
		tk += t2 - t1;
		for (j = 0; j < nb; j++) {
			const struct prog *pp = &batch[j];

			progs[pp->mode]++;
			for (i = 0; i < kvm[j].n; i++) {
				const struct xrec *x = &kvm[j].x[i];

				kinds[x->kind]++;
				if (x->kind == X_IO)
					x->dir ? io_in++ : io_out++;
				if (x->kind == X_FAULT)
					x->dir ? faults_w++ : faults_r++;
			}
			if (!only_kvm) {
				double t3 = now_s();

				memset(&ours, 0, sizeof(ours));
				if (epm_side(pp, &ours))
					return 2;
				to += now_s() - t3;
				if (compare(pp, &ours, &kvm[j])) {
					bad[pp->mode]++;
					report(pp, &ours, &kvm[j]);
				}
				release(pp, &ours);
				kreports += kernel_reports(pp, "ours");
			}
			release(pp, &kvm[j]);
		}
	}
	printf("kvm-diff: %lu programs (real %lu, prot32 %lu, long64 %lu), "
	       "%lu divergent (real %lu, prot32 %lu, long64 %lu)\n",
	       progs[0] + progs[1] + progs[2], progs[0], progs[1], progs[2],
	       bad[0] + bad[1] + bad[2], bad[0], bad[1], bad[2]);
	printf("kvm-diff: KVM exits: %lu IO out, %lu IO in, %lu HLT, "
	       "%lu faults (%lu reads, %lu writes), %lu shutdowns, %lu timeouts, "
	       "%lu other\n", io_out, io_in, kinds[X_HLT], kinds[X_FAULT],
	       faults_r, faults_w, kinds[X_SHUTDOWN], kinds[X_TIMEOUT],
	       kinds[X_OTHER] + kinds[X_ERROR]);
	printf("kvm-diff: %.1f s (KVM side %.1f s, ours %.1f s), %d kernel reports\n",
	       now_s() - t0, tk, to, kreports);
	i = bad[0] + bad[1] + bad[2] || kreports;
	printf("kvm-diff: %s\n", i ? "FAIL" : "PASS");
	return i;
}
