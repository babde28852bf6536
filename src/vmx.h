/* SPDX-License-Identifier: GPL-2.0 */
/* The assembly side of the launcher (vmx_entry.S). */
#ifndef _EPM_VMX_H
#define _EPM_VMX_H

#include <linux/ept_pmap.h>

/* 0 after a VM exit, 1 when VMLAUNCH/VMRESUME failed. */
int epm_vmx_enter(struct epm_regs *regs, unsigned long launched);
/* HOST_RIP: where a VM exit lands, inside epm_vmx_enter(). */
extern char epm_vmx_exit[];
/* Called by vmx_entry.S after every VM exit and VM-entry failure. */
void epm_vmx_spec_ctrl_host(void);

#endif /* _EPM_VMX_H */
