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
/* Counts per status, per-metric mean with its interval, n, nulls,
 * histogram, tokens, as runs_summary (runs.h) documents. With a run, from
 * that run's rows (runs_summary); without, from the aggregates (cost
 * independent of the table; the interval from runs_interval), plus the
 * labels' corrected means (labels.h). dataset and run may be NULL. */
int report_summary(db *d, const char *dataset, const char *run, json_object **out);
/* {"queued": n, "running": n, "done": n, "failed": n}. */
int report_counts(db *d, const char *dataset, json_object **out);
/* report_summary of dataset and run (either may be NULL) plus
 * "oldest_queued" (created_at of their oldest queued row, or null), all
 * from one read transaction (`admin stats`). */
int report_stats(db *d, const char *dataset, const char *run, json_object **out);

#endif
