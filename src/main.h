/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module's rooms share: the CPU capabilities read at load and
 * the per-file address space ("space") the device and memory layers use.
 */
#ifndef _EPM_MAIN_H
#define _EPM_MAIN_H

#include <linux/build_bug.h>
#include <linux/mutex.h>
#include <linux/mm_types.h>
#include <linux/ept_pmap.h>

#include "pmap.h"

/* MAP flags and PROTECT perm reach the core's attr unchanged (dev.c). */
static_assert(EPM_PERM_R == EPM_ATTR_R);
static_assert(EPM_PERM_W == EPM_ATTR_W);
static_assert(EPM_PERM_X == EPM_ATTR_X);
static_assert(EPM_PERM_ALL == EPM_ATTR_PERM);

/* Read once at load by epm_caps_init(), constant afterwards. */
extern struct epm_caps epm_caps;
extern struct epm_hw epm_hw;

struct epm_vmx;

/* One open file of /dev/ept-pmap. */
struct epm_space {
	struct mutex lock;		/* serialises everything below */
	struct epm_pmap pm;
	struct mm_struct *mm;		/* whose pages may be mapped */
	struct user_struct *user;	/* the opener's: charged for the pins */
	bool admin;			/* opener had CAP_SYS_ADMIN: show hpas */
	u64 pinned;			/* 4 KiB pages pinned and charged */
	u64 flushes;
	u64 runs;
	u64 exits[EPM_EXIT_KINDS];
	struct epm_vmx *vmx;		/* the launcher's, made by the first RUN */
	bool running;			/* a thread is in RUN */
};

void epm_caps_init(void);
int epm_selftest(void);

int epm_mem_map(struct epm_space *sp, u64 gpa, u64 size, u64 uaddr, u32 attr,
		u64 max_page);
int epm_mem_unmap(struct epm_space *sp, u64 gpa, u64 size);
void epm_mem_destroy(struct epm_space *sp);

void epm_vmx_init(void);
void epm_vmx_exit_module(void);
void epm_vmx_free(struct epm_space *sp);
u64 epm_vmx_invepts(const struct epm_space *sp);
int epm_vmx_run(struct epm_space *sp, struct epm_run *r);

int epm_dev_init(void);
void epm_dev_exit(void);

#endif /* _EPM_MAIN_H */
