/* runs.c - runs of a dataset out of the database: the list of runs, a
 * run's done rows as a compare_run, and the summary with intervals. A read
 * module: it owns its SQL (below) and decodes its columns; the statements
 * run on the calling thread's connection in one read snapshot each. */
#include "runs.h"
#include "db_int.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* Filters: each query comes in four variants, by which of dataset (?1) and
 * run (?2) are given, so that SQLite plans each with the index it can use
 * ((dataset, run) or (dataset, id)). Index: [dataset given][run given]. */
#define WHERE_DR(prefix) \
    { { "", " AND " prefix "run = ?2" }, \
      { " AND " prefix "dataset = ?1", " AND " prefix "dataset = ?1 AND " prefix "run = ?2" } }

static const char *const where_e[2][2] = WHERE_DR("e.");
static const char *const where_plain[2][2] = WHERE_DR("");

/* A run's done rows with their scores, in id order (the dataset always
 * given: where_e[1][run given]); a criterion's versions apart, keyed
 * "name@version". The question only where there is no item:
 * only then does it pair the row, or show in the result. */
static const char sql_load[] =
    "SELECT e.id, e.item, CASE WHEN e.item IS NULL THEN e.question END,"
    " s.metric || coalesce('@' || s.version, ''), s.score"
    " FROM evaluations e JOIN evaluation_scores s ON s.evaluation_id = e.id"
    " WHERE e.status = 'done'%s ORDER BY e.id";
static const char sql_exists_run[] =
    "SELECT EXISTS(SELECT 1 FROM evaluations WHERE dataset = ?1 AND (?2 IS NULL OR run = ?2))";
static const char sql_exists_dataset[] =
    "SELECT EXISTS(SELECT 1 FROM evaluations WHERE dataset = ?1)";
static const char sql_runs[] =
    "SELECT dataset, run, count(*), count(*) FILTER (WHERE status = 'done'),"
    " count(*) FILTER (WHERE status = 'failed'), count(item), min(created_at), max(created_at)"
    " FROM evaluations WHERE 1%s GROUP BY dataset, run ORDER BY max(id) DESC LIMIT 1000";
/* A criterion's scores are keyed "name@version": versions never mix. */
static const char sql_scores[] =
    "SELECT s.metric || coalesce('@' || s.version, ''), s.score"
    " FROM evaluations e JOIN evaluation_scores s ON s.evaluation_id = e.id"
    " WHERE e.status = 'done'%s";
static const char sql_criterion_scores[] =
    "SELECT s.metric || '@' || s.version, s.score"
    " FROM evaluations e JOIN evaluation_scores s ON s.evaluation_id = e.id"
    " WHERE s.version IS NOT NULL AND +e.status = 'done'%s";
static const char sql_is_criterion[] =
    "SELECT EXISTS(SELECT 1 FROM evaluation_scores WHERE metric = ?1 AND version IS NOT NULL)";
/* A version's scale: its lowest and highest level (a critic has none). */
static const char sql_scale[] =
    "SELECT json_extract(definition, '$.levels[0].score'), json_extract(definition, '$.levels[#-1].score')"
    " FROM criterion_versions WHERE name = ?1 AND version = ?2";
static const char sql_metric_scores[] =
    "SELECT s.score FROM evaluations e JOIN evaluation_scores s ON s.evaluation_id = e.id"
    " WHERE s.metric = ?2 AND s.score IS NOT NULL AND +e.status = 'done'%s LIMIT ?3";
static const char sql_counts[] =
    "SELECT status, count(*) FROM evaluations WHERE 1%s GROUP BY status";
static const char sql_tokens[] =
    "SELECT total(prompt_tokens), total(completion_tokens) FROM evaluations WHERE 1%s";
static const char sql_datasets[] =
    "SELECT dataset, count(*) FROM evaluations GROUP BY dataset ORDER BY max(id) DESC LIMIT 100";

/* Prepare text, with the filter where substituted for its %s when where is
 * given, and bind dataset and run when given. NULL when it cannot be. */
static sqlite3_stmt *prepare(db *d, const char *text, const char *where, const char *dataset,
                             const char *run)
{
    sqlite3_stmt *st = NULL;
    char buf[1024];

    if (where) {
        if (snprintf(buf, sizeof buf, text, where) >= (int)sizeof buf)
            return NULL;
        text = buf;
    }
    if (sqlite3_prepare_v2(db_handle(d), text, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    if (dataset && sqlite3_bind_parameter_index(st, "?1"))
        sqlite3_bind_text(st, 1, dataset, -1, SQLITE_STATIC);
    if (run && sqlite3_bind_parameter_index(st, "?2"))
        sqlite3_bind_text(st, 2, run, -1, SQLITE_STATIC);
    return st;
}

static json_object *text_or_null(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);

    return s ? json_object_new_string((const char *)s) : NULL;
}

/* Run a read-only statement's rows through fn; 0 or a negative code. */
static int each_row(sqlite3_stmt *st, int (*fn)(sqlite3_stmt *st, void *arg), void *arg)
{
    int s, rc = 0;

    if (!st)
        return -EIO;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(st, arg);
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_errno(s);
    sqlite3_finalize(st);
    return rc;
}

/* ---- the list of runs ---- */

static int run_row(sqlite3_stmt *st, void *arg)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "dataset", text_or_null(st, 0));
    json_object_object_add(o, "run", text_or_null(st, 1));
    json_object_object_add(o, "count", json_object_new_int64(sqlite3_column_int64(st, 2)));
    json_object_object_add(o, "done", json_object_new_int64(sqlite3_column_int64(st, 3)));
    json_object_object_add(o, "failed", json_object_new_int64(sqlite3_column_int64(st, 4)));
    json_object_object_add(o, "items", json_object_new_int64(sqlite3_column_int64(st, 5)));
    json_object_object_add(o, "first_at", text_or_null(st, 6));
    json_object_object_add(o, "last_at", text_or_null(st, 7));
    json_object_array_add(arg, o);
    return 0;
}

int runs_list(db *d, const char *dataset, json_object **out)
{
    json_object *o = json_object_new_object(), *runs = json_object_new_array();
    int rc;

    json_object_object_add(o, "dataset", dataset ? json_object_new_string(dataset) : NULL);
    json_object_object_add(o, "runs", runs);
    rc = each_row(prepare(d, sql_runs, where_plain[!!dataset][0], dataset, NULL), run_row, runs);
    if (rc < 0) {
        json_object_put(o);
        o = NULL;
    }
    *out = o;
    return rc;
}

/* ---- a run's rows for compare.c ---- */

struct loading {
    compare_run *r;
    int64_t last_id;
    long row;
};

static int load_row(sqlite3_stmt *st, void *arg)
{
    struct loading *l = arg;
    int64_t id = sqlite3_column_int64(st, 0);
    double v = sqlite3_column_type(st, 4) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 4);
    const char *metric = (const char *)sqlite3_column_text(st, 3);

    if (id != l->last_id || l->row < 0) {
        l->row = compare_run_add_row(l->r, (const char *)sqlite3_column_text(st, 1),
                                     (const char *)sqlite3_column_text(st, 2), id);
        if (l->row < 0)
            return (int)l->row;
        l->last_id = id;
    }
    return metric ? compare_run_set(l->r, (size_t)l->row, metric, v) : 0;
}

/* 1 if a row matches, 0 if none, or a negative code. */
static int exists(db *d, const char *text, const char *dataset, const char *run)
{
    sqlite3_stmt *st = prepare(d, text, NULL, dataset, run);
    int rc = -EIO, s;

    if (!st)
        goto out;
    s = sqlite3_step(st);
    rc = s == SQLITE_ROW ? sqlite3_column_int(st, 0) : db_errno(s);
out:
    sqlite3_finalize(st);
    return rc;
}

int runs_load(db *d, const char *dataset, const char *run, compare_run *r, char *err,
              size_t errlen)
{
    struct loading l = { r, 0, -1 };
    int rc, in_txn = sqlite3_exec(db_handle(d), "BEGIN", NULL, NULL, NULL) == SQLITE_OK;

    if ((rc = exists(d, sql_exists_run, dataset, run)) == 0) {
        rc = run && exists(d, sql_exists_dataset, dataset, NULL) == 1 ? -ESRCH : -ENOENT;
        if (rc == -ESRCH)
            snprintf(err, errlen, "dataset '%.200s' has no run '%.200s'", dataset, run);
        else
            snprintf(err, errlen, "no dataset is called '%.200s'", dataset);
        goto out;
    }
    if (rc >= 0)
        rc = each_row(prepare(d, sql_load, where_e[1][!!run], dataset, run), load_row, &l);
    if (rc < 0)
        snprintf(err, errlen, "%s", rc == -ENOMEM ? "out of memory" : rc == -ENOSPC
                 ? "more metrics than a comparison holds, or a metric name too long"
                 : db_errmsg(d));
out:
    if (in_txn)
        sqlite3_exec(db_handle(d), "COMMIT", NULL, NULL, NULL);
    return rc < 0 ? rc : 0;
}

/* ---- the summary ---- */

struct acc {                      /* one metric's done rows */
    char name[COMPARE_METRIC_LEN];
    double *v;                    /* the scores, malloc'd */
    size_t n, cap, nulls;
    double min, max;
    int64_t hist[10];
};

struct accs {
    struct acc m[COMPARE_MAX_METRICS];
    size_t n;
    size_t last;                  /* the metric of the previous row: rows cycle through a few */
};

static struct acc *find_acc(struct accs *a, const char *name)
{
    size_t i, k;

    for (k = 0; k < a->n; k++) {
        i = (a->last + k) % a->n;
        if (!strcmp(a->m[i].name, name)) {
            a->last = i;
            return &a->m[i];
        }
    }
    if (a->n == COMPARE_MAX_METRICS || strlen(name) >= COMPARE_METRIC_LEN)
        return NULL;              /* left out of the summary */
    memset(&a->m[a->n], 0, sizeof a->m[0]);
    strcpy(a->m[a->n].name, name);
    a->m[a->n].min = INFINITY;
    a->m[a->n].max = -INFINITY;
    a->last = a->n;
    return &a->m[a->n++];
}

static int score_row(sqlite3_stmt *st, void *arg)
{
    const char *name = (const char *)sqlite3_column_text(st, 0);
    struct acc *m;
    double x, y;
    void *p;
    int bin;

    if (!name || !(m = find_acc(arg, name)))
        return 0;
    if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
        m->nulls++;
        return 0;
    }
    if (m->n == m->cap) {
        if (!(p = realloc(m->v, (m->cap ? m->cap * 2 : 1024) * sizeof *m->v)))
            return -ENOMEM;
        m->v = p;
        m->cap = m->cap ? m->cap * 2 : 1024;
    }
    x = m->v[m->n++] = sqlite3_column_double(st, 1);
    m->min = x < m->min ? x : m->min;
    m->max = x > m->max ? x : m->max;
    y = !strcmp(name, "correctness") ? (x - 1) / 4 : x;
    bin = (int)(10 * y);          /* as CAST(... AS INTEGER): toward zero */
    m->hist[bin < 0 ? 0 : bin > 9 ? 9 : bin]++;
    return 0;
}

static int cmp_acc(const void *a, const void *b)
{
    return strcmp(((const struct acc *)a)->name, ((const struct acc *)b)->name);
}

/* A criterion's "name@version" entry: metric, version and its mean on
 * [0, 1], (mean - lo) / (hi - lo) on that version's scale (0 and 1 for a
 * critic or an unknown version; left out without a mean). */
static int add_criterion(db *d, const char *key, double mean, json_object *o)
{
    const char *at = strchr(key, '@');
    char name[COMPARE_METRIC_LEN];
    sqlite3_stmt *st;
    double lo = 0, hi = 1;
    int s;

    if (!at)
        return 0;
    snprintf(name, sizeof name, "%.*s", (int)(at - key), key);
    json_object_object_add(o, "metric", json_object_new_string(name));
    json_object_object_add(o, "version", json_object_new_string(at + 1));
    if (!(st = prepare(d, sql_scale, NULL, name, at + 1)))
        return -EIO;
    if ((s = sqlite3_step(st)) == SQLITE_ROW) {
        lo = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 0);
        hi = sqlite3_column_type(st, 1) == SQLITE_NULL ? 1 : sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return db_errno(s);
    if (!isnan(mean) && hi > lo)
        json_object_object_add(o, "normalised_mean", json_object_new_double((mean - lo) / (hi - lo)));
    return 0;
}

/* One metric's figures; -ENOMEM when the bootstrap cannot allocate. */
static int metric_json(db *d, const struct acc *m, json_object **out)
{
    json_object *o = json_object_new_object(), *hist = json_object_new_array_ext(10);
    stats_summary s;
    stats_rng g;
    int i;

    stats_rng_seed(&g, STATS_SEED);
    if (stats_summarize(m->v, m->n, &g, &s) < 0) {
        json_object_put(o);
        json_object_put(hist);
        return -ENOMEM;
    }
    compare_summary_json(o, &s);
    json_object_object_add(o, "n", json_object_new_int64((int64_t)(m->n + m->nulls)));
    json_object_object_add(o, "scored", json_object_new_int64((int64_t)m->n));
    json_object_object_add(o, "nulls", json_object_new_int64((int64_t)m->nulls));
    json_object_object_add(o, "min", m->n ? json_object_new_double(m->min) : NULL);
    json_object_object_add(o, "max", m->n ? json_object_new_double(m->max) : NULL);
    for (i = 0; i < 10; i++)
        json_object_array_add(hist, json_object_new_int64(m->hist[i]));
    json_object_object_add(o, "histogram", hist);
    if ((i = add_criterion(d, m->name, s.mean, o)) < 0) {
        json_object_put(o);
        return i;
    }
    *out = o;
    return 0;
}

/* The figures of every metric (text: sql_scores) or of the criteria only
 * (sql_criterion_scores) over the done rows of dataset and run, where
 * (text's %s) filtering them. */
static int metrics_json(db *d, const char *text, const char *where, const char *dataset,
                        const char *run, json_object *metrics)
{
    struct accs *a = calloc(1, sizeof *a);
    json_object *m;
    size_t i;
    int rc = -ENOMEM;

    if (!a)
        goto out;
    rc = each_row(prepare(d, text, where, dataset, run), score_row, a);
    if (rc < 0)
        goto out;
    qsort(a->m, a->n, sizeof a->m[0], cmp_acc);
    for (i = 0; i < a->n && rc == 0; i++)
        if ((rc = metric_json(d, &a->m[i], &m)) == 0)
            json_object_object_add(metrics, a->m[i].name, m);
out:
    for (i = 0; a && i < a->n; i++)
        free(a->m[i].v);
    free(a);
    return rc;
}

int runs_is_criterion(db *d, const char *metric)
{
    sqlite3_stmt *st = prepare(d, sql_is_criterion, NULL, metric, NULL);
    int rc = -EIO, s;

    if (!st)
        goto out;
    s = sqlite3_step(st);
    rc = s == SQLITE_ROW ? sqlite3_column_int(st, 0) : db_errno(s);
out:
    sqlite3_finalize(st);
    return rc;
}

int runs_criteria(db *d, const char *dataset, json_object *metrics)
{
    /* "+": not the dataset's index; the criteria's partial index leads */
    return metrics_json(d, sql_criterion_scores, dataset ? " AND +e.dataset = ?1" : "", dataset, NULL,
                        metrics);
}

struct values {
    double *v;
    size_t n, cap;
};

static int value_row(sqlite3_stmt *st, void *arg)
{
    struct values *x = arg;

    if (x->n < x->cap)
        x->v[x->n++] = sqlite3_column_double(st, 0);
    return 0;
}

int runs_interval(db *d, const char *dataset, const char *metric, int64_t scored, double sum,
                  double sum2, stats_summary *out)
{
    struct values x = { NULL, 0, 0 };
    sqlite3_stmt *st;
    stats_rng g;
    int rc;

    if (scored < 2 || scored > STATS_BOOT_MAX) {
        stats_summarize_moments(scored > 0 ? (size_t)scored : 0, sum, sum2, out);
        return 0;
    }
    x.cap = (size_t)scored;
    if (!(x.v = malloc(x.cap * sizeof *x.v)))
        return -ENOMEM;
    /* dataset ?1 and metric ?2; "+": the metric's index leads, not the
     * dataset's or the status's (the metric has at most scored values) */
    if ((st = prepare(d, sql_metric_scores, dataset ? " AND +e.dataset = ?1" : "", dataset, NULL))) {
        sqlite3_bind_text(st, 2, metric, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, scored);
    }
    if ((rc = each_row(st, value_row, &x)) == 0) {
        stats_rng_seed(&g, STATS_SEED);
        rc = stats_summarize(x.v, x.n, &g, out);
    }
    free(x.v);
    return rc;
}

static int count_row(sqlite3_stmt *st, void *arg)
{
    json_object_object_add(arg, (const char *)sqlite3_column_text(st, 0),
                           json_object_new_int64(sqlite3_column_int64(st, 1)));
    return 0;
}

static int tokens_row(sqlite3_stmt *st, void *arg)
{
    json_object_object_add(arg, "prompt", json_object_new_int64(sqlite3_column_int64(st, 0)));
    json_object_object_add(arg, "completion", json_object_new_int64(sqlite3_column_int64(st, 1)));
    return 0;
}

static int dataset_row(sqlite3_stmt *st, void *arg)
{
    json_object *ds = json_object_new_object();

    json_object_object_add(ds, "dataset", text_or_null(st, 0));
    json_object_object_add(ds, "count", json_object_new_int64(sqlite3_column_int64(st, 1)));
    json_object_array_add(arg, ds);
    return 0;
}

int runs_summary(db *d, const char *dataset, const char *run, json_object **out)
{
    static const char *const statuses[] = { "queued", "running", "done", "failed" };
    json_object *o = json_object_new_object(), *counts = json_object_new_object();
    json_object *metrics = json_object_new_object(), *tokens = json_object_new_object();
    json_object *sets = json_object_new_array();
    const char *w = where_plain[!!dataset][!!run];
    int rc, i, in_txn = sqlite3_exec(db_handle(d), "BEGIN", NULL, NULL, NULL) == SQLITE_OK;

    json_object_object_add(o, "dataset", dataset ? json_object_new_string(dataset) : NULL);
    json_object_object_add(o, "run", run ? json_object_new_string(run) : NULL);
    for (i = 0; i < 4; i++)
        json_object_object_add(counts, statuses[i], json_object_new_int64(0));
    json_object_object_add(o, "counts", counts);
    json_object_object_add(o, "metrics", metrics);
    json_object_object_add(o, "tokens", tokens);
    json_object_object_add(o, "datasets", sets);
    if ((rc = each_row(prepare(d, sql_counts, w, dataset, run), count_row, counts)) < 0 ||
        (rc = metrics_json(d, sql_scores, where_e[!!dataset][!!run], dataset, run, metrics)) < 0 ||
        (rc = each_row(prepare(d, sql_tokens, w, dataset, run), tokens_row, tokens)) < 0 ||
        (rc = each_row(prepare(d, sql_datasets, NULL, NULL, NULL), dataset_row, sets)) < 0) {
        json_object_put(o);
        o = NULL;
    }
    if (in_txn)
        sqlite3_exec(db_handle(d), "COMMIT", NULL, NULL, NULL);
    *out = o;
    return rc;
}
