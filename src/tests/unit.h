/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The smallest unit-test harness that reports where it failed.
 */

#include <stdio.h>
#include <stdlib.h>

static int unit_failures;
static int unit_checks;

#define CHECK(cond)							\
	do {								\
		unit_checks++;						\
		if (!(cond)) {						\
			unit_failures++;				\
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",	\
			    __FILE__, __LINE__, #cond);			\
		}							\
	} while (0)

static inline int
unit_report(const char *name)
{

	printf("%s: %d checks, %d failed\n", name, unit_checks,
	    unit_failures);
	return (unit_failures ? EXIT_FAILURE : EXIT_SUCCESS);
}
