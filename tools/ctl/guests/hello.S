/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hello: the smallest useful guest. Writes "hello\n" to the COM1 data port
 * (0x3f8) one byte at a time with OUT, then halts.
 *
 *   mode:  EPM_MODE_PROT32 (32-bit flat protected mode, paging off)
 *   load:  gpa 0x1000 (the code uses the absolute address of its string)
 *   entry: rip = 0x1000; no other register needs a value
 *   needs: the page at gpa 0x1000 mapped with R and X
 *
 * Each OUT is an EPM_EXIT_IO (port 0x3f8, io_size 1, io_data the byte);
 * RUN again with the returned regs to go on. After "\n" the guest stops at
 * an EPM_EXIT_HLT; running it again halts again.
 */
	.code32
	.text
	.globl	_start
_start:
	movw	$0x3f8, %dx
	movl	$msg, %esi
next:
	movb	(%esi), %al
	testb	%al, %al
	jz	done
	outb	%al, %dx
	incl	%esi
	jmp	next
done:
	hlt
	jmp	done

msg:
	.asciz	"hello\n"
