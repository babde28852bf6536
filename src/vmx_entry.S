/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The only code that crosses into the guest: load the guest's general
 * registers, VMLAUNCH or VMRESUME, and on VM exit (HOST_RIP = epm_vmx_exit,
 * HOST_RSP = the stack as it was at entry) store them back.
 *
 * Around the crossing it does what the running kernel's speculation
 * mitigations ask of a hypervisor, each behind the same feature bit the
 * kernel's own KVM uses, so the kernel's alternatives patching turns each
 * on or off at module load: VERW right before entry (MDS/TAA/MMIO stale
 * data: X86_FEATURE_CLEAR_CPU_BUF_VM), the return stack buffer refilled
 * after exit before the first RET (X86_FEATURE_RSB_VMEXIT, and the one-entry
 * post-barrier variant X86_FEATURE_RSB_VMEXIT_LITE for eIBRS parts with
 * PBRSB), and SPEC_CTRL rewritten by epm_vmx_spec_ctrl_host() before that
 * first RET as well.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/unwind_hints.h>
#include <asm/nospec-branch.h>

#include "vmx_regs.h"

.section .text, "ax"

/*
 * int epm_vmx_enter(struct epm_regs *regs, unsigned long launched)
 *
 * Returns 0 after a VM exit (regs hold the guest's registers) and 1 when
 * VMLAUNCH/VMRESUME (or the HOST_RSP write) failed; the caller reads the
 * VM-instruction error. Called with interrupts off and the VMCS current.
 */
SYM_FUNC_START(epm_vmx_enter)
	push %rbp
	mov %rsp, %rbp
	push %r15
	push %r14
	push %r13
	push %r12
	push %rbx
	/* regs, found again on top of the stack at VM exit */
	push %rdi

	mov $EPM_VMCS_HOST_RSP, %eax
	vmwrite %rsp, %rax
	jbe .Lfail

	/*
	 * CF set: launch (launched == 0). The moves below keep the flags and
	 * VERW changes only ZF.
	 */
	cmp $1, %rsi
	mov EPM_R_RAX(%rdi), %rax
	mov EPM_R_RBX(%rdi), %rbx
	mov EPM_R_RCX(%rdi), %rcx
	mov EPM_R_RDX(%rdi), %rdx
	mov EPM_R_RSI(%rdi), %rsi
	mov EPM_R_RBP(%rdi), %rbp
	mov EPM_R_R8(%rdi), %r8
	mov EPM_R_R9(%rdi), %r9
	mov EPM_R_R10(%rdi), %r10
	mov EPM_R_R11(%rdi), %r11
	mov EPM_R_R12(%rdi), %r12
	mov EPM_R_R13(%rdi), %r13
	mov EPM_R_R14(%rdi), %r14
	mov EPM_R_R15(%rdi), %r15
	mov EPM_R_RDI(%rdi), %rdi

	/* the last memory access before the guest runs: clear CPU buffers */
	CLEAR_CPU_BUFFERS

	UNWIND_HINT_SAVE
	jnc .Lresume
	vmlaunch
	jmp .Lfail
.Lresume:
	vmresume
	jmp .Lfail

SYM_INNER_LABEL(epm_vmx_exit, SYM_L_GLOBAL)
	UNWIND_HINT_RESTORE
	ENDBR
	push %rax
	mov 8(%rsp), %rax
	mov %rbx, EPM_R_RBX(%rax)
	mov %rcx, EPM_R_RCX(%rax)
	mov %rdx, EPM_R_RDX(%rax)
	mov %rsi, EPM_R_RSI(%rax)
	mov %rdi, EPM_R_RDI(%rax)
	mov %rbp, EPM_R_RBP(%rax)
	mov %r8, EPM_R_R8(%rax)
	mov %r9, EPM_R_R9(%rax)
	mov %r10, EPM_R_R10(%rax)
	mov %r11, EPM_R_R11(%rax)
	mov %r12, EPM_R_R12(%rax)
	mov %r13, EPM_R_R13(%rax)
	mov %r14, EPM_R_R14(%rax)
	mov %r15, EPM_R_R15(%rax)
	popq EPM_R_RAX(%rax)
	xor %ebx, %ebx
	jmp .Lout

.Lfail:
	mov $1, %ebx
.Lout:
	/* drop regs */
	add $8, %rsp
	/*
	 * No guest value stays in a register, not even in those reloaded
	 * from the stack below: a load that misses could run on with them
	 * speculatively. RBX holds the return value.
	 */
	xor %eax, %eax
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d

	/*
	 * The guest may have filled the RSB with its own return targets:
	 * refill it before the first RET (and the CALL below is balanced).
	 */
	FILL_RETURN_BUFFER %rcx, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT, \
			   X86_FEATURE_RSB_VMEXIT_LITE
	call epm_vmx_spec_ctrl_host
	CLEAR_BRANCH_HISTORY_VMEXIT

	mov %ebx, %eax
	pop %rbx
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	pop %rbp
	RET
SYM_FUNC_END(epm_vmx_enter)
