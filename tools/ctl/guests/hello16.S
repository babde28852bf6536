/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hello16: hello.S for 16-bit real mode. Writes "hello\n" to port 0x3f8
 * byte by byte with OUT, then halts.
 *
 *   mode:  EPM_MODE_REAL (CS = DS = ES = SS = 0)
 *   load:  gpa 0x1000 (the string is addressed as DS:0x10xx)
 *   entry: rip = 0x1000
 *   needs: the page at gpa 0x1000 mapped with R and X
 */
	.code16
	.text
	.globl	_start
_start:
	movw	$0x3f8, %dx
	movw	$msg, %si
next:
	movb	(%si), %al
	testb	%al, %al
	jz	done
	outb	%al, %dx
	incw	%si
	jmp	next
done:
	hlt
	jmp	done

msg:
	.asciz	"hello\n"
