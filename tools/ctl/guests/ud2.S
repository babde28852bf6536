/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ud2: raise #UD. Without EPM_RUN_GUEST_EXC the run ends in
 * EPM_EXIT_EXCEPTION with vector 6 and rip at the ud2; with it, the
 * exception goes through the guest's empty IDT, which cannot deliver it
 * (#UD, then #GP, then #DF), and the run ends in EPM_EXIT_TRIPLE_FAULT.
 *
 *   mode:  any (0f 0b in every mode)
 *   load:  gpa 0x1000 (position independent)
 */
	.code32
	.text
	.globl	_start
_start:
	ud2
