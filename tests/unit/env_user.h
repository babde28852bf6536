/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace twin of the kernel half of src/env.h.
 *
 * "Physical" memory is an arena of 8 KiB pairs (env_user.c): pair n has
 * the fake physical address EPM_USER_PHYS_BASE + n * 8 KiB, so a physical
 * address used as a pointer (or the reverse) faults instead of working by
 * accident. epm_va() and epm_pa() abort on an address that is not in a
 * live pair.
 */
#ifndef _EPM_ENV_USER_H
#define _EPM_ENV_USER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint64_t u64;
typedef uint32_t u32;
typedef uint16_t u16;
typedef uint8_t u8;

#define BIT(n)			(1U << (n))
#define BIT_ULL(n)		(1ULL << (n))

#define EPM_USER_PHYS_BASE	0x000f000000000000ULL /* not a user pointer */

struct epm_user_mem {
	u64 allocs;		/* successful allocations so far */
	u64 frees;
	u64 live;		/* pairs allocated and not freed */
	bool quarantine;	/* freed pairs become PROT_NONE, never reused */
	u64 attempts;		/* allocation attempts so far */
	u64 fail_at;		/* fail attempt number fail_at (1-based); 0: never */
	u64 failed;		/* allocations refused by fail_at */
};

extern struct epm_user_mem epm_user_mem;

void *epm_pair_alloc(void);
void epm_pair_free(void *pair);
u64 epm_pa(const void *va);
void *epm_va(u64 pa);
/* Drop the whole arena (end of a test); returns the pairs still live. */
u64 epm_user_reset(void);

#define epm_set_pte(ptep, val)	(*(volatile u64 *)(ptep) = (val))
#define epm_cond_resched()	do { } while (0)
#define epm_fatal_signal()	0

#endif /* _EPM_ENV_USER_H */
