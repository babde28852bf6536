// SPDX-License-Identifier: GPL-2.0
/*
 * Model-based random test of the core: long random sequences of map,
 * unmap and protect (some invalid, some with allocation failures or frame
 * source errors injected) checked op by op against the flat model of
 * model.c. Every choice comes from one seed, so a failure reproduces with
 * "unit -s SEED -n OPS".
 *
 * The run is cut into segments of MODEL_SEGMENT ops, each on a fresh
 * address space with its own CPU features and windows, ending with
 * "unmap everything, then destroy" and the frame accounting. After every
 * second segment the fake physical arena is reset: with quarantine on,
 * freed pairs stay resident, so one long run would only grow.
 *
 * Quarantine (set by unit_main) is on in even segments, where a use of a
 * freed pair faults at once, and off in odd ones, where freed pairs are
 * reused at once so that a stale pointer corrupts a live table and the
 * checks below see it. That also halves what quarantine costs: an
 * mprotect() and two fresh pages per table freed, about 40% of the run.
 *
 * What is checked, and how often (the cost of a check of the whole tree
 * grows with the tree, here up to a couple of hundred pairs, and a check
 * per op would make 200000 ops under ASan and UBSan take minutes):
 *   every op    the errno; the frames released, exactly; mapped[] against
 *               the model; live pairs == nr_pairs; 8 translations, each
 *               leaf's bits and its whole span against the model; every
 *               leaf within 2M of the op's range against the model; a
 *               failed op made no allocation if validation failed, else
 *               left a digest of the entries near its range unchanged;
 *   every MODEL_CHECK_EVERY ops   epm_check();
 *   every MODEL_FULL_EVERY ops and at the end of each segment
 *               epm_check() and every leaf against the model.
 * A disagreement stops the run at once with the op that caused it.
 */
#include "unit.h"
#include "model.h"

#define MODEL_SEGMENT		10000
#define MODEL_CHECK_EVERY	64
#define MODEL_FULL_EVERY	256

static u64 model_seed;
static unsigned long model_ops;

static void model_add_stats(struct md_stats *sum, const struct md_stats *st)
{
	unsigned int i;

	sum->ops += st->ops;
	sum->map_ok += st->map_ok;
	sum->map_err += st->map_err;
	sum->unmap_ok += st->unmap_ok;
	sum->unmap_err += st->unmap_err;
	sum->protect_ok += st->protect_ok;
	sum->protect_err += st->protect_err;
	sum->enomem += st->enomem;
	sum->faults += st->faults;
	sum->splits += st->splits;
	sum->full += st->full;
	for (i = 0; i < EPM_LEVELS; i++)
		sum->xlate[i] += st->xlate[i];
	if (st->max_pairs > sum->max_pairs)
		sum->max_pairs = st->max_pairs;
	if (st->max_ext > sum->max_ext)
		sum->max_ext = st->max_ext;
	if (st->max_1g > sum->max_1g)
		sum->max_1g = st->max_1g;
	if (st->max_2m > sum->max_2m)
		sum->max_2m = st->max_2m;
}

/*
 * The CPUs of the first segments, so that even a short run sees each
 * restriction; later segments draw theirs.
 */
static const struct epm_hw model_hw[] = {
	{ .ept_2m = true, .ept_1g = true, .kpt_1g = true, .exec_only = true },
	{ .ept_2m = true, .ept_1g = true, .kpt_1g = true },
	{ .ept_2m = true, .ept_1g = true, .exec_only = true },
	{ .ept_2m = true, .kpt_1g = true },
	{ .kpt_1g = true, .exec_only = true },
};

static void test_model_random(void)
{
	struct md_stats sum = { 0 };
	bool quarantine = epm_user_mem.quarantine;
	unsigned long done = 0, seg = 0, n, i;
	bool ok = false;
	struct md_src src;
	struct md_ctx c;

	md_src_seed(&src, model_seed);
	while (done < model_ops) {
		n = model_ops - done;
		if (n > MODEL_SEGMENT)
			n = MODEL_SEGMENT;
		epm_user_mem.quarantine = quarantine && !(seg & 1);
		if (md_init(&c, &src, seg < ARRAY_SIZE(model_hw) ?
				&model_hw[seg] : NULL)) {
			UNIT_EXPECT(!"md_init failed");
			break;
		}
		c.check_every = MODEL_CHECK_EVERY;
		c.full_every = MODEL_FULL_EVERY;
		for (i = 0; i < n; i++) {
			if (md_step(&c))
				break;
		}
		ok = !md_finish(&c, true);
		if (!ok) {
			fprintf(stderr, "model: seed 0x%llx segment %lu (hw 2m %d 1g %d/%d xo %d, window 0x%llx), rerun with -s 0x%llx -n %lu:\n",
				(unsigned long long)model_seed, seg,
				c.pm.hw.ept_2m, c.pm.hw.ept_1g, c.pm.hw.kpt_1g,
				c.pm.hw.exec_only,
				(unsigned long long)c.reg[0],
				(unsigned long long)model_seed, done + n);
			md_report(&c, "model");
			UNIT_EXPECT(!"the core disagrees with the model");
			break;
		}
		model_add_stats(&sum, &c.st);
		done += n;
		if ((seg++ & 1) && !epm_user_mem.live)
			epm_user_reset();
	}
	epm_user_mem.quarantine = quarantine;
	if (!ok)
		return;
	printf("# model: %llu ops: map %llu ok %llu failed, unmap %llu/%llu, protect %llu/%llu\n",
	       (unsigned long long)sum.ops, (unsigned long long)sum.map_ok,
	       (unsigned long long)sum.map_err,
	       (unsigned long long)sum.unmap_ok,
	       (unsigned long long)sum.unmap_err,
	       (unsigned long long)sum.protect_ok,
	       (unsigned long long)sum.protect_err);
	printf("# model: %llu ENOMEM and %llu frame faults hit, %llu split pairs, %llu full checks\n",
	       (unsigned long long)sum.enomem, (unsigned long long)sum.faults,
	       (unsigned long long)sum.splits, (unsigned long long)sum.full);
	printf("# model: translations hit 4K %llu 2M %llu 1G %llu; at most %llu pairs, %llu extents, %llu GiB in 1G and %llu MiB in 2M leaves\n",
	       (unsigned long long)sum.xlate[0],
	       (unsigned long long)sum.xlate[1],
	       (unsigned long long)sum.xlate[2],
	       (unsigned long long)sum.max_pairs,
	       (unsigned long long)sum.max_ext,
	       (unsigned long long)(sum.max_1g >> 30),
	       (unsigned long long)(sum.max_2m >> 20));
	/* The run must have exercised what it is for. */
	UNIT_EXPECT(sum.ops >= model_ops);
	if (model_ops >= 10000) {
		UNIT_EXPECT(sum.xlate[1] && sum.xlate[2] && sum.splits);
		UNIT_EXPECT(sum.enomem && sum.faults);
		UNIT_EXPECT(sum.map_ok && sum.unmap_ok && sum.protect_ok);
		UNIT_EXPECT(sum.map_err && sum.unmap_err && sum.protect_err);
	}
}

void unit_model(unsigned long long seed, unsigned long ops)
{
	printf("# model: seed 0x%llx ops %lu\n", seed, ops);
	fflush(stdout);
	model_seed = seed;
	model_ops = ops;
	UNIT_TEST(test_model_random);
}
