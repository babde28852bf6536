// SPDX-License-Identifier: GPL-2.0
/*
 * The VMX launcher: RUN a guest on an address space's EPT half.
 *
 * Design: VMX is entered and left once per *slice*. A slice runs with
 * interrupts off and the space's lock held: VMXON on this CPU, VMPTRLD the
 * space's VMCS, enter the guest (again and again while only exits the
 * kernel handles itself happen), then VMCLEAR and VMXOFF. Interrupts are
 * never enabled in VMX operation: an external interrupt or an NMI ends the
 * slice, VMX is left, and only then does the host take it. So a CPU that
 * the kernel stops (reboot or kexec IPI) is never left in VMX operation,
 * which would block INIT and the next kernel could not start it. Between
 * slices the thread may sleep, migrate or take a signal, nothing has to
 * follow it around, and another hypervisor (kvm_intel) is never surprised
 * by us. A slice lasts at most EPM_SLICE_NS, bounded by the VMX
 * preemption timer.
 *
 * Holding the space's lock during a slice is what keeps the guest safe
 * from UNMAP and PROTECT: they wait for the slice to end, change the
 * tables, and bump sp->flushes; the next slice on each CPU sees a newer
 * generation and does INVEPT before entering. Pages are unpinned by UNMAP
 * only while no guest of this space runs anywhere.
 *
 * What the guest must never see or change of the host (each written down
 * where it is done): the local APIC's TPR (CR8 accesses exit and are
 * emulated against the vCPU's own value), CR2, the FPU/SSE registers of
 * whatever ran before (the vCPU has its own FPU image, swapped in for the
 * whole RUN like KVM's), DR7 and IA32_DEBUGCTL (loaded from and saved to
 * the VMCS), WBINVD, MONITOR/MWAIT and RDPMC (they exit), machine checks
 * (always the host's), and the predictors and buffers the kernel's
 * speculation mitigations protect (vmx_entry.S, epm_vmx_mitigate()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/percpu.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <asm/debugreg.h>
#include <asm/desc.h>
#include <asm/fpu/api.h>
#include <asm/mce.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>
#include <asm/trapnr.h>
#include <asm/tsc.h>
#include <asm/vmx.h>

#include "main.h"
#include "vmx.h"
#include "trace.h"
#include "vmx_regs.h"

/* the guest FPU image uses the API the kernel exports for KVM only */
#if !IS_ENABLED(CONFIG_KVM)
#error "ept_pmap's launcher needs a kernel built with CONFIG_KVM (y or m)"
#endif

#define EPM_SLICE_NS		(2 * NSEC_PER_MSEC)
#define EPM_RUN_MAX_NS		(60 * NSEC_PER_SEC)
#define EPM_GUEST_PAT		0x0007040600070406ULL	/* reset value */
#define EPM_RFLAGS_OK		0x3f7fd5ULL	/* bits software may set */
#define EPM_CR4_VMXE		X86_CR4_VMXE
#define EPM_DR7_RESET		0x400ULL	/* DR7 after reset: bit 10 */
#define EPM_L1D_FLUSH_SIZE	(64 * 1024)	/* twice any L1D so far */

/* CR-access exit qualification (SDM Vol. 3C, Table 28-3) */
#define EPM_CRQ_NUM(q)		((q) & 0xf)
#define EPM_CRQ_TYPE(q)		(((q) >> 4) & 3)	/* 0: mov to CR */
#define EPM_CRQ_GPR(q)		(((q) >> 8) & 0xf)

/* vmx_entry.S reads struct epm_regs at these offsets */
static_assert(offsetof(struct epm_regs, rax) == EPM_R_RAX);
static_assert(offsetof(struct epm_regs, rbx) == EPM_R_RBX);
static_assert(offsetof(struct epm_regs, rcx) == EPM_R_RCX);
static_assert(offsetof(struct epm_regs, rdx) == EPM_R_RDX);
static_assert(offsetof(struct epm_regs, rsi) == EPM_R_RSI);
static_assert(offsetof(struct epm_regs, rdi) == EPM_R_RDI);
static_assert(offsetof(struct epm_regs, rsp) == EPM_R_RSP);
static_assert(offsetof(struct epm_regs, rbp) == EPM_R_RBP);
static_assert(offsetof(struct epm_regs, r8) == EPM_R_R8);
static_assert(offsetof(struct epm_regs, r9) == EPM_R_R9);
static_assert(offsetof(struct epm_regs, r10) == EPM_R_R10);
static_assert(offsetof(struct epm_regs, r11) == EPM_R_R11);
static_assert(offsetof(struct epm_regs, r12) == EPM_R_R12);
static_assert(offsetof(struct epm_regs, r13) == EPM_R_R13);
static_assert(offsetof(struct epm_regs, r14) == EPM_R_R14);
static_assert(offsetof(struct epm_regs, r15) == EPM_R_R15);
static_assert(EPM_VMCS_HOST_RSP == HOST_RSP);

/*
 * The launcher's state of one address space, made by its first RUN: what
 * a vCPU has of its own (the guest state RUN does not take from struct
 * epm_run) and the bookkeeping of the CPUs it ran on.
 */
struct epm_vmx {
	void *vmcs;			/* VMCS region, VMCLEARed when idle */
	u64 *cpu_gen;			/* [cpu]: sp->flushes + 1 at last INVEPT */
	u64 id;				/* never reused: IBPB between owners */
	u64 invepts;			/* INVEPTs done for this space */
	struct fpu_guest fpu;		/* the guest's x87/SSE/AVX registers */
	u64 cr2;			/* the guest's CR2 */
	u64 cr8;			/* the guest's TPR as CR8 shows it */
};

/* What every VMCS gets, computed once from the capability MSRs. */
static struct {
	u32 revision;
	u32 pin, proc, proc2, exit, entry;
	u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	u32 timer_shift;
	bool invept_single;
	bool l1d_flush;		/* the CPU has L1TF and no skip hint */
	void *l1d_buf;		/* software L1D flush without FLUSH_CMD */
} epm_vmcs_conf;

static DEFINE_PER_CPU(void *, epm_vmxon_region);
/* epm_vmx.id of the last space whose guest ran on this CPU */
static DEFINE_PER_CPU(u64, epm_last_space);
static atomic64_t epm_space_ids = ATOMIC64_INIT(0);

static inline bool epm_vmwrite(unsigned long field, unsigned long val)
{
	bool fail;

	asm volatile("vmwrite %[val], %[field]"
		     CC_SET(na)
		     : CC_OUT(na) (fail)
		     : [field] "r" (field), [val] "rm" (val)
		     : "cc");
	return !fail;
}

static inline unsigned long epm_vmread(unsigned long field)
{
	unsigned long val = 0;

	asm volatile("vmread %[field], %[val]"
		     : [val] "=rm" (val)
		     : [field] "r" (field)
		     : "cc");
	return val;
}

static inline bool epm_vmclear(u64 pa)
{
	bool fail;

	asm volatile("vmclear %[pa]" CC_SET(na)
		     : CC_OUT(na) (fail) : [pa] "m" (pa) : "cc", "memory");
	return !fail;
}

static inline bool epm_vmptrld(u64 pa)
{
	bool fail;

	asm volatile("vmptrld %[pa]" CC_SET(na)
		     : CC_OUT(na) (fail) : [pa] "m" (pa) : "cc", "memory");
	return !fail;
}

/*
 * VMXON: 0, -EIO when it fails (VMfail), -ENODEV when it faults: #GP
 * when firmware left IA32_FEATURE_CONTROL unlocked or VMX off on this CPU
 * (or TXT wants otherwise), which the exception table turns into a return
 * here instead of an oops.
 */
static inline int epm_vmxon(u64 pa)
{
	int fault = 1;
	u8 fail = 0;

	/* a fault resumes at 2: with fault still 1 */
	asm volatile("1: vmxon %[pa]\n\t"
		     "setna %[fail]\n\t"
		     "xorl %[fault], %[fault]\n\t"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [fail] "+q" (fail), [fault] "+r" (fault)
		     : [pa] "m" (pa) : "cc", "memory");
	if (fault)
		return -ENODEV;
	return fail ? -EIO : 0;
}

static inline void epm_vmxoff(void)
{
	asm volatile("vmxoff" ::: "cc", "memory");
}

static inline void epm_invept(unsigned long type, u64 eptp)
{
	struct {
		u64 eptp;
		u64 zero;
	} desc = { eptp, 0 };

	asm volatile("invept %[desc], %[type]"
		     :: [desc] "m" (desc), [type] "r" (type) : "cc", "memory");
}

/*
 * Settle @want against a VMX control MSR: bits the CPU insists on are
 * added; returns false when a wanted bit is not allowed.
 */
static bool epm_ctl(u32 msr, u32 want, u32 *out)
{
	u64 v;

	if (rdmsrl_safe(msr, &v))
		return false;
	*out = (want | (u32)v) & (u32)(v >> 32);
	return (*out & want) == want;
}

/*
 * The controls every guest runs with. Besides what RUN reports (HLT, I/O,
 * EPT), these exit because the guest must not reach host state through
 * them, as KVM makes them exit: CR8 (the physical TPR: a guest writing 15
 * would mask the host's timer and IPIs), MOV DR, MONITOR/MWAIT (a C-state
 * can stop the preemption timer), RDPMC (the host's counters), WBINVD
 * (stalls every core sharing the cache). All MSR accesses exit (no MSR
 * bitmap). DR7 and IA32_DEBUGCTL are loaded and saved on every crossing,
 * so host breakpoints and LBRs never apply to the guest.
 */
static bool epm_vmcs_setup(void)
{
	u64 basic = epm_caps.vmx_basic, misc = epm_caps.vmx_misc;
	bool tru = basic & BIT_ULL(55);
	u32 proc2_msr = MSR_IA32_VMX_PROCBASED_CTLS2;
	u32 entry64;

	epm_vmcs_conf.revision = basic & 0x7fffffff;
	epm_vmcs_conf.timer_shift = misc & 0x1f;	/* IA32_VMX_MISC 4:0 */
	epm_vmcs_conf.invept_single = epm_caps.flags & EPM_CAP_INVEPT_SINGLE;
	if (((basic >> 32) & 0x1fff) > PAGE_SIZE)
		return false;
	if (rdmsrl_safe(MSR_IA32_VMX_CR0_FIXED0, &epm_vmcs_conf.cr0_fixed0) ||
	    rdmsrl_safe(MSR_IA32_VMX_CR0_FIXED1, &epm_vmcs_conf.cr0_fixed1) ||
	    rdmsrl_safe(MSR_IA32_VMX_CR4_FIXED0, &epm_vmcs_conf.cr4_fixed0) ||
	    rdmsrl_safe(MSR_IA32_VMX_CR4_FIXED1, &epm_vmcs_conf.cr4_fixed1))
		return false;
	return epm_ctl(tru ? MSR_IA32_VMX_TRUE_PINBASED_CTLS :
		       MSR_IA32_VMX_PINBASED_CTLS,
		       PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING |
		       PIN_BASED_VMX_PREEMPTION_TIMER, &epm_vmcs_conf.pin) &&
	       epm_ctl(tru ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS :
		       MSR_IA32_VMX_PROCBASED_CTLS,
		       CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING |
		       CPU_BASED_MOV_DR_EXITING |
		       CPU_BASED_CR8_LOAD_EXITING |
		       CPU_BASED_CR8_STORE_EXITING |
		       CPU_BASED_MWAIT_EXITING | CPU_BASED_MONITOR_EXITING |
		       CPU_BASED_RDPMC_EXITING |
		       CPU_BASED_ACTIVATE_SECONDARY_CONTROLS,
		       &epm_vmcs_conf.proc) &&
	       epm_ctl(proc2_msr, SECONDARY_EXEC_ENABLE_EPT |
		       SECONDARY_EXEC_UNRESTRICTED_GUEST |
		       SECONDARY_EXEC_WBINVD_EXITING, &epm_vmcs_conf.proc2) &&
	       epm_ctl(tru ? MSR_IA32_VMX_TRUE_EXIT_CTLS :
		       MSR_IA32_VMX_EXIT_CTLS,
		       VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_LOAD_IA32_PAT |
		       VM_EXIT_LOAD_IA32_EFER | VM_EXIT_SAVE_DEBUG_CONTROLS,
		       &epm_vmcs_conf.exit) &&
	       epm_ctl(tru ? MSR_IA32_VMX_TRUE_ENTRY_CTLS :
		       MSR_IA32_VMX_ENTRY_CTLS,
		       VM_ENTRY_LOAD_IA32_PAT | VM_ENTRY_LOAD_IA32_EFER |
		       VM_ENTRY_LOAD_DEBUG_CONTROLS,
		       &epm_vmcs_conf.entry) &&
	       epm_ctl(tru ? MSR_IA32_VMX_TRUE_ENTRY_CTLS :
		       MSR_IA32_VMX_ENTRY_CTLS,
		       epm_vmcs_conf.entry | VM_ENTRY_IA32E_MODE, &entry64);
}

/*
 * L1TF: a guest that owns page tables can make the CPU read any host
 * line in L1D through a non-present guest PTE, so on affected CPUs L1D
 * is flushed before entry unless the CPU says entry does it already
 * (ARCH_CAP_SKIP_VMENTRY_L1DFLUSH, set for nested hypervisors too).
 */
static bool epm_l1d_setup(void)
{
	u64 arch = 0;

	if (!boot_cpu_has_bug(X86_BUG_L1TF))
		return true;
	if (boot_cpu_has(X86_FEATURE_ARCH_CAPABILITIES))
		rdmsrl_safe(MSR_IA32_ARCH_CAPABILITIES, &arch);
	if (arch & ARCH_CAP_SKIP_VMENTRY_L1DFLUSH)
		return true;
	if (!boot_cpu_has(X86_FEATURE_FLUSH_L1D)) {
		struct page *p = alloc_pages(GFP_KERNEL | __GFP_ZERO,
					     get_order(EPM_L1D_FLUSH_SIZE));

		if (!p)
			return false;
		epm_vmcs_conf.l1d_buf = page_address(p);
	}
	epm_vmcs_conf.l1d_flush = true;
	return true;
}

/* l1tf=off? The kernel exports its choice for kvm_intel only. */
#if IS_ENABLED(CONFIG_KVM_INTEL)
static bool epm_l1tf_off(void)
{
	return l1tf_mitigation == L1TF_MITIGATION_OFF;
}
#else
static bool epm_l1tf_off(void)
{
	return false;	/* not known: flush as the default l1tf=flush does */
}
#endif

/*
 * Before entry: flush L1D on L1TF CPUs when the kernel's l1tf= mitigation
 * asks for it, and always before a LONG64 guest, the only mode in which
 * the guest has page tables of its own to aim with.
 */
static void epm_l1d_flush(u32 mode)
{
	const u8 *buf = epm_vmcs_conf.l1d_buf;
	unsigned int i;

	if (!epm_vmcs_conf.l1d_flush ||
	    (mode != EPM_MODE_LONG64 && epm_l1tf_off()))
		return;
	if (!buf) {
		native_wrmsrl(MSR_IA32_FLUSH_CMD, L1D_FLUSH);
		return;
	}
	/* the TLB first, so that the line fills below are not page walks */
	for (i = 0; i < EPM_L1D_FLUSH_SIZE; i += PAGE_SIZE)
		READ_ONCE(buf[i]);
	for (i = 0; i < EPM_L1D_FLUSH_SIZE; i += L1_CACHE_BYTES)
		READ_ONCE(buf[i]);
}

/*
 * After every exit, before the first unbalanced RET (vmx_entry.S): with
 * legacy IBRS the kernel relies on a fresh SPEC_CTRL write on each entry
 * to the kernel, and a VM exit is one. The guest cannot write SPEC_CTRL
 * (every WRMSR exits), so the host's value is still in it otherwise.
 */
void epm_vmx_spec_ctrl_host(void)
{
	if (cpu_feature_enabled(X86_FEATURE_KERNEL_IBRS))
		native_wrmsrl(MSR_IA32_SPEC_CTRL,
			      this_cpu_read(x86_spec_ctrl_current));
	barrier_nospec();
}

/* One line at load: which mitigation paths this kernel made RUN take. */
static void epm_mitigations_log(void)
{
	const char *l1d = "off";

	if (epm_vmcs_conf.l1d_flush && epm_l1tf_off())
		l1d = epm_vmcs_conf.l1d_buf ? "software (LONG64 only)" :
					      "FLUSH_CMD (LONG64 only)";
	else if (epm_vmcs_conf.l1d_flush)
		l1d = epm_vmcs_conf.l1d_buf ? "software" : "FLUSH_CMD";
	pr_info("RUN mitigations: VERW %s, RSB fill %s, SPEC_CTRL rewrite %s, BHB clear %s, L1D flush %s, IBPB %s\n",
		boot_cpu_has(X86_FEATURE_CLEAR_CPU_BUF) ? "on" : "off",
		boot_cpu_has(X86_FEATURE_RSB_VMEXIT) ? "on" :
		boot_cpu_has(X86_FEATURE_RSB_VMEXIT_LITE) ? "lite" : "off",
		boot_cpu_has(X86_FEATURE_KERNEL_IBRS) ? "on" : "off",
		boot_cpu_has(X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT) ? "on" : "off",
		l1d, boot_cpu_has(X86_FEATURE_USE_IBPB) ? "on" : "off");
}

/*
 * Decide at load whether RUN can work here and prepare one VMXON region
 * per CPU. Failing that, RUN answers ENODEV and the rest of the device
 * works as before.
 */
void epm_vmx_init(void)
{
	const u64 need = EPM_CAP_VMX | EPM_CAP_VMX_ON | EPM_CAP_EPT |
			 EPM_CAP_EPT_WB | EPM_CAP_EPT_WALK4 | EPM_CAP_INVEPT |
			 EPM_CAP_UNRESTRICTED | EPM_CAP_PREEMPT_TIMER;
	int cpu;

	if ((epm_caps.flags & need) != need ||
	    !(epm_caps.flags & (EPM_CAP_INVEPT_SINGLE | EPM_CAP_INVEPT_ALL)))
		return;
	if (!epm_vmcs_setup()) {
		pr_info("VMX controls this launcher needs are missing: RUN disabled\n");
		return;
	}
	if (!epm_l1d_setup()) {
		pr_warn("L1TF: no memory for the L1D flush buffer: RUN disabled\n");
		return;
	}
	for_each_possible_cpu(cpu) {
		struct page *page = alloc_pages_node(cpu_to_node(cpu),
						     GFP_KERNEL | __GFP_ZERO, 0);

		if (!page) {
			epm_vmx_exit_module();
			return;
		}
		*(u32 *)page_address(page) = epm_vmcs_conf.revision;
		per_cpu(epm_vmxon_region, cpu) = page_address(page);
	}
	epm_mitigations_log();
	epm_caps.flags |= EPM_CAP_RUN;
}

void epm_vmx_exit_module(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		free_page((unsigned long)per_cpu(epm_vmxon_region, cpu));
		per_cpu(epm_vmxon_region, cpu) = NULL;
	}
	if (epm_vmcs_conf.l1d_buf)
		free_pages((unsigned long)epm_vmcs_conf.l1d_buf,
			   get_order(EPM_L1D_FLUSH_SIZE));
	epm_vmcs_conf.l1d_buf = NULL;
	epm_vmcs_conf.l1d_flush = false;
}

void epm_vmx_free(struct epm_space *sp)
{
	struct epm_vmx *vx = sp->vmx;

	if (!vx)
		return;
	if (vx->fpu.fpstate)
		fpu_free_guest_fpstate(&vx->fpu);
	free_page((unsigned long)vx->vmcs);
	kfree(vx->cpu_gen);
	kfree(vx);
	sp->vmx = NULL;
}

u64 epm_vmx_invepts(const struct epm_space *sp)
{
	return sp->vmx ? sp->vmx->invepts : 0;
}

/*
 * The launcher's state for @sp, made on first use; with @reset (or when
 * new) the guest's own state is the architectural INIT state: FPU as a
 * new task gets it (FCW 0x37f, MXCSR 0x1f80, registers zero), CR2 0,
 * CR8 0. Called with the space locked and no guest running.
 */
static int epm_vmx_get(struct epm_space *sp, bool reset)
{
	struct epm_vmx *vx = sp->vmx;

	lockdep_assert_held(&sp->lock);
	if (vx && !reset)
		return 0;
	if (vx) {
		fpu_free_guest_fpstate(&vx->fpu);
		if (!fpu_alloc_guest_fpstate(&vx->fpu))
			goto err_free;
		vx->cr2 = 0;
		vx->cr8 = 0;
		return 0;
	}
	vx = kzalloc(sizeof(*vx), GFP_KERNEL_ACCOUNT);
	if (!vx)
		return -ENOMEM;
	sp->vmx = vx;
	vx->vmcs = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vx->cpu_gen = kcalloc(nr_cpu_ids, sizeof(*vx->cpu_gen),
			      GFP_KERNEL_ACCOUNT);
	if (!vx->vmcs || !vx->cpu_gen || !fpu_alloc_guest_fpstate(&vx->fpu))
		goto err_free;
	*(u32 *)vx->vmcs = epm_vmcs_conf.revision;
	vx->id = atomic64_inc_return(&epm_space_ids);
	return 0;

err_free:
	epm_vmx_free(sp);
	return -ENOMEM;
}

/* Segment access rights (SDM 24.4.1) */
#define AR_CODE32	0xc09b	/* G, D, P, S, execute/read, accessed */
#define AR_DATA32	0xc093	/* G, D/B, P, S, read/write, accessed */
#define AR_CODE64	0xa09b	/* G, L, P, S, execute/read, accessed */
#define AR_CODE16	0x009b
#define AR_DATA16	0x0093
#define AR_TSS_BUSY	0x008b
#define AR_UNUSABLE	0x10000

static void epm_write_seg(unsigned long sel_field, u16 sel, u32 limit, u32 ar)
{
	/* selector, limit, AR and base fields are 2 apart for each segment */
	unsigned long i = sel_field - GUEST_ES_SELECTOR;

	epm_vmwrite(sel_field, sel);
	epm_vmwrite(GUEST_ES_LIMIT + i, limit);
	epm_vmwrite(GUEST_ES_AR_BYTES + i, ar);
	epm_vmwrite(GUEST_ES_BASE + i, 0);
}

/* The guest as RUN starts it: flat segments, no GDT/IDT, mode's CRs. */
static void epm_write_guest(struct epm_space *sp, const struct epm_run *r)
{
	static const unsigned long data_segs[] = {
		GUEST_ES_SELECTOR, GUEST_SS_SELECTOR, GUEST_DS_SELECTOR,
		GUEST_FS_SELECTOR, GUEST_GS_SELECTOR,
	};
	/* x87 and SSE usable in every mode, as after a typical boot */
	u64 cr0 = X86_CR0_NE | X86_CR0_ET | X86_CR0_MP, efer = 0, cr3 = 0;
	u64 cr4 = X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	u32 code_ar, data_ar, limit, entry = epm_vmcs_conf.entry;
	u16 code_sel = 0, data_sel = 0;
	unsigned int i;

	switch (r->mode) {
	case EPM_MODE_REAL:
		code_ar = AR_CODE16;
		data_ar = AR_DATA16;
		limit = 0xffff;
		break;
	case EPM_MODE_LONG64:
		cr0 |= X86_CR0_PE | X86_CR0_PG | X86_CR0_WP;
		cr4 |= X86_CR4_PAE;
		efer = EFER_LME | EFER_LMA;
		cr3 = r->cr3;
		entry |= VM_ENTRY_IA32E_MODE;
		code_ar = AR_CODE64;
		data_ar = AR_DATA32;
		limit = 0xffffffff;
		code_sel = 0x08;
		data_sel = 0x10;
		break;
	default:
		cr0 |= X86_CR0_PE;
		code_ar = AR_CODE32;
		data_ar = AR_DATA32;
		limit = 0xffffffff;
		code_sel = 0x08;
		data_sel = 0x10;
		break;
	}

	epm_vmwrite(PIN_BASED_VM_EXEC_CONTROL, epm_vmcs_conf.pin);
	epm_vmwrite(CPU_BASED_VM_EXEC_CONTROL, epm_vmcs_conf.proc);
	epm_vmwrite(SECONDARY_VM_EXEC_CONTROL, epm_vmcs_conf.proc2);
	epm_vmwrite(VM_EXIT_CONTROLS, epm_vmcs_conf.exit);
	epm_vmwrite(VM_ENTRY_CONTROLS, entry);
	/* #MC always exits: it is the host's, never the guest's to handle */
	epm_vmwrite(EXCEPTION_BITMAP, (r->flags & EPM_RUN_GUEST_EXC) ?
		    BIT(X86_TRAP_MC) : 0xffffffff);
	epm_vmwrite(PAGE_FAULT_ERROR_CODE_MASK, 0);
	epm_vmwrite(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	epm_vmwrite(CR3_TARGET_COUNT, 0);
	epm_vmwrite(VM_EXIT_MSR_STORE_COUNT, 0);
	epm_vmwrite(VM_EXIT_MSR_LOAD_COUNT, 0);
	epm_vmwrite(VM_ENTRY_MSR_LOAD_COUNT, 0);
	epm_vmwrite(VM_ENTRY_INTR_INFO_FIELD, 0);
	epm_vmwrite(EPT_POINTER, epm_eptp(&sp->pm, false));
	epm_vmwrite(VMCS_LINK_POINTER, -1UL);

	/* guest writes to CR0/CR4 exit; reads see what the mode says */
	epm_vmwrite(CR0_GUEST_HOST_MASK, -1UL);
	epm_vmwrite(CR4_GUEST_HOST_MASK, -1UL);
	epm_vmwrite(CR0_READ_SHADOW, cr0);
	epm_vmwrite(CR4_READ_SHADOW, cr4);
	/* unrestricted guest lifts the fixed PE and PG bits, nothing else */
	epm_vmwrite(GUEST_CR0, (cr0 | (epm_vmcs_conf.cr0_fixed0 &
				       ~(X86_CR0_PE | X86_CR0_PG))) &
				epm_vmcs_conf.cr0_fixed1);
	epm_vmwrite(GUEST_CR4, (cr4 | epm_vmcs_conf.cr4_fixed0) &
				epm_vmcs_conf.cr4_fixed1);
	epm_vmwrite(GUEST_CR3, cr3);
	epm_vmwrite(GUEST_IA32_EFER, efer);
	epm_vmwrite(GUEST_IA32_PAT, EPM_GUEST_PAT);
	/* loaded on entry (VM_ENTRY_LOAD_DEBUG_CONTROLS): no host breakpoints */
	epm_vmwrite(GUEST_DR7, EPM_DR7_RESET);
	epm_vmwrite(GUEST_IA32_DEBUGCTL, 0);
	epm_vmwrite(GUEST_SYSENTER_CS, 0);
	epm_vmwrite(GUEST_SYSENTER_ESP, 0);
	epm_vmwrite(GUEST_SYSENTER_EIP, 0);

	epm_write_seg(GUEST_CS_SELECTOR, code_sel, limit, code_ar);
	for (i = 0; i < ARRAY_SIZE(data_segs); i++)
		epm_write_seg(data_segs[i], data_sel, limit, data_ar);
	epm_write_seg(GUEST_LDTR_SELECTOR, 0, 0, AR_UNUSABLE);
	epm_write_seg(GUEST_TR_SELECTOR, 0, 0xff, AR_TSS_BUSY);
	epm_vmwrite(GUEST_GDTR_BASE, 0);
	epm_vmwrite(GUEST_GDTR_LIMIT, 0);
	epm_vmwrite(GUEST_IDTR_BASE, 0);
	epm_vmwrite(GUEST_IDTR_LIMIT, 0);

	epm_vmwrite(GUEST_RIP, r->regs.rip);
	epm_vmwrite(GUEST_RSP, r->regs.rsp);
	epm_vmwrite(GUEST_RFLAGS, (r->regs.rflags & EPM_RFLAGS_OK &
				   ~X86_EFLAGS_VM) | X86_EFLAGS_FIXED);
	epm_vmwrite(GUEST_INTERRUPTIBILITY_INFO, 0);
	epm_vmwrite(GUEST_ACTIVITY_STATE, 0);
	epm_vmwrite(GUEST_PENDING_DBG_EXCEPTIONS, 0);
}

/*
 * Host state of this CPU for the next VM exit, the part that holds for a
 * whole slice. CR3 and CR4 are written before every entry instead
 * (epm_write_host_crs()).
 */
static void epm_write_host(int cpu)
{
	struct desc_ptr idt;
	u64 v;

	epm_vmwrite(HOST_CR0, read_cr0());
	epm_vmwrite(HOST_CS_SELECTOR, __KERNEL_CS);
	epm_vmwrite(HOST_SS_SELECTOR, __KERNEL_DS);
	epm_vmwrite(HOST_DS_SELECTOR, 0);
	epm_vmwrite(HOST_ES_SELECTOR, 0);
	epm_vmwrite(HOST_FS_SELECTOR, 0);
	epm_vmwrite(HOST_GS_SELECTOR, 0);
	epm_vmwrite(HOST_TR_SELECTOR, GDT_ENTRY_TSS * 8);
	rdmsrl(MSR_FS_BASE, v);
	epm_vmwrite(HOST_FS_BASE, v);
	rdmsrl(MSR_GS_BASE, v);
	epm_vmwrite(HOST_GS_BASE, v);
	epm_vmwrite(HOST_TR_BASE,
		    (unsigned long)&get_cpu_entry_area(cpu)->tss.x86_tss);
	epm_vmwrite(HOST_GDTR_BASE, (unsigned long)get_cpu_gdt_ro(cpu));
	store_idt(&idt);
	epm_vmwrite(HOST_IDTR_BASE, idt.address);
	rdmsrl(MSR_IA32_SYSENTER_CS, v);
	epm_vmwrite(HOST_IA32_SYSENTER_CS, v);
	rdmsrl(MSR_IA32_SYSENTER_ESP, v);
	epm_vmwrite(HOST_IA32_SYSENTER_ESP, v);
	rdmsrl(MSR_IA32_SYSENTER_EIP, v);
	epm_vmwrite(HOST_IA32_SYSENTER_EIP, v);
	rdmsrl(MSR_EFER, v);
	epm_vmwrite(HOST_IA32_EFER, v);
	rdmsrl(MSR_IA32_CR_PAT, v);
	epm_vmwrite(HOST_IA32_PAT, v);
	epm_vmwrite(HOST_RIP, (unsigned long)epm_vmx_exit);
}

/*
 * CR3 and CR4 are what the host is most likely to change behind a slice's
 * back (an IPI flipping CR4.PCE, a TLB flush changing the PCID in CR3), so
 * they are compared and written before every entry, as KVM does.
 */
struct epm_host_crs {
	unsigned long cr3, cr4;
};

static void epm_write_host_crs(struct epm_host_crs *c)
{
	unsigned long cr3 = __read_cr3(), cr4 = cr4_read_shadow();

	if (cr3 != c->cr3) {
		epm_vmwrite(HOST_CR3, cr3);
		c->cr3 = cr3;
	}
	if (cr4 != c->cr4) {
		epm_vmwrite(HOST_CR4, cr4);
		c->cr4 = cr4;
	}
}

/* Host state a VM exit does not restore by itself. */
struct epm_host_save {
	u64 kernel_gs_base;
	u64 fs_base;
	u64 debugctl;
	unsigned long cr2;
	u16 ds, es, fs, gs, ldt;
};

static void epm_host_save(struct epm_host_save *h)
{
	savesegment(ds, h->ds);
	savesegment(es, h->es);
	savesegment(fs, h->fs);
	savesegment(gs, h->gs);
	asm volatile("sldt %0" : "=r" (h->ldt));
	rdmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	rdmsrl(MSR_FS_BASE, h->fs_base);
	rdmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);
	h->cr2 = native_read_cr2();
}

static void epm_host_restore(const struct epm_host_save *h, int cpu)
{
	/* VM exit set the GDT limit to 0xffff and the TR limit to 0x67 */
	load_fixmap_gdt(cpu);
	invalidate_tss_limit();
	if (h->ldt)
		asm volatile("lldt %0" :: "r" (h->ldt));
	if (h->ds)
		loadsegment(ds, h->ds);
	if (h->es)
		loadsegment(es, h->es);
	if (h->fs) {
		loadsegment(fs, h->fs);
		wrmsrl(MSR_FS_BASE, h->fs_base);
	}
	if (h->gs)
		load_gs_index(h->gs);
	/* a 64-bit guest may SWAPGS: the user's GS base lives here */
	wrmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	/* VM exit cleared DEBUGCTL and set DR7 to 0x400 (SDM 28.3) */
	if (h->debugctl)
		update_debugctlmsr(h->debugctl);
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
	if (native_read_cr2() != h->cr2)
		native_write_cr2(h->cr2);
}

struct epm_slice {
	struct epm_run *r;
	bool fresh;		/* guest state not written yet */
	u64 slice_end;		/* ktime ns */
	u64 deadline;
};

/* The GPR an exit qualification names (0 RAX .. 15 R15, SDM order). */
static u64 *epm_gpr(struct epm_regs *regs, unsigned int n)
{
	static const u8 slot[16] = {
		EPM_R_RAX, EPM_R_RCX, EPM_R_RDX, EPM_R_RBX,
		EPM_R_RSP, EPM_R_RBP, EPM_R_RSI, EPM_R_RDI,
		EPM_R_R8, EPM_R_R9, EPM_R_R10, EPM_R_R11,
		EPM_R_R12, EPM_R_R13, EPM_R_R14, EPM_R_R15,
	};

	return (u64 *)((u8 *)regs + slot[n & 15]);
}

static void epm_skip_insn(void)
{
	epm_vmwrite(GUEST_RIP, epm_vmread(GUEST_RIP) +
		    epm_vmread(VM_EXIT_INSTRUCTION_LEN));
}

/*
 * MOV to/from CR8 against the vCPU's own value, never the local APIC's.
 * Returns false for what is not that, or for a value with bits 63:4 set
 * (#GP on hardware): RUN reports those as EPM_EXIT_OTHER.
 */
static bool epm_emulate_cr8(struct epm_vmx *vx, struct epm_regs *regs,
			    u64 qual)
{
	unsigned int gpr = EPM_CRQ_GPR(qual);
	u64 v;

	if (EPM_CRQ_NUM(qual) != 8 || EPM_CRQ_TYPE(qual) > 1)
		return false;
	if (EPM_CRQ_TYPE(qual) == 0) {
		v = gpr == 4 ? epm_vmread(GUEST_RSP) : *epm_gpr(regs, gpr);
		if (v & ~0xfULL)
			return false;
		vx->cr8 = v;
	} else if (gpr == 4) {
		epm_vmwrite(GUEST_RSP, vx->cr8);
	} else {
		*epm_gpr(regs, gpr) = vx->cr8;
	}
	epm_skip_insn();
	return true;
}

/* Turn the exit in the current VMCS into r's record. Returns true when done. */
static bool epm_decode_exit(struct epm_space *sp, struct epm_run *r, u32 reason)
{
	u64 qual = epm_vmread(EXIT_QUALIFICATION);
	u32 info;

	r->exit_reason = reason;
	r->exit_qual = qual;
	if (reason & VMX_EXIT_REASONS_FAILED_VMENTRY) {
		r->exit_kind = EPM_EXIT_ENTRY_FAIL;
		r->entry_error = reason & 0xffff;
		return true;
	}
	switch (reason & 0xffff) {
	case EXIT_REASON_EXCEPTION_NMI:
		info = epm_vmread(VM_EXIT_INTR_INFO);
		r->exit_kind = EPM_EXIT_EXCEPTION;
		r->vector = info & INTR_INFO_VECTOR_MASK;
		if (info & INTR_INFO_DELIVER_CODE_MASK)
			r->error_code = epm_vmread(VM_EXIT_INTR_ERROR_CODE);
		return true;
	case EXIT_REASON_TRIPLE_FAULT:
		r->exit_kind = EPM_EXIT_TRIPLE_FAULT;
		return true;
	case EXIT_REASON_HLT:
		r->exit_kind = EPM_EXIT_HLT;
		break;
	case EXIT_REASON_VMCALL:
		r->exit_kind = EPM_EXIT_VMCALL;
		break;
	case EXIT_REASON_IO_INSTRUCTION:
		r->exit_kind = EPM_EXIT_IO;
		r->io_size = (qual & 7) + 1;
		r->io_in = !!(qual & BIT(3));
		r->io_flags = ((qual & BIT(4)) ? EPM_IO_STRING : 0) |
			      ((qual & BIT(5)) ? EPM_IO_REP : 0);
		r->port = qual >> 16;
		/* string I/O is reported, not done: rip stays on it */
		if (r->io_flags)
			return true;
		if (!r->io_in)
			r->io_data = r->regs.rax &
				     (BIT_ULL(8 * r->io_size) - 1);
		break;
	case EXIT_REASON_EPT_VIOLATION:
		r->exit_kind = EPM_EXIT_EPT_VIOLATION;
		r->gpa = epm_vmread(GUEST_PHYSICAL_ADDRESS);
		r->access = ((qual & BIT(0)) ? EPM_PERM_R : 0) |
			    ((qual & BIT(1)) ? EPM_PERM_W : 0) |
			    ((qual & BIT(2)) ? EPM_PERM_X : 0);
		return true;
	case EXIT_REASON_EPT_MISCONFIG:
		r->exit_kind = EPM_EXIT_EPT_MISCONFIG;
		r->gpa = epm_vmread(GUEST_PHYSICAL_ADDRESS);
		return true;
	default:
		r->exit_kind = EPM_EXIT_OTHER;
		return true;
	}
	/* HLT, VMCALL, I/O: step over the instruction so RUN can resume */
	epm_skip_insn();
	return true;
}

/*
 * A machine check that arrived in the guest (exception exit, vector 18,
 * or VM entry failing with reason 41) belongs to the host: hand it to the
 * host's handler as if it had hit user mode, as KVM does, and never
 * deliver it to the guest or report it as the guest's.
 */
static void epm_machine_check(void)
{
#ifdef CONFIG_X86_MCE
	struct pt_regs regs = {
		.cs = 3,	/* as from user mode, whatever the guest ran */
		.flags = X86_EFLAGS_IF,
	};

	do_machine_check(&regs);
#endif
}

/* What ended a slice, beyond the exit record */
enum epm_slice_end {
	EPM_SLICE_AGAIN,	/* time, an interrupt: the host goes first */
	EPM_SLICE_NMI,		/* an NMI for the host arrived in the guest */
	EPM_SLICE_DONE,		/* an exit for the caller: r is filled */
};

/*
 * Before entering a guest of another address space than the last one on
 * this CPU: no branch predictions trained by one owner's guest steer the
 * next one's (IBPB, when the kernel's mitigation selected it).
 */
static void epm_switch_space(struct epm_vmx *vx)
{
	if (this_cpu_read(epm_last_space) == vx->id)
		return;
	indirect_branch_prediction_barrier();
	this_cpu_write(epm_last_space, vx->id);
}

/*
 * Enter the guest until an exit for the caller, the end of the slice or
 * an error (negative). Called with the space locked and the guest's FPU
 * image as the task's (fpu_swap_kvm_fpstate()).
 */
static int epm_vmx_slice(struct epm_space *sp, struct epm_slice *s)
{
	struct epm_vmx *vx = sp->vmx;
	u64 vmxon_pa, vmcs_pa = __pa(vx->vmcs), gen = sp->flushes + 1;
	struct epm_host_crs crs = { 0 };
	struct epm_run *r = s->r;
	struct epm_host_save host;
	bool launched = false;
	int cpu, ret;

	local_irq_disable();
	cpu = smp_processor_id();
	if (cr4_read_shadow() & EPM_CR4_VMXE) {
		/* someone else's VMX: leave their CR4.VMXE alone */
		ret = -EBUSY;
		goto out_irq;
	}
	/* the guest's registers, if a switch or a kernel_fpu_begin() saved them */
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();
	epm_host_save(&host);
	cr4_set_bits(EPM_CR4_VMXE);
	vmxon_pa = __pa(per_cpu(epm_vmxon_region, cpu));
	ret = epm_vmxon(vmxon_pa);
	if (ret == -ENODEV) {
		u64 fc = 0;

		rdmsrl_safe(MSR_IA32_FEAT_CTL, &fc);
		pr_err_ratelimited("RUN: VMXON faulted on CPU %d (IA32_FEATURE_CONTROL %#llx): firmware left VMX disabled or unlocked there\n",
				   cpu, fc);
	}
	if (ret)
		goto out_cr4;
	if (!epm_vmclear(vmcs_pa) || !epm_vmptrld(vmcs_pa)) {
		ret = -EIO;
		goto out_vmxoff;
	}
	if (s->fresh) {
		epm_write_guest(sp, r);
		s->fresh = false;
	}
	epm_write_host(cpu);
	if (vx->cpu_gen[cpu] != gen) {
		epm_invept(epm_vmcs_conf.invept_single ? VMX_EPT_EXTENT_CONTEXT :
			   VMX_EPT_EXTENT_GLOBAL, epm_eptp(&sp->pm, false));
		trace_ept_pmap_invept(cpu, sp->flushes, epm_vmcs_conf.invept_single);
		vx->cpu_gen[cpu] = gen;
		vx->invepts++;
	}
	epm_switch_space(vx);

	for (;;) {
		u64 now = ktime_get_ns(), end = min(s->slice_end, s->deadline);
		u64 left = now < end ? end - now : 0;
		u32 reason, basic, info = 0;

		/*
		 * The deadline may pass while VMX is being set up or between
		 * an exit and here: then a zero timer exits before the guest
		 * runs an instruction (SDM 26.7.4), rather than a left that
		 * wrapped round running it for the timer's maximum.
		 */
		epm_vmwrite(VMX_PREEMPTION_TIMER_VALUE,
			    min_t(u64, div_u64(left * tsc_khz, NSEC_PER_MSEC) >>
				  epm_vmcs_conf.timer_shift, U32_MAX));
		epm_write_host_crs(&crs);
		epm_l1d_flush(r->mode);
		/* the guest's CR2, never the host's last fault address */
		if (native_read_cr2() != vx->cr2)
			native_write_cr2(vx->cr2);
		if (epm_vmx_enter(&r->regs, launched)) {
			r->exit_kind = EPM_EXIT_ENTRY_FAIL;
			r->entry_error = epm_vmread(VM_INSTRUCTION_ERROR);
			ret = EPM_SLICE_DONE;
			break;
		}
		vx->cr2 = native_read_cr2();
		launched = true;
		reason = epm_vmread(VM_EXIT_REASON);
		basic = reason & 0xffff;
		if (basic == EXIT_REASON_EXCEPTION_NMI)
			info = epm_vmread(VM_EXIT_INTR_INFO);
		if (basic == EXIT_REASON_MCE_DURING_VMENTRY ||
		    (basic == EXIT_REASON_EXCEPTION_NMI &&
		     (info & INTR_INFO_VECTOR_MASK) == X86_TRAP_MC &&
		     (info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_HARD_EXCEPTION)) {
			epm_machine_check();
			if (!(reason & VMX_EXIT_REASONS_FAILED_VMENTRY))
				continue;
		}
		if (reason & VMX_EXIT_REASONS_FAILED_VMENTRY) {
			ret = epm_decode_exit(sp, r, reason) ? EPM_SLICE_DONE :
							       EPM_SLICE_AGAIN;
			break;
		}
		if (basic == EXIT_REASON_EXTERNAL_INTERRUPT ||
		    basic == EXIT_REASON_PREEMPTION_TIMER) {
			/* still pending: taken once VMX is left, below */
			ret = EPM_SLICE_AGAIN;
			break;
		}
		if (basic == EXIT_REASON_EXCEPTION_NMI &&
		    (info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR) {
			/* NMIs stay blocked from this exit to the IRET of int $2 */
			ret = EPM_SLICE_NMI;
			break;
		}
		if (basic == EXIT_REASON_CR_ACCESS &&
		    epm_emulate_cr8(vx, &r->regs, epm_vmread(EXIT_QUALIFICATION)))
			continue;
		ret = epm_decode_exit(sp, r, reason) ? EPM_SLICE_DONE :
						       EPM_SLICE_AGAIN;
		break;
	}
	r->regs.rip = epm_vmread(GUEST_RIP);
	r->regs.rsp = epm_vmread(GUEST_RSP);
	r->regs.rflags = epm_vmread(GUEST_RFLAGS);

	epm_vmclear(vmcs_pa);
out_vmxoff:
	epm_vmxoff();
out_cr4:
	cr4_clear_bits(EPM_CR4_VMXE);
	epm_host_restore(&host, cpu);
	/*
	 * Out of VMX operation, so whatever the NMI is for (a crash or
	 * reboot shootdown among them) finds this CPU able to take INIT.
	 */
	if (ret == EPM_SLICE_NMI)
		asm volatile("int $2");
out_irq:
	local_irq_enable();
	return ret;
}

static int epm_run_check(const struct epm_run *r)
{
	if (r->flags & ~EPM_RUN_ALL || r->mode > EPM_MODE_LONG64)
		return -EINVAL;
	if (!r->timeout_ns || r->timeout_ns > EPM_RUN_MAX_NS)
		return -EINVAL;
	if (r->mode == EPM_MODE_LONG64 ?
	    (r->cr3 & ~PAGE_MASK || r->cr3 >= EPM_GPA_LIMIT) : r->cr3)
		return -EINVAL;
	if (memchr_inv(r->reserved, 0, sizeof(r->reserved)))
		return -EINVAL;
	return 0;
}

/*
 * RUN: see include/uapi/linux/ept_pmap.h. Returns 0 with r filled, or an
 * errno; -EINTR also fills r (exit_kind EPM_EXIT_INTR).
 */
int epm_vmx_run(struct epm_space *sp, struct epm_run *r)
{
	struct epm_slice s = { .r = r, .fresh = true };
	struct epm_vmx *vx;
	int ret;

	ret = epm_run_check(r);
	if (ret)
		return ret;
	/* what a previous RUN left in the record is not input */
	r->exit_kind = 0;
	r->exit_reason = 0;
	r->exit_qual = 0;
	r->gpa = 0;
	r->access = 0;
	r->vector = 0;
	r->error_code = 0;
	r->port = 0;
	r->io_size = 0;
	r->io_in = 0;
	r->io_data = 0;
	r->entry_error = 0;
	r->io_flags = 0;
	if (!(epm_caps.flags & EPM_CAP_RUN))
		return -ENODEV;
	if (current->mm != sp->mm)
		return -EPERM;

	mutex_lock(&sp->lock);
	if (sp->running) {
		mutex_unlock(&sp->lock);
		return -EBUSY;
	}
	ret = epm_vmx_get(sp, r->flags & EPM_RUN_RESET);
	if (ret) {
		mutex_unlock(&sp->lock);
		return ret;
	}
	vx = sp->vmx;
	sp->running = true;
	mutex_unlock(&sp->lock);
	trace_ept_pmap_run_entry(r);

	/*
	 * For the whole RUN the guest's FPU image is this task's: a context
	 * switch or an interrupt's kernel_fpu_begin() saves the guest's
	 * registers into it, the next slice loads them back, and the
	 * caller's own registers wait in their image until RUN returns.
	 */
	fpu_swap_kvm_fpstate(&vx->fpu, true);
	s.deadline = ktime_get_ns() + r->timeout_ns;
	for (;;) {
		u64 now = ktime_get_ns();

		if (signal_pending(current)) {
			r->exit_kind = EPM_EXIT_INTR;
			ret = -EINTR;
			break;
		}
		if (now >= s.deadline) {
			r->exit_kind = EPM_EXIT_TIMEOUT;
			ret = 0;
			break;
		}
		s.slice_end = now + EPM_SLICE_NS;
		mutex_lock(&sp->lock);
		ret = epm_vmx_slice(sp, &s);
		mutex_unlock(&sp->lock);
		if (ret == -EBUSY)
			pr_info_ratelimited("RUN: VMX is in use by another hypervisor (kvm_intel?); unload it to run guests here\n");
		if (ret < 0)
			break;
		if (ret == EPM_SLICE_DONE) {
			ret = 0;
			break;
		}
		cond_resched();
	}
	fpu_swap_kvm_fpstate(&vx->fpu, false);

	mutex_lock(&sp->lock);
	sp->running = false;
	sp->runs++;
	if (r->exit_kind < EPM_EXIT_KINDS && (ret == 0 || ret == -EINTR))
		sp->exits[r->exit_kind]++;
	mutex_unlock(&sp->lock);
	trace_ept_pmap_run_exit(r, ret);
	return ret;
}
