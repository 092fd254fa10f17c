/* metrics.h - the built-in, non-LLM metrics (ragas names and definitions,
 * with ragas's known bugs fixed). Pure functions of a row: no I/O, no
 * global state, safe from any thread. */
#ifndef RAGRADE_METRICS_H
#define RAGRADE_METRICS_H

#include <stddef.h>

#include "row.h"

#define METRIC_REASON_MAX 512

/* One metric's outcome. is_null = 1 when it could not be computed (inputs
 * missing): score is then unused and reason says why. */
typedef struct metric_result {
    double score;
    int is_null;
    char reason[METRIC_REASON_MAX];
} metric_result;

typedef struct metrics_opts {
    int jaro_winkler;             /* non_llm_string_similarity uses Jaro-Winkler */
} metrics_opts;

/* Scratch space reused between calls (tokenizer buffers, the stemmer).
 * One per thread. */
typedef struct metrics_ctx metrics_ctx;

metrics_ctx *metrics_ctx_new(void);
void metrics_ctx_free(metrics_ctx *m);   /* NULL is a no-op */

/* Names of the built-in metrics, NULL-terminated, and the defaults used
 * when a row names none. */
extern const char *const metrics_builtin_names[];
extern const char *const metrics_builtin_defaults[];

/* 1 if name is a built-in metric. */
int metrics_is_builtin(const char *name);

/* Compute one metric. 0, or -ENOENT for an unknown name. A metric whose
 * inputs are missing returns 0 with out->is_null = 1 and the reason. */
int metrics_compute(metrics_ctx *m, const metrics_opts *o, const char *name, const row *r,
                    metric_result *out);

#endif
