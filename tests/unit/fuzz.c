// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the page-table core. The input bytes are the
 * choices of the model.c driver, one block of MD_BLOCK bytes for the CPU
 * features and the windows, then one for each op (map, unmap, protect,
 * some invalid, some with a failing frame source or a failing
 * allocation), until the input runs out. Every op is
 * checked against the flat model and the whole tree is compared with it
 * (epm_check() included) after every op; any disagreement aborts. Each
 * input ends by destroying the address space, half the time after
 * unmapping everything, and every table pair must be back.
 *
 *	make -C tests/unit fuzz FUZZ_SECONDS=10
 */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

#define FUZZ_MAX_OPS	512

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct md_src src;
	struct md_ctx c;
	unsigned int i;

	/*
	 * Freed pairs are never reused, so a use after free faults; reset
	 * the arena now and then, as quarantined pairs stay resident.
	 */
	if (!epm_user_mem.live && epm_user_mem.allocs > (1u << 14))
		epm_user_reset();
	epm_user_mem.quarantine = true;

	md_src_bytes(&src, data, size);
	if (!md_src_next(&src))
		return 0;
	if (md_init(&c, &src, NULL)) {
		fprintf(stderr, "fuzz: md_init failed\n");
		abort();
	}
	c.check_every = 1;
	c.full_every = 1;
	for (i = 0; i < FUZZ_MAX_OPS && md_src_next(&src); i++) {
		if (md_step(&c))
			break;
	}
	if (md_finish(&c, !md_below(&src, 2))) {
		md_report(&c, "fuzz");
		abort();
	}
	if (epm_user_mem.live) {
		fprintf(stderr, "fuzz: %llu table pairs leaked\n",
			(unsigned long long)epm_user_mem.live);
		abort();
	}
	return 0;
}
