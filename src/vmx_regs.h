/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Offsets of the fields of struct epm_regs (include/uapi/linux/ept_pmap.h)
 * that vmx_entry.S loads and stores. Plain numbers, so the assembler can
 * read them; src/vmx.c static_asserts each against offsetof().
 */
#ifndef _EPM_VMX_REGS_H
#define _EPM_VMX_REGS_H

#define EPM_R_RAX	0
#define EPM_R_RBX	8
#define EPM_R_RCX	16
#define EPM_R_RDX	24
#define EPM_R_RSI	32
#define EPM_R_RDI	40
#define EPM_R_RSP	48
#define EPM_R_RBP	56
#define EPM_R_R8	64
#define EPM_R_R9	72
#define EPM_R_R10	80
#define EPM_R_R11	88
#define EPM_R_R12	96
#define EPM_R_R13	104
#define EPM_R_R14	112
#define EPM_R_R15	120

/* VMCS field encoding of HOST_RSP (SDM Vol. 3D, Appendix B.4.4) */
#define EPM_VMCS_HOST_RSP	0x6c14

#endif /* _EPM_VMX_REGS_H */
