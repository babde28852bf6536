// SPDX-License-Identifier: GPL-2.0
/*
 * ept-pmap: a guest address space built as KPT and EPT tables in lockstep.
 * Module entry: the core self-test (optional) runs first, the device is
 * published last.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

#include "main.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static bool selftest;
module_param(selftest, bool, 0444);
MODULE_PARM_DESC(selftest, "Run the page-table core self-test at load");

static int __init epm_init(void)
{
	int ret;

	if (selftest) {
		ret = epm_selftest();

		pr_info("self-test: %s\n", ret ? "FAIL" : "pass");
		if (ret)
			return ret;
	}
	epm_caps_init();
	epm_vmx_init();
	/* published last: from here on userspace can reach us */
	ret = epm_dev_init();
	if (ret)
		epm_vmx_exit_module();
	return ret;
}

static void __exit epm_exit(void)
{
	epm_dev_exit();
	epm_vmx_exit_module();
}

module_init(epm_init);
module_exit(epm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Guest address spaces as x86-64 and EPT page tables in lockstep");
MODULE_AUTHOR("The ept-pmap developers");
MODULE_VERSION("0.1");
