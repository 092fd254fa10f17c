/* report.h - the read side: rows, pages of rows, summaries and queue
 * counts as JSON, for the HTTP API and `ragrade admin`. */
#ifndef RAGRADE_REPORT_H
#define RAGRADE_REPORT_H

#include <json-c/json.h>
#include <stdint.h>

#include "db.h"

/* One row with inputs, status, timings, tokens, scores and reasons.
 * 0 with *out set (caller owns), -ENOENT, or -EIO. */
int report_eval(db *d, int64_t id, json_object **out);
/* Newest first; status, dataset and run may be NULL; before = 0: from the
 * top. */
int report_list(db *d, const char *status, const char *dataset, const char *run, int64_t before,
                int limit, json_object **out);
/* Counts per status, per-metric mean/n/nulls/histogram, tokens. dataset may
 * be NULL (everything). */
int report_summary(db *d, const char *dataset, json_object **out);
/* {"queued": n, "running": n, "done": n, "failed": n}. */
int report_counts(db *d, const char *dataset, json_object **out);

#endif
