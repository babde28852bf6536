/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bits of the two page-table formats that ept-pmap writes in lockstep.
 * They are part of the ABI (DUMP, QUERY and CHECK return raw entries), so
 * they live in include/uapi/linux/ept_pmap_pte.h, shared with libept-pmap
 * and eptctl; that header also states the "EPT table == KPT table + 4 KiB"
 * layout of a table pair.
 */
#ifndef _EPM_PTE_H
#define _EPM_PTE_H

#include <linux/ept_pmap_pte.h>

#endif /* _EPM_PTE_H */
