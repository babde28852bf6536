// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace tests of the page-table core: table-driven cases, a model-based
 * random run and allocation-failure injection. Usage:
 *	unit [-s SEED] [-n OPS]
 * Prints one line per test and closes with "N passed, M failed".
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

struct unit_tally unit_tally;

void unit_run(const char *name, void (*fn)(void))
{
	u64 live = epm_user_mem.live;

	unit_tally.checks_failed_here = 0;
	fn();
	if (epm_user_mem.live != live) {
		fprintf(stderr, "%s: %lld table pairs leaked\n", name,
			(long long)(epm_user_mem.live - live));
		unit_tally.checks_failed_here++;
	}
	if (unit_tally.checks_failed_here) {
		unit_tally.failed++;
		printf("not ok %lu %s\n", unit_tally.passed + unit_tally.failed,
		       name);
	} else {
		unit_tally.passed++;
		printf("ok %lu %s\n", unit_tally.passed + unit_tally.failed,
		       name);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned long long seed = (unsigned long long)time(NULL) ^
				  ((unsigned long long)getpid() << 16);
	unsigned long ops = 200000;
	int opt;

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			ops = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-n OPS]\n",
				argv[0]);
			return 2;
		}
	}
	/* Freed pairs become inaccessible: a use after free crashes here. */
	epm_user_mem.quarantine = true;
	unit_cases();
	unit_failinj();
	unit_model(seed, ops);
	printf("%lu passed, %lu failed\n", unit_tally.passed, unit_tally.failed);
	return unit_tally.failed ? 1 : 0;
}
