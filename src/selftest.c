// SPDX-License-Identifier: GPL-2.0
/*
 * A short in-kernel run of the page-table core, for the VM lane: the same
 * pmap.c the unit tests cover in userspace, here against the real page
 * allocator and direct map. Frames are made-up addresses: the core never
 * touches them and these tables are never given to hardware.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/printk.h>

#include "main.h"
#include "pmap.h"

#define ST_HPA	0x4000000000ULL		/* 256 GiB: a 1G-aligned fake frame */

static int epm_st_frame(void *arg, u64 gpa, u64 *hpa, u64 *contig)
{
	*hpa = ST_HPA + gpa;
	*contig = EPM_SIZE_1G * 4;
	return 0;
}

static void epm_st_release(void *arg, u64 hpa, u64 size, u32 attr)
{
	*(u64 *)arg += size;
}

/* A failed expectation is logged and fails the run; the run goes on. */
#define ST_EXPECT(cond) do {						\
	if (!(cond)) {							\
		pr_err("self-test: %s:%d: %s\n", __FILE__, __LINE__,	\
		       #cond);						\
		ret = -EINVAL;						\
	}								\
} while (0)

int epm_selftest(void)
{
	struct epm_hw hw = { .ept_2m = true, .ept_1g = true, .kpt_1g = true };
	struct epm_map_req req = {
		.gpa = EPM_SIZE_1G - EPM_SIZE_2M - EPM_SIZE_4K,
		.size = EPM_SIZE_1G + 2 * (EPM_SIZE_2M + EPM_SIZE_4K),
		.attr = EPM_ATTR_R | EPM_ATTR_W | EPM_ATTR_MT(EPM_MT_WB),
		.max_page = EPM_SIZE_1G,
		.frame = epm_st_frame,
	};
	struct epm_mismatch bad;
	struct epm_xlate x;
	struct epm_pmap pm;
	u64 released = 0;
	int ret;

	ret = epm_pmap_init(&pm, &hw);
	if (ret)
		return ret;
	ST_EXPECT(!epm_map(&pm, &req));
	ST_EXPECT(epm_map(&pm, &req) == -EEXIST);
	/* 4K + 2M below the 1G leaf, 2M + 4K above it */
	ST_EXPECT(pm.mapped[0] == 2 * EPM_SIZE_4K);
	ST_EXPECT(pm.mapped[1] == 2 * EPM_SIZE_2M);
	ST_EXPECT(pm.mapped[2] == EPM_SIZE_1G);
	ST_EXPECT(!epm_check(&pm, &bad));
	ST_EXPECT(!epm_translate(&pm, EPM_SIZE_1G + 0x123456, &x));
	ST_EXPECT(x.level == 3 && x.hpa == ST_HPA + EPM_SIZE_1G + 0x123456);
	ST_EXPECT(x.kpt_hpa == x.hpa);
	/* a hole in the middle of the 1G leaf: 511 2M leaves + 511 4K */
	ST_EXPECT(!epm_unmap(&pm, EPM_SIZE_1G + 0x5000, EPM_SIZE_4K,
			     epm_st_release, &released));
	ST_EXPECT(released == EPM_SIZE_4K);
	ST_EXPECT(pm.mapped[2] == 0);
	ST_EXPECT(pm.mapped[1] == 2 * EPM_SIZE_2M + 511 * EPM_SIZE_2M);
	ST_EXPECT(pm.mapped[0] == 2 * EPM_SIZE_4K + 511 * EPM_SIZE_4K);
	ST_EXPECT(epm_translate(&pm, EPM_SIZE_1G + 0x5000, &x) == -ENOENT);
	ST_EXPECT(!epm_protect(&pm, EPM_SIZE_1G + 0x200000, EPM_SIZE_4K,
			       EPM_ATTR_R));
	ST_EXPECT(!epm_translate(&pm, EPM_SIZE_1G + 0x200000, &x));
	ST_EXPECT(x.level == 1 && (x.attr & EPM_ATTR_PERM) == EPM_ATTR_R);
	ST_EXPECT(epm_protect(&pm, EPM_SIZE_1G, EPM_SIZE_2M, EPM_ATTR_R) ==
		  -ENOENT);
	ST_EXPECT(!epm_check(&pm, &bad));
	if (ret)
		pr_err("self-test: %llu mismatches\n", epm_check(&pm, &bad));
	epm_pmap_destroy(&pm, epm_st_release, &released);
	if (!ret && released != req.size)
		ret = -EINVAL;
	return ret;
}
