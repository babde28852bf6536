/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * ept-pmap: a guest-physical address space built as x86-64 page tables
 * (KPT) and Intel EPT tables in lockstep, driven through /dev/ept-pmap.
 *
 * Each open file of /dev/ept-pmap is one address space, empty at open
 * (open fails with ENOMEM when its root table cannot be allocated).
 * Closing the file unmaps everything, unpins every page and frees every
 * table. Calls on one file are serialised; different files are independent.
 *
 * Conventions for every command:
 *  - All structures have fixed-width fields, explicit padding and reserved
 *    space. Padding and reserved fields must be zero on input and are zero
 *    on output; unknown flag bits are rejected. Both fail with EINVAL.
 *  - Pointers travel as __u64. A bad pointer fails with EFAULT.
 *  - A command either does all it was asked or changes nothing.
 *  - Guest-physical addresses (gpa) are 48 bits: 4 KiB aligned, sizes a
 *    non-zero multiple of 4 KiB, gpa + size <= 2^48; else EINVAL.
 *  - Host-physical addresses (in QUERY, DUMP, CHECK, EPTP) are shown only
 *    through a file opened by a process with CAP_SYS_ADMIN (in the initial
 *    user namespace), decided once at open() from the opener's
 *    credentials, as /proc/PID/pagemap does: whoever later calls on the
 *    file (a fork child, a process it was passed to with SCM_RIGHTS, the
 *    opener after dropping the capability) sees what the opener would,
 *    and a privileged caller sees no more through a file opened without
 *    the capability. Otherwise they read as zero (address bits 51:12 of
 *    every table entry included) and EPTP fails with EPERM.
 *  - Unknown commands fail with ENOTTY.
 *
 * Pinned memory:
 *	Every page MAP pins stays pinned until UNMAP or the last close() of
 *	the file, whatever happens to the process that mapped it: the file
 *	may outlive it (a fork child or an SCM_RIGHTS receiver keeps it, or
 *	the opener execs without O_CLOEXEC). So the pins are charged to the
 *	user (real uid) that opened the file, which lives as long as the
 *	file, not to its mm: the user's sum of such pins (user_struct
 *	locked_vm, shared with io_uring's registered buffers) must stay
 *	within the RLIMIT_MEMLOCK of the process calling MAP, unless it has
 *	CAP_IPC_LOCK; UNMAP and close() give the charge back, each page
 *	exactly once. While the opener's mm lives the pages also show in
 *	its VmPin (/proc/PID/status), not in VmLck.
 *
 * Commands:
 *
 * EPM_IOC_VERSION
 *	Returns EPM_API_VERSION as the ioctl's return value.
 *
 * EPM_IOC_CAPS (struct epm_caps, out)
 *	What this CPU offers, decoded (EPM_CAP_*) and raw (VMX MSRs, CPUID).
 *	Works on any CPU. map_sizes tells which leaf sizes MAP can build.
 *
 * EPM_IOC_MAP (struct epm_map, in)
 *	Map [gpa, gpa + size) to the caller's memory at uaddr (page aligned,
 *	anonymous or hugetlbfs memory of this process). The pages are pinned
 *	(with write access when EPM_PERM_W is asked) and charged as below
 *	("Pinned memory"). Leaves are the largest that alignment, physical
 *	contiguity, max_page and the CPU allow. A fatal signal stops a long
 *	MAP within a few thousand pages, with nothing mapped, pinned or
 *	charged (EINTR). Errors: EEXIST (part of the range is mapped), ENOMEM
 *	(out of memory or over RLIMIT_MEMLOCK), EFAULT (uaddr not mapped, or not
 *	writable when W is asked), EOPNOTSUPP (file-backed or I/O memory,
 *	execute-only without CPU support), EINVAL (bad range, perm W without
 *	R, no permission, bad memtype or max_page), EPERM (a process other
 *	than the one that opened the file).
 *
 * EPM_IOC_UNMAP (struct epm_range, in; perm must be 0)
 *	Unmap whatever is mapped in [gpa, gpa + size); holes are fine. Jumbo
 *	leaves cut by the range are split first (ENOMEM if that fails, with
 *	nothing changed). Emptied tables are freed, pages unpinned.
 *
 * EPM_IOC_PROTECT (struct epm_range, in; perm = new EPM_PERM_*)
 *	Change the permissions of a fully mapped range, splitting jumbos at
 *	the edges. ENOENT if any part is unmapped; EACCES when adding W to
 *	memory that was mapped without W (its pages are not pinned writable).
 *
 * EPM_IOC_QUERY (struct epm_query, in: gpa, flags; out: the rest)
 *	Walk one gpa (any byte address below 2^48, no alignment needed)
 *	through both halves. Returns 0 whether mapped or not:
 *	level is the leaf level (1: 4K, 2: 2M, 3: 1G) or 0 if unmapped, and
 *	kpte[]/epte[] hold the entries walked, indexed by level - 1.
 *
 * EPM_IOC_DUMP (struct epm_dump, in/out)
 *	Copy present entries, parents before children in gpa order, into
 *	the user array buf of count struct epm_dump_entry; count comes back
 *	as the number written. cursor: 0 to begin; on return, where to go on,
 *	or EPM_DUMP_DONE when every entry was written. With EPM_DUMP_LEAVES
 *	only leaves are written. The entries are gathered with the space
 *	locked a few dozen at a time and copied out with it unlocked, so a
 *	buffer that faults slowly holds up no other call; calls that change
 *	the space meanwhile may show in later entries, as between two DUMPs.
 *	ENOMEM when its bounce buffer cannot be allocated.
 *
 * EPM_IOC_CHECK (struct epm_check, in: flags; out: the rest)
 *	Verify the lockstep invariant over the whole space; mismatches is
 *	their number, the first is described by why/level/gpa/kpte/epte.
 *
 * EPM_IOC_EPTP (struct epm_eptp, in: flags; out: eptp, kpt_root)
 *	The EPT pointer (WB, 4-level walk, A/D enable with EPM_EPTP_AD) and
 *	the KPT root's physical address (AMD nested CR3). Only through a file
 *	opened with CAP_SYS_ADMIN, else EPERM; EPM_EPTP_AD without
 *	EPM_CAP_EPT_AD: EOPNOTSUPP.
 *
 * EPM_IOC_STATS (struct epm_stats, out)
 *	Table pairs and bytes, bytes mapped per leaf size, pinned pages,
 *	TLB flushes, runs and exits.
 *
 * EPM_IOC_RUN (struct epm_run, in/out)
 *	Run a guest on this address space (the EPT half, through VMX) on the
 *	calling thread until the first exit the kernel does not handle, at
 *	most timeout_ns of wall-clock time, and describe that exit. Each RUN
 *	starts the guest afresh from mode and regs: segments flat (base 0),
 *	guest GDT and IDT empty, x87 and SSE enabled (CR0.MP|NE|ET,
 *	CR4.OSFXSR|OSXMMEXCPT), rflags with its reserved bits and VM cleared
 *	and bit 1 set.
 *	  PROT32 (default): 32-bit protected mode, paging off, so every
 *	    access goes straight through the EPT; cr3 must be 0.
 *	  REAL: 16-bit real mode, all selectors 0; cr3 must be 0.
 *	  LONG64: 64-bit mode, CR0.PG|WP, CR4.PAE, EFER.LME|LMA, with cr3 the
 *	    gpa of a PML4 the caller built in guest memory.
 *	The guest cannot change CR0/CR4, MSRs or debug registers: such
 *	instructions, CPUID, INVD, WBINVD, MONITOR, MWAIT, RDPMC and the like
 *	end the run as EPM_EXIT_OTHER with the raw exit_reason and rip on the
 *	instruction. Exceptions end it as EPM_EXIT_EXCEPTION (rip on
 *	the faulting instruction) unless EPM_RUN_GUEST_EXC lets them go
 *	through the guest's (empty) IDT, which ends in a triple fault; a
 *	machine check is always the host's (handled there, the guest goes on)
 *	and never reaches the guest or the exit record.
 *	What RUN keeps of the guest besides regs (its "vCPU state"), from one
 *	RUN to the next on the same file, as a vCPU would: the x87/SSE/AVX
 *	registers (MXCSR included), CR2 and CR8. The first RUN on a file, and
 *	a RUN with EPM_RUN_RESET, starts them in their INIT state: x87 as
 *	after FNINIT (FCW 0x37f), MXCSR 0x1f80, all data registers zero, CR2
 *	0, CR8 0. The guest never sees the host's FPU registers or CR2, and
 *	CR8 (64-bit mode only) reads and writes that value, not the local
 *	APIC's TPR; a CR8 write with bits 63:4 set ends the run as
 *	EPM_EXIT_OTHER (exit_reason 28). Host breakpoints (DR7) and
 *	IA32_DEBUGCTL do not apply in the guest.
 *	After HLT, VMCALL and non-string port I/O exits, regs.rip points
 *	after the instruction, so RUN with the returned struct resumes the
 *	guest (for an IN, put the data into regs.rax first); string and REP
 *	I/O are reported with rip left on the instruction and io_data 0. The
 *	out fields are ignored on input. STATS counts every RUN that reached
 *	the guest and its exit kind, and the INVEPTs done for this space
 *	(one on each CPU's first entry, and one on each CPU's next entry
 *	after an UNMAP or PROTECT; none otherwise).
 *	Errors: ENODEV (no usable VMX, EPT, unrestricted guest or preemption
 *	timer; CAPS has no EPM_CAP_RUN), EBUSY (VMX is in use by another
 *	hypervisor such as kvm_intel, or another thread is in RUN on this
 *	file), EINTR (a signal arrived: exit_kind EPM_EXIT_INTR and the
 *	registers are written back), EPERM (another process), EINVAL,
 *	ENOMEM (the first RUN on a file allocates its VMCS), EIO (VMXON,
 *	VMCLEAR or VMPTRLD failed on this CPU).
 */
#ifndef _UAPI_LINUX_EPT_PMAP_H
#define _UAPI_LINUX_EPT_PMAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define EPM_API_VERSION		1
#define EPM_DEVICE_NAME		"ept-pmap"

/* Permissions (MAP flags, PROTECT perm, QUERY perm) */
#define EPM_PERM_R		0x1u
#define EPM_PERM_W		0x2u
#define EPM_PERM_X		0x4u
#define EPM_PERM_ALL		(EPM_PERM_R | EPM_PERM_W | EPM_PERM_X)

/* MAP flags, beside the permissions */
#define EPM_MAP_IPAT		0x100u	/* EPT: ignore the guest's PAT */
#define EPM_MAP_AD		0x200u	/* leaves born accessed (and dirty if W) */
#define EPM_MAP_ALL		(EPM_PERM_ALL | EPM_MAP_IPAT | EPM_MAP_AD)

/* Memory types (MAP memtype, QUERY memtype); zero is WB */
#define EPM_MEMTYPE_WB		0
#define EPM_MEMTYPE_UC		1
#define EPM_MEMTYPE_WC		2
#define EPM_MEMTYPE_WT		3
#define EPM_MEMTYPE_WP		4

/* Leaf sizes (MAP max_page; 0 is the largest the CPU allows) */
#define EPM_PAGE_4K		1
#define EPM_PAGE_2M		2
#define EPM_PAGE_1G		3

/* CAPS flags */
#define EPM_CAP_VMX		(1ULL << 0)	/* CPUID says VMX */
#define EPM_CAP_VMX_ON		(1ULL << 1)	/* enabled by firmware/kernel */
#define EPM_CAP_EPT		(1ULL << 2)
#define EPM_CAP_EPT_X_ONLY	(1ULL << 3)	/* execute-only leaves */
#define EPM_CAP_EPT_2M		(1ULL << 4)
#define EPM_CAP_EPT_1G		(1ULL << 5)
#define EPM_CAP_EPT_AD		(1ULL << 6)	/* accessed/dirty flags */
#define EPM_CAP_EPT_WB		(1ULL << 7)	/* WB paging structures */
#define EPM_CAP_EPT_WALK4	(1ULL << 8)	/* 4-level walks */
#define EPM_CAP_INVEPT		(1ULL << 9)
#define EPM_CAP_INVEPT_SINGLE	(1ULL << 10)
#define EPM_CAP_INVEPT_ALL	(1ULL << 11)
#define EPM_CAP_VPID		(1ULL << 12)
#define EPM_CAP_UNRESTRICTED	(1ULL << 13)	/* unrestricted guest */
#define EPM_CAP_PREEMPT_TIMER	(1ULL << 14)
#define EPM_CAP_SVM		(1ULL << 15)
#define EPM_CAP_NPT		(1ULL << 16)
#define EPM_CAP_HOST_1G		(1ULL << 17)	/* pdpe1gb */
#define EPM_CAP_RUN		(1ULL << 18)	/* RUN can launch guests */

struct epm_caps {
	__u32 api_version;
	__u32 maxphyaddr;	/* CPUID 0x80000008 EAX[7:0] */
	__u64 flags;		/* EPM_CAP_* */
	__u32 map_sizes;	/* bit (1 << EPM_PAGE_*) per leaf size */
	__u32 svm_features;	/* CPUID 0x8000000a EDX, 0 without SVM */
	__u64 vmx_basic;	/* raw MSRs, 0 without VMX */
	__u64 vmx_procbased2;	/* IA32_VMX_PROCBASED_CTLS2 */
	__u64 vmx_ept_vpid_cap;	/* IA32_VMX_EPT_VPID_CAP */
	__u64 vmx_misc;		/* IA32_VMX_MISC */
	__u64 feature_control;	/* IA32_FEATURE_CONTROL */
	__u64 reserved[6];
};

struct epm_map {
	__u64 gpa;
	__u64 size;
	__u64 uaddr;		/* user memory, page aligned */
	__u32 flags;		/* EPM_PERM_* | EPM_MAP_* */
	__u8 memtype;		/* EPM_MEMTYPE_* */
	__u8 max_page;		/* EPM_PAGE_*, or 0 */
	__u16 pad;
	__u64 reserved[2];
};

struct epm_range {
	__u64 gpa;
	__u64 size;
	__u32 perm;		/* PROTECT: new EPM_PERM_*; UNMAP: 0 */
	__u32 pad;
	__u64 reserved;
};

struct epm_query {
	__u64 gpa;		/* in */
	__u32 flags;		/* in: 0 */
	__u32 level;		/* leaf level, 0 when unmapped */
	__u64 kpte[4];		/* [level - 1]: entry walked, or 0 */
	__u64 epte[4];
	__u64 hpa;		/* host-physical address of gpa */
	__u64 page_size;	/* bytes the leaf maps */
	__u32 perm;		/* EPM_PERM_* of the EPT leaf */
	__u32 kpt_perm;		/* EPM_PERM_* of the KPT leaf (R always) */
	__u8 memtype;		/* EPM_MEMTYPE_* */
	__u8 pad[3];
	__u32 map_flags;	/* EPM_MAP_IPAT of the leaf */
	__u64 reserved[2];
};

#define EPM_DUMP_LEAVES		0x1u
#define EPM_DUMP_ALL		EPM_DUMP_LEAVES
#define EPM_DUMP_DONE		(~0ULL)

struct epm_dump_entry {
	__u64 gpa;		/* first gpa the entry covers */
	__u64 kpte;
	__u64 epte;
	__u32 level;		/* 4 (PML4E) .. 1 (PTE) */
	__u32 leaf;		/* 1: maps a page; 0: points at a table */
};

struct epm_dump {
	__u64 buf;		/* struct epm_dump_entry[count] */
	__u32 count;		/* in: room; out: entries written */
	__u32 flags;		/* EPM_DUMP_* */
	__u64 cursor;		/* in: 0 or a returned cursor */
	__u64 reserved[2];
};

/* CHECK why */
#define EPM_MISMATCH_NONE		0
#define EPM_MISMATCH_PRESENT		1	/* present in one half only */
#define EPM_MISMATCH_KIND		2	/* leaf in one half, table in other */
#define EPM_MISMATCH_TABLE		3	/* intermediate bits or address */
#define EPM_MISMATCH_LEAF		4	/* leaf bits do not correspond */
#define EPM_MISMATCH_LEVEL		5	/* leaf where none may be */
#define EPM_MISMATCH_EMPTY		6	/* an empty table other than root */
#define EPM_MISMATCH_COUNT		7	/* counters disagree with tables */

struct epm_check {
	__u32 flags;		/* in: 0 */
	__u32 why;		/* EPM_MISMATCH_* of the first one */
	__u64 mismatches;
	__u64 gpa;
	__u64 kpte;
	__u64 epte;
	__u32 level;
	__u32 pad;
	__u64 reserved[2];
};

#define EPM_EPTP_AD		0x1u
#define EPM_EPTP_ALL		EPM_EPTP_AD

struct epm_eptp {
	__u32 flags;		/* in: EPM_EPTP_* */
	__u32 pad;
	__u64 eptp;
	__u64 kpt_root;
	__u64 reserved[2];
};

/* RUN exit kinds; also the index of STATS exits[] */
#define EPM_EXIT_NONE		0
#define EPM_EXIT_HLT		1
#define EPM_EXIT_VMCALL		2
#define EPM_EXIT_IO		3	/* port, io_size, io_in, io_data */
#define EPM_EXIT_EPT_VIOLATION	4	/* gpa, access (EPM_PERM_*) */
#define EPM_EXIT_EPT_MISCONFIG	5	/* gpa */
#define EPM_EXIT_EXCEPTION	6	/* vector, error_code */
#define EPM_EXIT_TRIPLE_FAULT	7
#define EPM_EXIT_TIMEOUT	8	/* timeout_ns ran out */
#define EPM_EXIT_ENTRY_FAIL	9	/* entry_error */
#define EPM_EXIT_INTR		10	/* a signal; RUN returns EINTR */
#define EPM_EXIT_OTHER		11	/* see exit_reason (CPUID, MSR, ...) */
#define EPM_EXIT_KINDS		16

#define EPM_MODE_PROT32		0
#define EPM_MODE_REAL		1
#define EPM_MODE_LONG64		2

#define EPM_RUN_GUEST_EXC	0x1u	/* exceptions go to the guest's IDT */
#define EPM_RUN_RESET		0x2u	/* vCPU state back to INIT first */
#define EPM_RUN_ALL		(EPM_RUN_GUEST_EXC | EPM_RUN_RESET)

struct epm_regs {
	__u64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	__u64 r8, r9, r10, r11, r12, r13, r14, r15;
	__u64 rip, rflags;	/* rflags bit 1 is forced on */
};

struct epm_run {
	/* in */
	__u32 flags;		/* EPM_RUN_* */
	__u32 mode;		/* EPM_MODE_* */
	__u64 timeout_ns;	/* wall-clock limit, 1 ns .. 60 s */
	__u64 cr3;		/* LONG64: gpa of the guest's PML4 */
	/* in and out */
	struct epm_regs regs;
	/* out */
	__u32 exit_kind;	/* EPM_EXIT_* */
	__u32 exit_reason;	/* raw VMX exit reason */
	__u64 exit_qual;	/* raw exit qualification */
	__u64 gpa;		/* EPT violation / misconfiguration */
	__u32 access;		/* EPT violation: EPM_PERM_* of the access */
	__u32 vector;		/* exception vector */
	__u32 error_code;	/* exception error code, if it has one */
	__u16 port;		/* port I/O */
	__u8 io_size;		/* 1, 2 or 4 */
	__u8 io_in;		/* 1: IN, 0: OUT */
	__u64 io_data;		/* OUT: the data */
	__u32 entry_error;	/* VM-instruction error or entry-fail reason */
	__u32 io_flags;		/* EPM_IO_STRING, EPM_IO_REP */
	__u64 reserved[4];
};

#define EPM_IO_STRING		0x1u
#define EPM_IO_REP		0x2u

struct epm_stats {
	__u64 table_pairs;	/* root included */
	__u64 table_bytes;	/* table_pairs * 8192 */
	__u64 mapped_4k;	/* bytes mapped by 4K leaves */
	__u64 mapped_2m;
	__u64 mapped_1g;
	__u64 pinned_pages;	/* 4 KiB pages pinned */
	__u64 flushes;		/* TLB invalidations asked for */
	__u64 runs;
	__u64 exits[EPM_EXIT_KINDS];
	__u64 invepts;		/* INVEPTs done for this space, all CPUs */
	__u64 reserved[3];
};

#define EPM_IOC_MAGIC		0xE7

#define EPM_IOC_VERSION		_IO(EPM_IOC_MAGIC, 0x00)
#define EPM_IOC_CAPS		_IOR(EPM_IOC_MAGIC, 0x01, struct epm_caps)
#define EPM_IOC_MAP		_IOW(EPM_IOC_MAGIC, 0x02, struct epm_map)
#define EPM_IOC_UNMAP		_IOW(EPM_IOC_MAGIC, 0x03, struct epm_range)
#define EPM_IOC_PROTECT		_IOW(EPM_IOC_MAGIC, 0x04, struct epm_range)
#define EPM_IOC_QUERY		_IOWR(EPM_IOC_MAGIC, 0x05, struct epm_query)
#define EPM_IOC_DUMP		_IOWR(EPM_IOC_MAGIC, 0x06, struct epm_dump)
#define EPM_IOC_CHECK		_IOWR(EPM_IOC_MAGIC, 0x07, struct epm_check)
#define EPM_IOC_EPTP		_IOWR(EPM_IOC_MAGIC, 0x08, struct epm_eptp)
#define EPM_IOC_STATS		_IOR(EPM_IOC_MAGIC, 0x09, struct epm_stats)
#define EPM_IOC_RUN		_IOWR(EPM_IOC_MAGIC, 0x0a, struct epm_run)

#endif /* _UAPI_LINUX_EPT_PMAP_H */
