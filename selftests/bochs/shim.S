/* SPDX-License-Identifier: GPL-2.0 */
/* Multiboot(v1, a.out kludge) -> Linux PVH entry shim.
 * Image layout: [this 4 KiB page @0xfff000][flat vmlinux @0x1000000 ...]
 * GRUB loads the whole file at 0xfff000, so the kernel lands at its link
 * address (LOAD_PHYSICAL_ADDR=16M) without any copy.  We translate the
 * multiboot info (cmdline, first module = initrd, mmap) into a struct
 * hvm_start_info (version 1) and jump to the kernel's PVH entry point
 * (XEN_ELFNOTE_PHYS32_ENTRY) in 32-bit protected mode, paging off.
 * Built by run-bochs.sh; mkpvh.py patches the entry and bss_end_addr. */
        .code32
        .set BASE,        0xfff000
        .set MB_MAGIC,    0x1BADB002
        .set MB_FLAGS,    0x00010003        /* page-align mods, mem info, a.out kludge */
        .set PVH_MAGIC,   0x336ec578
        .text
        .globl _start
_start:
mb_header:
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        .long BASE                          /* header_addr */
        .long BASE                          /* load_addr */
        .long 0                             /* load_end_addr: whole file */
        .long 0                             /* bss_end_addr: none */
        .long BASE + (entry - _start)       /* entry_addr */
pvh_entry_ptr:                               /* patched by build script */
        .long 0x01000850

entry:  cli
        cld
        movl $BASE, %esp
        movl %ebx, %esi                     /* esi = multiboot info */
        movl $BASE + (start_info - _start), %edi
        /* cmdline (flags bit 2).  Some loaders (QEMU -kernel) put the image
         * path first, GRUB does not: skip a first word that starts with '/' */
        testl $4, 0(%esi)
        jz 2f
        movl 16(%esi), %eax
        cmpb $'/', (%eax)
        jne 3f
1:      movb (%eax), %cl
        testb %cl, %cl
        jz 3f
        incl %eax
        cmpb $' ', %cl
        jne 1b
3:      movl %eax, 24(%edi)                 /* cmdline_paddr (lo) */
2:      /* modules (flags bit 3): first module is the initrd */
        testl $8, 0(%esi)
        jz 4f
        movl 20(%esi), %ecx                 /* mods_count */
        testl %ecx, %ecx
        jz 4f
        movl 24(%esi), %eax                 /* mods_addr */
        movl 0(%eax), %edx                  /* mod_start */
        movl %edx, BASE + (modlist - _start)
        movl 4(%eax), %ecx                  /* mod_end */
        subl %edx, %ecx
        movl %ecx, BASE + (modlist - _start) + 8
        movl $1, 12(%edi)                   /* nr_modules */
        movl $BASE + (modlist - _start), 16(%edi)  /* modlist_paddr */
4:      /* memory map (flags bit 6) -> hvm_memmap_table_entry[] */
        testl $0x40, 0(%esi)
        jz 7f
        movl 48(%esi), %ebx                 /* mmap_addr */
        movl 44(%esi), %ecx                 /* mmap_length */
        addl %ebx, %ecx                     /* end */
        movl $BASE + (memmap - _start), %edx
        xorl %ebp, %ebp                     /* entry count */
5:      cmpl %ecx, %ebx
        jae 6f
        cmpl $64, %ebp
        jae 6f
        movl 4(%ebx), %eax;  movl %eax, 0(%edx)   /* addr lo */
        movl 8(%ebx), %eax;  movl %eax, 4(%edx)   /* addr hi */
        movl 12(%ebx), %eax; movl %eax, 8(%edx)   /* size lo */
        movl 16(%ebx), %eax; movl %eax, 12(%edx)  /* size hi */
        movl 20(%ebx), %eax; movl %eax, 16(%edx)  /* type */
        movl $0, 20(%edx)
        addl $24, %edx
        incl %ebp
        addl 0(%ebx), %ebx                  /* += size field */
        addl $4, %ebx
        jmp 5b
6:      movl $BASE + (memmap - _start), 40(%edi)  /* memmap_paddr (lo) */
        movl %ebp, 48(%edi)                 /* memmap_entries */
7:      /* COM1 = 115200 8N1 (firmware may leave it at 5 data bits), then
         * print the command line: marks "kernel image loaded" in the log */
        movw $0x3fb, %dx; movb $0x80, %al; outb %al, %dx
        movw $0x3f8, %dx; movb $0x01, %al; outb %al, %dx
        movw $0x3f9, %dx; movb $0x00, %al; outb %al, %dx
        movw $0x3fb, %dx; movb $0x03, %al; outb %al, %dx
        movl 24(%edi), %esi
        testl %esi, %esi
        jz 9f
        movl $BASE + (dbgmsg - _start), %eax
        call puts
        movl %esi, %eax
        call puts
        movl $BASE + (crlf - _start), %eax
        call puts
9:      movl %edi, %ebx                     /* ebx = &hvm_start_info */
        xorl %eax, %eax
        movl %eax, %cr4
        jmp *(BASE + (pvh_entry_ptr - _start))

/* puts: eax = NUL-terminated string -> COM1 (polled) */
puts:   pushl %edx
        pushl %ecx
        movl %eax, %ecx
10:     movb (%ecx), %al
        testb %al, %al
        jz 12f
        movb %al, %ah
        movw $0x3fd, %dx
11:     inb %dx, %al
        testb $0x20, %al
        jz 11b
        movw $0x3f8, %dx
        movb %ah, %al
        outb %al, %dx
        incl %ecx
        jmp 10b
12:     popl %ecx
        popl %edx
        ret
dbgmsg: .asciz "pvh-shim: cmdline: "
crlf:   .asciz "\r\n"

        .balign 16
start_info:                                  /* struct hvm_start_info, version 1 */
        .long PVH_MAGIC, 1, 0, 0            /* magic, version, flags, nr_modules */
        .quad 0                             /* 16: modlist_paddr  */
        .quad 0                             /* 24: cmdline_paddr  */
        .quad 0                             /* 32: rsdp_paddr (0: kernel scans BIOS area) */
        .quad 0                             /* 40: memmap_paddr   */
        .long 0, 0                          /* 48: memmap_entries, reserved */
        .balign 16
modlist:                                     /* struct hvm_modlist_entry */
        .quad 0, 0, 0, 0                    /* paddr, size, cmdline_paddr, reserved */
        .balign 16
memmap:                                      /* 64 * struct hvm_memmap_table_entry */
        .fill 64*24, 1, 0
        .org 4096
