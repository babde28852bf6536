/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loop: spin forever. Only timeout_ns (EPM_EXIT_TIMEOUT) or a signal
 * (EINTR, EPM_EXIT_INTR) ends the run.
 *
 *   mode:  any; assembled as 32-bit, and "jmp ." is the same two bytes
 *          (eb fe) in 16-, 32- and 64-bit mode
 *   load:  gpa 0x1000 (position independent)
 */
	.code32
	.text
	.globl	_start
_start:
	jmp	_start
