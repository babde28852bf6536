/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pattern64: pattern.S for 64-bit mode. Write rcx qwords at the virtual
 * address in rdi: rax, rax + 1, ... then HLT.
 *
 *   mode:  EPM_MODE_LONG64, cr3 = gpa of a PML4 the caller built in guest
 *          memory; it must map the code page and [rdi, rdi + 8 * rcx)
 *          writable, and the tables themselves must be mapped R and W in
 *          the EPT (the CPU sets accessed/dirty bits in them)
 *   load:  gpa 0x1000, reached at a virtual address the caller's tables
 *          give it (position independent)
 *   entry: rip = that virtual address; in: rax, rcx (> 0), rdi
 */
	.code64
	.text
	.globl	_start
_start:
	movq	%rax, (%rdi)
	addq	$8, %rdi
	incq	%rax
	decq	%rcx
	jnz	_start
	hlt
