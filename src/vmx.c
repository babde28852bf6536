// SPDX-License-Identifier: GPL-2.0
/*
 * The VMX launcher: RUN a guest on an address space's EPT half.
 *
 * Design: VMX is entered and left once per *slice*. A slice runs with
 * preemption off and the space's lock held: VMXON on this CPU, VMPTRLD the
 * space's VMCS, enter the guest (again and again while only external
 * interrupts and NMIs interrupt it), then VMCLEAR and VMXOFF. Between
 * slices the thread may sleep, migrate or take a signal, and no CPU is
 * left in VMX operation, so nothing has to follow the thread around and
 * another hypervisor (kvm_intel) is never surprised by us. A slice lasts
 * at most EPM_SLICE_NS, bounded by the VMX preemption timer.
 *
 * Holding the space's lock during a slice is what keeps the guest safe
 * from UNMAP and PROTECT: they wait for the slice to end, change the
 * tables, and bump sp->flushes; the next slice on each CPU sees a newer
 * generation and does INVEPT before entering. Pages are unpinned by UNMAP
 * only while no guest of this space runs anywhere.
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
#include <asm/msr.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>
#include <asm/tsc.h>
#include <asm/vmx.h>

#include "main.h"
#include "vmx.h"
#include "trace.h"

#define EPM_SLICE_NS		(2 * NSEC_PER_MSEC)
#define EPM_RUN_MAX_NS		(60 * NSEC_PER_SEC)
#define EPM_GUEST_PAT		0x0007040600070406ULL	/* reset value */
#define EPM_RFLAGS_OK		0x3f7fd5ULL	/* bits software may set */
#define EPM_CR4_VMXE		X86_CR4_VMXE
#define EPM_DR7_RESET		0x400ULL	/* DR7 after reset: bit 10 */

/* What every VMCS gets, computed once from the capability MSRs. */
static struct {
	u32 revision;
	u32 pin, proc, proc2, exit, entry;
	u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	u32 timer_shift;
	bool invept_single;
} epm_vmcs_conf;

static DEFINE_PER_CPU(void *, epm_vmxon_region);

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

static inline bool epm_vmxon(u64 pa)
{
	bool fail;

	asm volatile("vmxon %[pa]" CC_SET(na)
		     : CC_OUT(na) (fail) : [pa] "m" (pa) : "cc", "memory");
	return !fail;
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
		       CPU_BASED_ACTIVATE_SECONDARY_CONTROLS,
		       &epm_vmcs_conf.proc) &&
	       epm_ctl(proc2_msr, SECONDARY_EXEC_ENABLE_EPT |
		       SECONDARY_EXEC_UNRESTRICTED_GUEST, &epm_vmcs_conf.proc2) &&
	       epm_ctl(tru ? MSR_IA32_VMX_TRUE_EXIT_CTLS :
		       MSR_IA32_VMX_EXIT_CTLS,
		       VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_LOAD_IA32_PAT |
		       VM_EXIT_LOAD_IA32_EFER, &epm_vmcs_conf.exit) &&
	       epm_ctl(tru ? MSR_IA32_VMX_TRUE_ENTRY_CTLS :
		       MSR_IA32_VMX_ENTRY_CTLS,
		       VM_ENTRY_LOAD_IA32_PAT | VM_ENTRY_LOAD_IA32_EFER,
		       &epm_vmcs_conf.entry) &&
	       epm_ctl(tru ? MSR_IA32_VMX_TRUE_ENTRY_CTLS :
		       MSR_IA32_VMX_ENTRY_CTLS,
		       epm_vmcs_conf.entry | VM_ENTRY_IA32E_MODE, &entry64);
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
	epm_caps.flags |= EPM_CAP_RUN;
}

void epm_vmx_exit_module(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		free_page((unsigned long)per_cpu(epm_vmxon_region, cpu));
		per_cpu(epm_vmxon_region, cpu) = NULL;
	}
}

void epm_vmx_free(struct epm_space *sp)
{
	free_page((unsigned long)sp->vmcs);
	kfree(sp->cpu_gen);
	sp->vmcs = NULL;
	sp->cpu_gen = NULL;
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
	epm_vmwrite(EXCEPTION_BITMAP,
		    (r->flags & EPM_RUN_GUEST_EXC) ? 0 : 0xffffffff);
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

/* Host state of this CPU as it is right now, for the next VM exit. */
static void epm_write_host(int cpu)
{
	struct desc_ptr idt;
	u64 v;

	epm_vmwrite(HOST_CR0, read_cr0());
	epm_vmwrite(HOST_CR3, __read_cr3());
	epm_vmwrite(HOST_CR4, cr4_read_shadow());
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

/* Host state a VM exit does not restore by itself. */
struct epm_host_save {
	u64 kernel_gs_base;
	u64 fs_base;
	u64 debugctl;
	unsigned long dr7;
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
	get_debugreg(h->dr7, 7);
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
	if (h->debugctl)
		wrmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);
	if (h->dr7 != EPM_DR7_RESET)
		set_debugreg(h->dr7, 7);
}

struct epm_slice {
	struct epm_run *r;
	bool fresh;		/* guest state not written yet */
	u64 slice_end;		/* ktime ns */
	u64 deadline;
};

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
	epm_vmwrite(GUEST_RIP, epm_vmread(GUEST_RIP) +
		    epm_vmread(VM_EXIT_INSTRUCTION_LEN));
	return true;
}

/*
 * Enter the guest until an exit for the caller (returns 1), the end of the
 * slice (0) or an error (negative). Called with the space locked.
 */
static int epm_vmx_slice(struct epm_space *sp, struct epm_slice *s)
{
	u64 vmxon_pa, vmcs_pa = __pa(sp->vmcs), gen = sp->flushes + 1;
	struct epm_run *r = s->r;
	struct epm_host_save host;
	bool launched = false;
	int cpu, ret = 0;

	kernel_fpu_begin();
	local_irq_disable();
	cpu = smp_processor_id();
	if (cr4_read_shadow() & EPM_CR4_VMXE) {
		ret = -EBUSY;
		goto out_irq;
	}
	epm_host_save(&host);
	cr4_set_bits(EPM_CR4_VMXE);
	vmxon_pa = __pa(per_cpu(epm_vmxon_region, cpu));
	if (!epm_vmxon(vmxon_pa)) {
		ret = -EIO;
		goto out_cr4;
	}
	if (!epm_vmclear(vmcs_pa) || !epm_vmptrld(vmcs_pa)) {
		ret = -EIO;
		goto out_vmxoff;
	}
	if (s->fresh) {
		epm_write_guest(sp, r);
		s->fresh = false;
	}
	epm_write_host(cpu);
	if (sp->cpu_gen[cpu] != gen) {
		epm_invept(epm_vmcs_conf.invept_single ? VMX_EPT_EXTENT_CONTEXT :
			   VMX_EPT_EXTENT_GLOBAL, epm_eptp(&sp->pm, false));
		trace_ept_pmap_invept(cpu, sp->flushes, epm_vmcs_conf.invept_single);
		sp->cpu_gen[cpu] = gen;
	}

	for (;;) {
		u64 now = ktime_get_ns(), end = min(s->slice_end, s->deadline);
		u64 left = now < end ? end - now : 0;
		u32 reason, basic;

		/*
		 * The deadline may pass while VMX is being set up or between
		 * an exit and here: then a zero timer exits before the guest
		 * runs an instruction (SDM 26.7.4), rather than a left that
		 * wrapped round running it for the timer's maximum.
		 */
		epm_vmwrite(VMX_PREEMPTION_TIMER_VALUE,
			    min_t(u64, div_u64(left * tsc_khz, NSEC_PER_MSEC) >>
				  epm_vmcs_conf.timer_shift, U32_MAX));
		if (epm_vmx_enter(&r->regs, launched)) {
			r->exit_kind = EPM_EXIT_ENTRY_FAIL;
			r->entry_error = epm_vmread(VM_INSTRUCTION_ERROR);
			ret = 1;
			break;
		}
		launched = true;
		reason = epm_vmread(VM_EXIT_REASON);
		basic = (reason & VMX_EXIT_REASONS_FAILED_VMENTRY) ? U32_MAX :
			reason & 0xffff;
		if (basic == EXIT_REASON_EXTERNAL_INTERRUPT ||
		    basic == EXIT_REASON_PREEMPTION_TIMER) {
			/* the interrupt is still pending: let the host take it */
			local_irq_enable();
			local_irq_disable();
			if (basic == EXIT_REASON_PREEMPTION_TIMER ||
			    need_resched() || signal_pending(current) ||
			    ktime_get_ns() >= min(s->slice_end, s->deadline))
				break;
			continue;
		}
		if (basic == EXIT_REASON_EXCEPTION_NMI &&
		    (epm_vmread(VM_EXIT_INTR_INFO) & INTR_INFO_INTR_TYPE_MASK) ==
		    INTR_TYPE_NMI_INTR) {
			/* an NMI for the host arrived in the guest: deliver it */
			asm volatile("int $2");
			continue;
		}
		ret = epm_decode_exit(sp, r, reason) ? 1 : 0;
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
out_irq:
	local_irq_enable();
	kernel_fpu_end();
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
	if (!sp->vmcs) {
		sp->vmcs = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
		sp->cpu_gen = kcalloc(nr_cpu_ids, sizeof(*sp->cpu_gen),
				      GFP_KERNEL_ACCOUNT);
		if (!sp->vmcs || !sp->cpu_gen) {
			epm_vmx_free(sp);
			mutex_unlock(&sp->lock);
			return -ENOMEM;
		}
		*(u32 *)sp->vmcs = epm_vmcs_conf.revision;
	}
	sp->running = true;
	mutex_unlock(&sp->lock);
	trace_ept_pmap_run_entry(r);

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
		if (ret) {
			ret = ret < 0 ? ret : 0;
			break;
		}
		cond_resched();
	}

	mutex_lock(&sp->lock);
	sp->running = false;
	sp->runs++;
	if (r->exit_kind < EPM_EXIT_KINDS && (ret == 0 || ret == -EINTR))
		sp->exits[r->exit_kind]++;
	mutex_unlock(&sp->lock);
	trace_ept_pmap_run_exit(r, ret);
	return ret;
}
