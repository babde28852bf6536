/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small test tally for the userspace core tests. Each check prints a
 * line only when it fails (file:line, expression, values); each test
 * function ends with one "ok"/"not ok" line; unit_main prints the closing
 * "N passed, M failed".
 */
#ifndef _EPM_UNIT_H
#define _EPM_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../src/pmap.h"

struct unit_tally {
	unsigned long passed;
	unsigned long failed;
	unsigned long checks_failed_here;	/* in the running test */
};

extern struct unit_tally unit_tally;

#define UNIT_EXPECT_EQ(want, got) do {					\
	unsigned long long _w = (unsigned long long)(want);		\
	unsigned long long _g = (unsigned long long)(got);		\
	if (_w != _g) {							\
		unit_tally.checks_failed_here++;			\
		fprintf(stderr, "%s:%d: %s == %s: want 0x%llx, got 0x%llx\n", \
			__FILE__, __LINE__, #want, #got, _w, _g);	\
	}								\
} while (0)

#define UNIT_EXPECT(cond) do {						\
	if (!(cond)) {							\
		unit_tally.checks_failed_here++;			\
		fprintf(stderr, "%s:%d: expected %s\n", __FILE__,	\
			__LINE__, #cond);				\
	}								\
} while (0)

/*
 * Run one test and count it: it passes when no check failed in it and
 * epm_user_mem.live is back to what it was (no table pair leaked).
 */
#define UNIT_TEST(fn) unit_run(#fn, fn)
void unit_run(const char *name, void (*fn)(void));

/* Entry points of the test files, each runs its own UNIT_RUNs. */
void unit_cases(void);
void unit_model(unsigned long long seed, unsigned long ops);
void unit_failinj(void);

#endif /* _EPM_UNIT_H */
