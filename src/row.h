/* row.h - one evaluation row: its inputs as a client sends them, validated
 * against the limits in conf. Shared by the HTTP API, the offline
 * `ragrade eval`, the database and the judges. */
#ifndef RAGRADE_ROW_H
#define RAGRADE_ROW_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define ROW_ERR_FIELD 64
#define ROW_MAX_METRICS 64        /* metrics one row may name, and a judge scores */
#define ROW_METRIC_NAME 64        /* buffer for a metric name (63 bytes and a NUL) */

/* An evaluation's status, as evaluations.status stores it (sql/). The SQL
 * texts spell them out; C code takes the names from here. */
enum row_status { ROW_QUEUED, ROW_RUNNING, ROW_DONE, ROW_FAILED, ROW_N_STATUS };

/* "queued", "running", "done", "failed", then NULL. */
extern const char *const row_status_names[ROW_N_STATUS + 1];

/* The status named s, or -1. */
int row_status_of(const char *s);

/* Every string is NUL-terminated, valid UTF-8 and owned by the row. */
typedef struct row {
    int64_t id;                   /* 0 until stored */
    char *question;
    char *answer;
    char *ground_truth;           /* NULL: none given */
    char **contexts;              /* n_contexts strings */
    size_t n_contexts;
    char **reference_contexts;    /* NULL: none given (distinct from an empty array) */
    size_t n_reference_contexts;
    char **metrics;               /* NULL: the judge's defaults */
    size_t n_metrics;
    char *dataset;                /* NULL: none */
    char *run;                    /* NULL: none; the system version under test */
    char *item;                   /* NULL: none; the test case's id in its dataset */
} row;

#define ROW_MAX_RUN 128           /* bytes */
#define ROW_MAX_ITEM 200

/* Validation failure: which field, and why, in words for a person. */
typedef struct row_error {
    char field[ROW_ERR_FIELD];    /* "contexts[2]", or "" for the whole body */
    char message[256];
} row_error;

/* Says whether a metric name is known (1) or not (0) under cf. */
typedef int (*row_metric_known_fn)(const conf *cf, const char *name);

/* The same with an argument (the criteria a worker knows, for one). */
typedef int (*row_metric_known_arg_fn)(void *arg, const conf *cf, const char *name);

/* The members of a named set of metrics ("triad": context_relevance,
 * faithfulness, answer_relevancy, the reference-free RAG triad), NULL-
 * terminated; NULL when name is no set. A row's metrics may name a set:
 * validation replaces it by its members (once each). */
const char *const *row_metric_set(const char *name);

/* Parse one row object. Accepts ragas's synonyms user_input, response,
 * retrieved_contexts and reference; run and item are optional non-empty
 * strings of at most ROW_MAX_RUN and ROW_MAX_ITEM bytes. prefix names the row in a batch
 * ("[3]." or ""). Returns 0, or -EINVAL with e filled. r is reset first and
 * must be released with row_clear() in both cases. */
int row_from_json(row *r, json_object *obj, const conf *cf, row_metric_known_fn known,
                  const char *prefix, row_error *e);

int row_from_json_arg(row *r, json_object *obj, const conf *cf, row_metric_known_arg_fn known,
                      void *arg, const char *prefix, row_error *e);

/* Parse a request body: one row object, or an array of up to
 * cf->max_batch rows. On success *rows is a malloc'd array of *n rows
 * (owned by the caller: row_free_array). -EINVAL with e filled otherwise. */
int row_parse_body(const char *body, size_t len, const conf *cf, row_metric_known_fn known,
                   row **rows, size_t *n, int *is_batch, row_error *e);
int row_parse_body_arg(const char *body, size_t len, const conf *cf,
                       row_metric_known_arg_fn known, void *arg, row **rows, size_t *n,
                       int *is_batch, row_error *e);

/* The row's inputs as a JSON object (new reference for the caller), using
 * ragrade's own field names. */
json_object *row_to_json(const row *r);

/* JSON text of a string array (malloc'd, caller frees); "[]" for n = 0. */
char *row_strings_json(char *const *v, size_t n);

/* Parse a JSON array of strings (as stored in the database). 0 or -EINVAL. */
int row_strings_parse(const char *json, char ***v, size_t *n);
void row_strings_free(char **v, size_t n);

void row_clear(row *r);
void row_free_array(row *rows, size_t n);

#endif
