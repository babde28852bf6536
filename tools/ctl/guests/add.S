/* SPDX-License-Identifier: GPL-2.0 */
/*
 * add: a hypercall round trip. rax = rbx + rcx, then VMCALL; when RUN
 * resumes it, rdx = rax + rsi (rax as the host left it), then HLT.
 *
 *   mode:  EPM_MODE_PROT32
 *   load:  gpa 0x1000 (position independent: any gpa works)
 *   entry: rip = load gpa; in: rbx, rcx, later rax and rsi
 *   needs: the code page mapped with R and X
 */
	.code32
	.text
	.globl	_start
_start:
	movl	%ebx, %eax
	addl	%ecx, %eax
	vmcall
	movl	%eax, %edx
	addl	%esi, %edx
	hlt
