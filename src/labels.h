/* labels.h - human labels beside the judge's scores (the table labels,
 * sql/006): each metric's own scale and the check of a value against it,
 * the write of a label (the old one kept as history), the reads (a row's
 * labels, judge-human pairs, the review queue), import and export as JSONL
 * or CSV, and the figures over them: agreement (agree.h) and the judge's
 * mean corrected by randomly sampled labels. A storage module: labels.c,
 * labels_io.c and labels_agree.c own their SQL; callers never see it. */
#ifndef RAGRADE_LABELS_H
#define RAGRADE_LABELS_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "db.h"

#define LABELS_NAME_MAX 200       /* metric and labeler, in bytes */
#define LABELS_NOTE_MAX 4000
#define LABELS_LINE_MAX 65536     /* one import line */
#define LABELS_QUEUE_MAX 1000     /* review queue length */

/* A metric's scale: a score in [lo, hi]; binary: only 0 or 1; levels:
 * whole numbers lo..hi (rubric levels, correctness's 1 to 5). */
enum labels_kind { LABELS_UNIT = 1, LABELS_BINARY, LABELS_LEVELS };
typedef struct labels_scale {
    enum labels_kind kind;
    double lo, hi;
} labels_scale;

/* The scale of metric. 0, or -ENOENT for a metric without a known scale. */
int labels_scale_of(const char *metric, labels_scale *out);
const char *labels_kind_name(enum labels_kind k);   /* "unit", "binary", "levels" */

/* One label as given. Strings are borrowed; note may be NULL. */
typedef struct label {
    int64_t evaluation_id;
    const char *metric, *labeler, *note;
    double value;
    int sampled;                  /* 1: the row came from a uniform random draw */
} label;

/* Check a label without the database: names' lengths, the value on the
 * metric's scale. 0, or -EINVAL with err and *field (the JSON field name). */
int labels_check(const label *l, const char **field, char *err, size_t errlen);

/* Make l the current label of (evaluation, metric, labeler); the previous
 * one stays as history (superseded_at set). One write transaction (the
 * writers' turn, db.h). *replaced: 1 if there was a previous one. 0;
 * -EINVAL (err, field), -ENOENT (no such evaluation), or a database code. */
int labels_put(db *d, const label *l, int *replaced, const char **field, char *err,
               size_t errlen);

/* The row's current labels as a JSON array (oldest first); with history,
 * the superseded ones too, each with superseded_at. -ENOENT if no such
 * evaluation. */
int labels_list_json(db *d, int64_t id, int history, json_object **out);

/* Which rows: dataset and run may be NULL (any). A run needs the runs
 * column (issue 16); without it a run gives -ENOTSUP. */
typedef struct labels_filter {
    const char *dataset, *run, *metric;
} labels_filter;

/* Judge-human pairs of done rows with both a judge score and a current
 * label for the metric, one per label. Arrays malloc'd, freed by
 * labels_pairs_free. group[i]: "judge" or "judge version" when scores
 * carry a criterion version (issue 15), malloc'd. */
typedef struct labels_pairs {
    size_t n;
    double *judge, *human;
    int *sampled;
    char **group;
} labels_pairs;
int labels_pairs_get(db *d, const labels_filter *f, labels_pairs *out);
void labels_pairs_free(labels_pairs *p);

/* The agreement figures of GET /api/agreement and `ragrade admin
 * agreement`: pairs, scale, accuracy, kappa with its interval and the
 * confusion matrix (binary), or Spearman, Kendall and MAE, per group too,
 * and the corrected mean. -ENOENT: metric without a scale. */
int labels_agreement_json(db *d, const labels_filter *f, json_object **out);

/* The prediction-powered mean of f's metric over done rows: null when
 * fewer than AGREE_PPI_MIN_LABELS sampled labelled rows, else an object
 * with estimate, ci95, judge_mean, judge_ci95, labels and a phrase. */
int labels_corrected_json(db *d, const labels_filter *f, json_object **out);

/* Add "corrected" (labels_corrected_json) to each metric object of a
 * summary's "metrics". */
int labels_summary_add(db *d, const char *dataset, json_object *metrics);

/* The review queue: up to n done rows with a judge score for f's metric.
 * mode "random": a uniform draw seeded by seed (the same seed, the same
 * rows); "disagreements": split critic votes first (the larger the minority
 * of its samples, the earlier), then
 * the largest gaps to a related metric, then scores nearest the middle of
 * the scale. Each item: id, question, score, related, gap, label (this
 * labeler's current value or null). */
int labels_queue_json(db *d, const labels_filter *f, const char *mode, size_t n,
                      uint64_t seed, const char *labeler, json_object **out);

/* Import labels from in (JSONL: one object a line; CSV: a header row with
 * evaluation_id, metric, value, labeler and optionally note, sampled),
 * told apart by the first character. All or nothing, in one write
 * transaction. *n: labels stored. err names the line of a bad one. */
int labels_import(db *d, FILE *in, size_t *n, char *err, size_t errlen);

/* Current labels (with history: all) of dataset (NULL: all) to out as
 * JSONL or CSV (csv = 1) that labels_import reads back. */
int labels_export(db *d, FILE *out, const char *dataset, int csv, int history, size_t *n,
                  char *err, size_t errlen);

/* Every row's current labels as {"metric": [{labeler, value, sampled}]},
 * for the JSONL export with scores. */
int labels_of_row_json(db *d, int64_t id, json_object **out);

#endif
