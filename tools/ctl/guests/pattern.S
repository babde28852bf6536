/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pattern: write ecx dwords at edi: eax, eax + 1, eax + 2, ... then HLT.
 * A store into memory mapped without W (or not at all) stops it at an
 * EPT violation with edi at the faulting gpa and ecx the dwords left.
 *
 *   mode:  EPM_MODE_PROT32
 *   load:  gpa 0x1000 (position independent)
 *   entry: rip = load gpa; in: eax (first value), ecx (count > 0),
 *          edi (gpa to write at, 4-byte aligned)
 */
	.code32
	.text
	.globl	_start
_start:
	movl	%eax, (%edi)
	addl	$4, %edi
	incl	%eax
	decl	%ecx
	jnz	_start
	hlt
