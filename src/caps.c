// SPDX-License-Identifier: GPL-2.0
/*
 * What the CPU offers, read once at load. Every MSR is read with the
 * _safe accessor and only when CPUID says it exists, so this works on any
 * CPU, including one with neither VMX nor SVM.
 */
#include <linux/kernel.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/vmx.h>

#include "main.h"

struct epm_caps epm_caps;
struct epm_hw epm_hw;

/* Allowed-1 settings of a VMX control MSR are its high half. */
static u32 epm_allowed1(u32 msr)
{
	u64 v;

	return rdmsrl_safe(msr, &v) ? 0 : (u32)(v >> 32);
}

static void epm_caps_vmx(struct epm_caps *c)
{
	u64 feat = 0, basic = 0, ept = 0, misc = 0;
	u32 proc, proc2 = 0, pin;

	c->flags |= EPM_CAP_VMX;
	if (!rdmsrl_safe(MSR_IA32_FEAT_CTL, &feat)) {
		c->feature_control = feat;
		if ((feat & FEAT_CTL_LOCKED) &&
		    (feat & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX))
			c->flags |= EPM_CAP_VMX_ON;
	}
	if (rdmsrl_safe(MSR_IA32_VMX_BASIC, &basic))
		return;
	c->vmx_basic = basic;
	if (!rdmsrl_safe(MSR_IA32_VMX_MISC, &misc))
		c->vmx_misc = misc;
	/* bit 55: the TRUE_* control MSRs exist and are the ones to read */
	pin = epm_allowed1(basic & BIT_ULL(55) ? MSR_IA32_VMX_TRUE_PINBASED_CTLS :
			   MSR_IA32_VMX_PINBASED_CTLS);
	proc = epm_allowed1(basic & BIT_ULL(55) ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS :
			    MSR_IA32_VMX_PROCBASED_CTLS);
	if (pin & PIN_BASED_VMX_PREEMPTION_TIMER)
		c->flags |= EPM_CAP_PREEMPT_TIMER;
	if (!(proc & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS))
		return;
	if (!rdmsrl_safe(MSR_IA32_VMX_PROCBASED_CTLS2, &c->vmx_procbased2))
		proc2 = (u32)(c->vmx_procbased2 >> 32);
	if (proc2 & SECONDARY_EXEC_UNRESTRICTED_GUEST)
		c->flags |= EPM_CAP_UNRESTRICTED;
	if (proc2 & SECONDARY_EXEC_ENABLE_VPID)
		c->flags |= EPM_CAP_VPID;
	if (!(proc2 & (SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_ENABLE_VPID)) ||
	    rdmsrl_safe(MSR_IA32_VMX_EPT_VPID_CAP, &ept))
		return;
	c->vmx_ept_vpid_cap = ept;
	if (!(proc2 & SECONDARY_EXEC_ENABLE_EPT))
		return;
	c->flags |= EPM_CAP_EPT;
	if (ept & VMX_EPT_EXECUTE_ONLY_BIT)
		c->flags |= EPM_CAP_EPT_X_ONLY;
	if (ept & VMX_EPT_PAGE_WALK_4_BIT)
		c->flags |= EPM_CAP_EPT_WALK4;
	if (ept & VMX_EPTP_WB_BIT)
		c->flags |= EPM_CAP_EPT_WB;
	if (ept & VMX_EPT_2MB_PAGE_BIT)
		c->flags |= EPM_CAP_EPT_2M;
	if (ept & VMX_EPT_1GB_PAGE_BIT)
		c->flags |= EPM_CAP_EPT_1G;
	if (ept & VMX_EPT_INVEPT_BIT)
		c->flags |= EPM_CAP_INVEPT;
	if (ept & VMX_EPT_AD_BIT)
		c->flags |= EPM_CAP_EPT_AD;
	if (ept & VMX_EPT_EXTENT_CONTEXT_BIT)
		c->flags |= EPM_CAP_INVEPT_SINGLE;
	if (ept & VMX_EPT_EXTENT_GLOBAL_BIT)
		c->flags |= EPM_CAP_INVEPT_ALL;
}

void epm_caps_init(void)
{
	struct epm_caps *c = &epm_caps;

	memset(c, 0, sizeof(*c));
	c->api_version = EPM_API_VERSION;
	c->maxphyaddr = boot_cpu_data.x86_phys_bits;
	/* raw CPUID, not X86_FEATURE_VMX: the kernel hides a disabled VMX */
	if (boot_cpu_data.cpuid_level >= 1 && (cpuid_ecx(1) & BIT(5)))
		epm_caps_vmx(c);
	if (boot_cpu_has(X86_FEATURE_SVM)) {
		c->flags |= EPM_CAP_SVM;
		if (boot_cpu_data.extended_cpuid_level >= 0x8000000a)
			c->svm_features = cpuid_edx(0x8000000a);
		if (c->svm_features & BIT(0))
			c->flags |= EPM_CAP_NPT;
	}
	if (boot_cpu_has(X86_FEATURE_GBPAGES))
		c->flags |= EPM_CAP_HOST_1G;

	/*
	 * What the core may build. Without EPT no CPU walks the EPT half, so
	 * it takes the sizes the KPT half can; execute-only needs the EPT bit
	 * because the KPT cannot say "not readable" for anyone else.
	 */
	epm_hw.ept_2m = !(c->flags & EPM_CAP_EPT) || (c->flags & EPM_CAP_EPT_2M);
	epm_hw.ept_1g = !(c->flags & EPM_CAP_EPT) || (c->flags & EPM_CAP_EPT_1G);
	epm_hw.kpt_1g = c->flags & EPM_CAP_HOST_1G;
	epm_hw.exec_only = c->flags & EPM_CAP_EPT_X_ONLY;
	c->map_sizes = BIT(EPM_PAGE_4K);
	if (epm_hw.ept_2m)
		c->map_sizes |= BIT(EPM_PAGE_2M);
	if (epm_hw.ept_1g && epm_hw.kpt_1g)
		c->map_sizes |= BIT(EPM_PAGE_1G);
}
