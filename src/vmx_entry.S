/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The only code that crosses into the guest: load the guest's general
 * registers, VMLAUNCH or VMRESUME, and on VM exit (HOST_RIP = epm_vmx_exit,
 * HOST_RSP = the stack as it was at entry) store them back.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/unwind_hints.h>
#include <asm/nospec-branch.h>

#define VMCS_HOST_RSP	0x6c14

/* offsets in struct epm_regs (include/uapi/linux/ept_pmap.h) */
#define R_RAX	0
#define R_RBX	8
#define R_RCX	16
#define R_RDX	24
#define R_RSI	32
#define R_RDI	40
#define R_RBP	56
#define R_R8	64
#define R_R9	72
#define R_R10	80
#define R_R11	88
#define R_R12	96
#define R_R13	104
#define R_R14	112
#define R_R15	120

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

	mov $VMCS_HOST_RSP, %eax
	vmwrite %rsp, %rax
	jbe .Lfail_host

	/* ZF tells launch from resume; the moves below keep the flags */
	cmp $0, %rsi
	mov R_RAX(%rdi), %rax
	mov R_RBX(%rdi), %rbx
	mov R_RCX(%rdi), %rcx
	mov R_RDX(%rdi), %rdx
	mov R_RSI(%rdi), %rsi
	mov R_RBP(%rdi), %rbp
	mov R_R8(%rdi), %r8
	mov R_R9(%rdi), %r9
	mov R_R10(%rdi), %r10
	mov R_R11(%rdi), %r11
	mov R_R12(%rdi), %r12
	mov R_R13(%rdi), %r13
	mov R_R14(%rdi), %r14
	mov R_R15(%rdi), %r15
	mov R_RDI(%rdi), %rdi

	UNWIND_HINT_SAVE
	jne .Lresume
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
	mov %rbx, R_RBX(%rax)
	mov %rcx, R_RCX(%rax)
	mov %rdx, R_RDX(%rax)
	mov %rsi, R_RSI(%rax)
	mov %rdi, R_RDI(%rax)
	mov %rbp, R_RBP(%rax)
	mov %r8, R_R8(%rax)
	mov %r9, R_R9(%rax)
	mov %r10, R_R10(%rax)
	mov %r11, R_R11(%rax)
	mov %r12, R_R12(%rax)
	mov %r13, R_R13(%rax)
	mov %r14, R_R14(%rax)
	mov %r15, R_R15(%rax)
	popq R_RAX(%rax)
	xor %eax, %eax
	jmp .Lout

.Lfail_host:
.Lfail:
	mov $1, %eax
.Lout:
	/* drop regs, get the host's callee-saved registers back */
	add $8, %rsp
	pop %rbx
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	pop %rbp
	/* leave no guest value in the caller-saved registers */
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	RET
SYM_FUNC_END(epm_vmx_enter)
