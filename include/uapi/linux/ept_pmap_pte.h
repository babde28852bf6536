/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * ept-pmap: the bits of the two page-table formats it writes in lockstep,
 * as EPM_IOC_DUMP, EPM_IOC_QUERY and EPM_IOC_CHECK return them. The module
 * (src/pte.h), libept-pmap and eptctl all take them from here.
 *
 * KPT: the x86-64 4-level format (Intel SDM vol. 3A 4.5, AMD APM vol. 2
 *      5.3), used as-is by AMD nested paging.
 * EPT: Intel extended page tables (SDM vol. 3C 29.3).
 *
 * Every table is one order-1 allocation: the KPT table is the lower 4 KiB
 * page and its EPT twin the upper one, so for any table pair
 *
 *	EPT table address == KPT table address + 4 KiB
 *
 * and entry i of the EPT table sits EPM_PTRS entries after entry i of the
 * KPT table. Besides the architectural bits, each format has one software
 * bit (ignored by the hardware) that the module sets on leaves whose frames
 * it pinned for write: KPTE_SW_PINW and EPTE_SW_PINW.
 */
#ifndef _UAPI_LINUX_EPT_PMAP_PTE_H
#define _UAPI_LINUX_EPT_PMAP_PTE_H

#include <linux/const.h>

#define EPM_PAGE_SHIFT		12
#define EPM_PAGE_SIZE		_BITULL(EPM_PAGE_SHIFT)
#define EPM_PTRS_SHIFT		9
#define EPM_PTRS		(1U << EPM_PTRS_SHIFT)	/* entries per table */
#define EPM_PAIR_SIZE		(2 * EPM_PAGE_SIZE)	/* one table pair */
#define EPM_LEVELS		4	/* PML4 = 4 ... PT = 1 */
#define EPM_GPA_BITS		48
#define EPM_GPA_LIMIT		_BITULL(EPM_GPA_BITS)

/* Bytes one entry at @level maps: 4K at 1, 2M at 2, 1G at 3, 512G at 4. */
#define EPM_LEVEL_SHIFT(level)	(EPM_PAGE_SHIFT + EPM_PTRS_SHIFT * ((level) - 1))
#define EPM_LEVEL_SIZE(level)	_BITULL(EPM_LEVEL_SHIFT(level))
#define EPM_SIZE_4K		EPM_LEVEL_SIZE(1)
#define EPM_SIZE_2M		EPM_LEVEL_SIZE(2)
#define EPM_SIZE_1G		EPM_LEVEL_SIZE(3)

/* Physical address field of either format: bits 51:12. */
#define EPM_PTE_ADDR		0x000ffffffffff000ULL

/* KPT (x86-64 host format) */
#define KPTE_P			_BITULL(0)	/* present */
#define KPTE_W			_BITULL(1)	/* writable */
#define KPTE_U			_BITULL(2)	/* user (NPT walks are user) */
#define KPTE_PWT		_BITULL(3)	/* PAT index bit 0 */
#define KPTE_PCD		_BITULL(4)	/* PAT index bit 1 */
#define KPTE_A			_BITULL(5)	/* accessed */
#define KPTE_D			_BITULL(6)	/* dirty (leaves) */
#define KPTE_PS			_BITULL(7)	/* 2M/1G leaf (levels 2, 3) */
#define KPTE_PAT_4K		_BITULL(7)	/* PAT index bit 2, 4K leaves */
#define KPTE_G			_BITULL(8)	/* global (never set by us) */
#define KPTE_SW_PINW		_BITULL(9)	/* ignored by hardware: ours */
#define KPTE_PAT_LARGE		_BITULL(12)	/* PAT index bit 2, 2M/1G */
#define KPTE_NX			_BITULL(63)	/* no execute */
#define KPTE_TABLE		(KPTE_P | KPTE_W | KPTE_U)

/* EPT */
#define EPTE_R			_BITULL(0)	/* read */
#define EPTE_W			_BITULL(1)	/* write */
#define EPTE_X			_BITULL(2)	/* execute */
#define EPTE_MT_SHIFT		3		/* memory type, bits 5:3 */
#define EPTE_MT_MASK		(7ULL << EPTE_MT_SHIFT)
#define EPTE_IPAT		_BITULL(6)	/* ignore guest PAT */
#define EPTE_PS			_BITULL(7)	/* 2M/1G leaf (levels 2, 3) */
#define EPTE_A			_BITULL(8)	/* accessed (EPTP A/D on) */
#define EPTE_D			_BITULL(9)	/* dirty (leaves, A/D on) */
#define EPTE_XU			_BITULL(10)	/* user execute (MBEC; never set) */
#define EPTE_SW_PINW		_BITULL(11)	/* ignored by hardware: ours */
#define EPTE_SVE		_BITULL(63)	/* suppress #VE (never set) */
#define EPTE_TABLE		(EPTE_R | EPTE_W | EPTE_X)

/* Memory types as EPT (and the MTRRs) number them. */
#define EPM_MT_UC		0
#define EPM_MT_WC		1
#define EPM_MT_WT		4
#define EPM_MT_WP		5
#define EPM_MT_WB		6

/*
 * EPT pointer (SDM vol. 3C 25.6.11): memory type of the paging structures
 * in bits 2:0, page-walk length minus one in bits 5:3, A/D enable bit 6.
 */
#define EPTP_MT_MASK		7ULL
#define EPTP_MT_WB		6ULL
#define EPTP_WALK_SHIFT		3
#define EPTP_WALK_MASK		(7ULL << EPTP_WALK_SHIFT)
#define EPTP_WALK_4		(3ULL << EPTP_WALK_SHIFT)
#define EPTP_AD			_BITULL(6)

#endif /* _UAPI_LINUX_EPT_PMAP_PTE_H */
