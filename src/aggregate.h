/* aggregate.h - the summary aggregates of migration 008 (aggregate_datasets,
 * aggregate_scores), which triggers keep up to date: compare them with a
 * full recomputation from the rows (`ragrade admin check`) and rebuild
 * them (`ragrade admin reaggregate`). Both read every row: admin only. */
#ifndef RAGRADE_AGGREGATE_H
#define RAGRADE_AGGREGATE_H

#include <stdio.h>

#include "db.h"

/* One line to out ("aggregates ok" or how many keys differ). 1 when they
 * equal a recomputation (sums within a relative 1e-9), 0 when not, -1
 * when the check could not run. */
int aggregate_check(db *d, FILE *out);

/* Replace both tables by a recomputation, in one write transaction under
 * the writers' turn. 0 or a negative errno with err filled. */
int aggregate_rebuild(db *d, char *err, size_t errlen);

#endif
