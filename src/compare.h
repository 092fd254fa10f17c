/* compare.h - the paired comparison of two runs of a system on one test
 * set: rows pair by their item id, else by their exact question text; per
 * metric the pair counts, both means, delta with its interval, the
 * sign-flip p-value, Holm across the metrics, the verdict and the items
 * that moved most. Pure C over in-memory runs: whoever reads the rows (the
 * JSONL files of `ragrade eval` in gate.c, the database later) fills a
 * compare_run and calls compare_runs(). */
#ifndef RAGRADE_COMPARE_H
#define RAGRADE_COMPARE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define COMPARE_TOP 10          /* drops and gains listed per metric */
#define COMPARE_MAX_METRICS 64
#define COMPARE_METRIC_LEN 96

/* One run's rows. Every string and array is owned by the run
 * (compare_run_free). values[m][r] is row r's score for metric m, NaN for
 * none (a null score, a failed row, a metric the row did not ask for). */
typedef struct compare_run {
    char *name;                 /* the run's label: a run id, a file name */
    size_t n_rows, cap_rows;
    char **item;                /* per row; NULL: pair this row by question */
    char **question;            /* per row; NULL: unknown (the row cannot pair without item) */
    int64_t *id;                /* per row: evaluation id (JSONL: the line number) */
    size_t n_metrics;
    char metric[COMPARE_MAX_METRICS][COMPARE_METRIC_LEN];
    double *values[COMPARE_MAX_METRICS];
} compare_run;

void compare_run_init(compare_run *r, const char *name);
void compare_run_free(compare_run *r);

/* Append a row (item and question copied; either may be NULL). Returns its
 * index, or -ENOMEM. */
long compare_run_add_row(compare_run *r, const char *item, const char *question, int64_t id);

/* Set row's score for metric (added on first use). 0, -ENOMEM, or -ENOSPC
 * past COMPARE_MAX_METRICS metrics or for a name too long. */
int compare_run_set(compare_run *r, size_t row, const char *metric, double value);

/* The metric's index in r, or -1. */
int compare_run_metric(const compare_run *r, const char *metric);

/* One item that moved: both evaluation ids and scores. The strings point
 * into the runs and live as long as they do. */
typedef struct compare_item {
    const char *item, *question;
    int64_t base_id, cand_id;
    double base, cand, diff;
} compare_item;

typedef struct compare_metric {
    char name[COMPARE_METRIC_LEN];
    int in_base, in_cand;       /* the metric has a score somewhere in each run */
    size_t pairs, only_baseline, only_candidate;
    stats_paired st;            /* means, delta, ci95, p (NaN without pairs) */
    double p_holm;
    int verdict;                /* enum stats_verdict */
    size_t n_drops, n_gains;
    compare_item drops[COMPARE_TOP];   /* most negative diff first */
    compare_item gains[COMPARE_TOP];   /* most positive diff first */
} compare_metric;

typedef struct compare_opts {
    const char *const *metrics; /* NULL: every metric of either run */
    size_t n_metrics;
    double alpha;               /* default 0.05 */
    double min_delta;           /* default 0 */
    uint64_t seed;              /* STATS_SEED unless a test says otherwise */
} compare_opts;

void compare_opts_default(compare_opts *o);

/* The result; metric[] owned here (compare_result_free). */
typedef struct compare_result {
    size_t n_metrics;
    compare_metric *metric;
    size_t base_rows, cand_rows;
    size_t base_unkeyed, cand_unkeyed;   /* rows with neither item nor question */
    size_t base_dups, cand_dups;         /* rows whose key came again (the last one counts) */
} compare_result;

/* Pair base and cand and compare each metric. 0, -ENOMEM, or -EINVAL with
 * err filled (too many metrics named). */
int compare_runs(const compare_run *base, const compare_run *cand, const compare_opts *o,
                 compare_result *res, char *err, size_t errlen);
void compare_result_free(compare_result *res);

/* The result as JSON (new reference), the shape of GET /api/compare:
 * {"alpha", "min_delta", "metrics": [{"metric", "pairs", "only_baseline",
 * "only_candidate", "baseline_mean", "candidate_mean", "delta", "ci95",
 * "ci_method", "p_value", "p_method", "p_holm", "verdict", "drops",
 * "gains"}]}; NaN is null. */
json_object *compare_result_json(const compare_result *res, const compare_opts *o);

/* A summary's figures added to obj (the shape of GET /api/summary per
 * metric): "n", "mean", "se", "ci95": [lo, hi], "ci_method"; NaN is null. */
void compare_summary_json(json_object *obj, const stats_summary *s);

#endif
