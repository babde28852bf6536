/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The only door from the page-table core (pmap.c) to its environment.
 *
 * In the kernel it maps onto the page allocator and the direct map. Built
 * without __KERNEL__, it pulls in tests/unit/env_user.h instead: the same
 * names backed by malloc()ed "physical" memory behind a fake phys<->virt
 * map, so the unit tests, sanitizers, the fuzzer and the benchmark run the
 * very same pmap.c.
 *
 * What the core needs:
 *   epm_pair_alloc()   one zeroed, 4 KiB aligned, 8 KiB table pair, or NULL
 *   epm_pair_free(va)  give a pair back
 *   epm_pa(va)         physical address of a table page
 *   epm_va(pa)         table page at a physical address (a pair's halves)
 *   epm_set_pte(p, v)  one untorn store (hardware may walk concurrently)
 *   epm_cond_resched() a point where long work may yield the CPU
 *   epm_fatal_signal() true when the caller is being killed: long work
 *                      that can be undone stops (-EINTR) and undoes it
 */
#ifndef _EPM_ENV_H
#define _EPM_ENV_H

#ifdef __KERNEL__

#include <linux/bits.h>
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/compiler.h>
#include <asm/io.h>

static inline void *epm_pair_alloc(void)
{
	struct page *page = alloc_pages(GFP_KERNEL_ACCOUNT | __GFP_ZERO, 1);

	return page ? page_address(page) : NULL;
}

static inline void epm_pair_free(void *pair)
{
	free_pages((unsigned long)pair, 1);
}

static inline u64 epm_pa(const void *va)
{
	return virt_to_phys((void *)va);
}

static inline void *epm_va(u64 pa)
{
	return phys_to_virt(pa);
}

#define epm_set_pte(ptep, val)	WRITE_ONCE(*(ptep), (val))
#define epm_cond_resched()	cond_resched()
#define epm_fatal_signal()	fatal_signal_pending(current)

#else /* !__KERNEL__ */

#include "env_user.h"

#endif /* __KERNEL__ */

#endif /* _EPM_ENV_H */
