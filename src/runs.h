/* runs.h - the runs of a dataset read from the database: a read module
 * that owns its SQL (runs.c). It lists a dataset's runs, loads a run's done
 * rows into a compare_run for compare.c, and builds the summary (counts,
 * per-metric means with their 95 % intervals, tokens) of a dataset, a run
 * or everything. */
#ifndef RAGRADE_RUNS_H
#define RAGRADE_RUNS_H

#include <json-c/json.h>

#include "compare.h"
#include "db.h"

/* {"dataset": D or null, "runs": [{"dataset", "run" (null for rows without
 * one), "count", "done", "failed", "items" (rows with an item id),
 * "first_at", "last_at"}]}, the newest run first. dataset NULL: every
 * dataset's runs. 0 with *out set (caller owns), or a negative code. */
int runs_list(db *d, const char *dataset, json_object **out);

/* Fill r (initialised by the caller, who frees it in every case) with the
 * done rows of dataset whose run is run (run NULL: every row of the
 * dataset, for one dataset per run): item, question, evaluation id, and
 * each metric's score (NaN for a null one). 0; -ENOENT with err filled
 * when the dataset has no row at all, -ESRCH when the run has none in it;
 * -ENOMEM, -ENOSPC
 * (over COMPARE_MAX_METRICS metrics) or -EIO with err filled. */
int runs_load(db *d, const char *dataset, const char *run, compare_run *r, char *err,
              size_t errlen);

/* The summary of GET /api/summary over the rows of dataset and run (either
 * may be NULL: all of them): {"dataset", "run", "counts": {per status},
 * "metrics": {name: {"n" (done rows with the metric), "scored", "nulls",
 * "mean", "se", "ci95": [lo, hi], "ci_method", "min", "max", "histogram"
 * (ten bins over [0, 1]; correctness's 1-5 mapped onto it)}}, "tokens",
 * "datasets": [{"dataset", "count"}] (the newest 100)}. A criterion's
 * versions stay apart: "NAME@VERSION", with "metric", "version" and
 * "normalised_mean" (the mean on [0, 1] on that version's scale). The interval is
 * stats_summarize's with STATS_SEED. 0 with *out set, or a negative code. */
int runs_summary(db *d, const char *dataset, const char *run, json_object **out);


/* The interval of one metric's mean over the done rows of dataset (NULL:
 * every dataset) for the aggregated summary: up to STATS_BOOT_MAX scored
 * values, it reads them (at most that many) and bootstraps; above, the
 * normal interval from the aggregates' sum and sum2. The caller holds the
 * read transaction its aggregates came from. 0, or a negative code. */
int runs_interval(db *d, const char *dataset, const char *metric, int64_t scored, double sum,
                  double sum2, stats_summary *out);

/* 1 if metric is a criterion (some score of it carries a version), 0 if
 * not, or a negative code. */
int runs_is_criterion(db *d, const char *metric);

/* Add to metrics the criteria's figures over the done rows of dataset
 * (NULL: every dataset), read from their rows, one entry per version as
 * runs_summary gives them ("NAME@VERSION" with "metric", "version",
 * "normalised_mean"). 0, or a negative code. */
int runs_criteria(db *d, const char *dataset, json_object *metrics);

#endif
