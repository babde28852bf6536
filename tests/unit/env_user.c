// SPDX-License-Identifier: GPL-2.0
/*
 * Fake physical memory for the userspace build of the core.
 *
 * Pairs come from one big reserved arena: pair n lives at arena + n * 8 KiB
 * and has the fake physical address EPM_USER_PHYS_BASE + n * 8 KiB, so both
 * directions are arithmetic (the benchmark needs that to be cheap) and a
 * physical address used as a pointer faults. With epm_user_mem.quarantine
 * set, a freed pair is made inaccessible and never reused, so any later
 * touch of it crashes the test at the guilty line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "env_user.h"

#define PAIR		8192ULL
#define ARENA_PAIRS	(1ULL << 23)		/* 64 GiB of address space */

struct epm_user_mem epm_user_mem;

static char *arena;
static u8 *live;		/* live[n]: pair n is allocated */
static u64 next_fresh;		/* pairs never handed out start here */
static u64 *free_list;
static u64 nr_free;

static void epm_user_die(const char *what, u64 v)
{
	fprintf(stderr, "env_user: %s 0x%llx\n", what, (unsigned long long)v);
	abort();
}

static void epm_user_setup(void)
{
	arena = mmap(NULL, ARENA_PAIRS * PAIR, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	live = calloc(ARENA_PAIRS, 1);
	free_list = malloc(ARENA_PAIRS * sizeof(*free_list));
	if (arena == MAP_FAILED || !live || !free_list)
		epm_user_die("cannot reserve the arena", ARENA_PAIRS * PAIR);
}

void *epm_pair_alloc(void)
{
	u64 n;
	char *pair;

	epm_user_mem.attempts++;
	if (epm_user_mem.fail_at &&
	    epm_user_mem.attempts == epm_user_mem.fail_at) {
		epm_user_mem.failed++;
		return NULL;
	}
	if (!arena)
		epm_user_setup();
	if (nr_free && !epm_user_mem.quarantine)
		n = free_list[--nr_free];
	else if (next_fresh < ARENA_PAIRS)
		n = next_fresh++;
	else
		return NULL;
	pair = arena + n * PAIR;
	memset(pair, 0, PAIR);
	live[n] = 1;
	epm_user_mem.allocs++;
	epm_user_mem.live++;
	return pair;
}

static u64 epm_user_slot(const void *va)
{
	u64 off = (u64)((const char *)va - arena);

	if (!arena || (const char *)va < arena || off >= next_fresh * PAIR ||
	    !live[off / PAIR])
		epm_user_die("not a live table page at", (u64)(uintptr_t)va);
	return off / PAIR;
}

void epm_pair_free(void *pair)
{
	u64 n = epm_user_slot(pair);

	if ((char *)pair != arena + n * PAIR)
		epm_user_die("freeing the inside of a pair at", n);
	live[n] = 0;
	epm_user_mem.live--;
	epm_user_mem.frees++;
	if (epm_user_mem.quarantine) {
		if (mprotect(pair, PAIR, PROT_NONE))
			epm_user_die("mprotect failed on pair", n);
		return;
	}
	free_list[nr_free++] = n;
}

u64 epm_pa(const void *va)
{
	u64 n = epm_user_slot(va);

	return EPM_USER_PHYS_BASE + n * PAIR + ((const char *)va - arena) % PAIR;
}

void *epm_va(u64 pa)
{
	u64 n = (pa - EPM_USER_PHYS_BASE) / PAIR;

	if (pa < EPM_USER_PHYS_BASE || n >= next_fresh || !live[n])
		epm_user_die("not a live table page:", pa);
	return arena + (pa - EPM_USER_PHYS_BASE);
}

u64 epm_user_reset(void)
{
	u64 leaked = epm_user_mem.live;

	if (arena)
		munmap(arena, ARENA_PAIRS * PAIR);
	free(live);
	free(free_list);
	arena = NULL;
	live = NULL;
	free_list = NULL;
	next_fresh = nr_free = 0;
	memset(&epm_user_mem, 0, sizeof(epm_user_mem));
	return leaked;
}
