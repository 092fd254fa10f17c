/* report.c - read queries turned into the API's JSON: a read module that
 * owns its SQL (below) and decodes its columns. Each function runs cached
 * prepared statements on the calling thread's connection; SQLite's
 * WAL lets these reads run beside the writers without waiting. */
#include "report.h"
#include "db_int.h"
#include "labels.h"
#include "row.h"
#include "runs.h"
#include "compare.h"
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The SQL of each read, beside the code that decodes its columns. */
static const char sql_get[] =
    "SELECT id, created_at, updated_at, status, dataset, question, answer, contexts,"
    " ground_truth, reference_contexts, metrics, attempts, max_attempts, last_error,"
    " started_at, finished_at, judge, prompt_tokens, completion_tokens, run, item, trace_id, span_id"
    " FROM evaluations WHERE id = ?1";
static const char sql_get_scores[] =
    "SELECT metric, score, reason, version FROM evaluation_scores WHERE evaluation_id = ?1"
    " ORDER BY metric";
/* Counts, tokens, datasets and per-metric figures read the aggregates
 * that migration 005's triggers keep (a few rows per dataset), never the
 * rows: their cost does not grow with the table. */
#define COUNT_COLS "SELECT total(queued), total(running), total(done), total(failed) FROM aggregate_datasets"
static const char sql_counts[] = COUNT_COLS;
static const char sql_counts_dataset[] = COUNT_COLS " WHERE dataset_key = ?1";
#undef COUNT_COLS
/* The list, by the filters given: [status][dataset][run], so that SQLite
 * plans each combination with the index it can use. */
#define LIST_COLS \
    "SELECT e.id, e.created_at, e.updated_at, e.status, e.dataset, substr(e.question, 1, 200)," \
    " e.attempts, e.last_error, e.finished_at," \
    " (SELECT json_group_object(metric, score) FROM evaluation_scores WHERE evaluation_id = e.id)," \
    " e.run, e.item, e.trace_id, e.span_id FROM evaluations e WHERE e.id < ?3"
#define LIST_END " ORDER BY e.id DESC LIMIT ?4"
#define S " AND e.status = ?1"
#define D " AND e.dataset = ?2"
#define R " AND e.run = ?5"
static const char *const sql_list[2][2][2] = {
    { { LIST_COLS LIST_END, LIST_COLS R LIST_END },
      { LIST_COLS D LIST_END, LIST_COLS D R LIST_END } },
    { { LIST_COLS S LIST_END, LIST_COLS S R LIST_END },
      { LIST_COLS D S LIST_END, LIST_COLS D S R LIST_END } },
};
#undef LIST_COLS
#undef LIST_END
#undef S
#undef D
#undef R
/* Per metric: n, scored, mean, min, max, the ten histogram bins (h0..h9:
 * [0, 1] in tenths, correctness's 1 to 5 mapped onto it), sum, sum2. */
#define METRIC_COLS \
    "SELECT metric, total(n), total(scored), total(sum) / total(scored), min(min), max(max)," \
    " total(h0), total(h1), total(h2), total(h3), total(h4), total(h5), total(h6), total(h7)," \
    " total(h8), total(h9), total(sum), total(sum2) FROM aggregate_scores "
#define METRIC_END " GROUP BY metric HAVING total(n) > 0 ORDER BY metric"
static const char sql_metrics[] = METRIC_COLS METRIC_END;
static const char sql_metrics_dataset[] = METRIC_COLS "WHERE dataset_key = ?1" METRIC_END;
#undef METRIC_COLS
#undef METRIC_END
#define TOKEN_COLS "SELECT total(prompt_tokens), total(completion_tokens) FROM aggregate_datasets"
static const char sql_tokens[] = TOKEN_COLS;
static const char sql_tokens_dataset[] = TOKEN_COLS " WHERE dataset_key = ?1";
#undef TOKEN_COLS
static const char sql_oldest[] =
    "SELECT min(created_at) FROM evaluations WHERE status = 'queued' AND (?1 IS NULL OR dataset = ?1)"
    " AND (?2 IS NULL OR run = ?2)";
static const char sql_datasets[] =
    "SELECT dataset, rows FROM aggregate_datasets WHERE rows > 0 ORDER BY max_id DESC LIMIT 100";

static json_object *text_or_null(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);

    return s ? json_object_new_string((const char *)s) : NULL;
}

static json_object *parsed_or_null(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);

    return s ? json_tokener_parse((const char *)s) : NULL;
}

static json_object *real_or_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : json_object_new_double(sqlite3_column_double(st, i));
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* The reason column holds JSON text for LLM metrics and plain text for the
 * built-in ones: hand back the parsed JSON where it parses. */
static json_object *reason_json(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    json_object *o;

    if (!s)
        return NULL;
    if ((*s == '{' || *s == '[') && (o = json_tokener_parse(s)))
        return o;
    return json_object_new_string(s);
}

/* The evaluation's own fields, tokens and href from the current row of sql_get. */
static json_object *eval_row_json(sqlite3_stmt *st, int64_t id)
{
    json_object *o, *tokens;

    o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(sqlite3_column_int64(st, 0)));
    json_object_object_add(o, "status", text_or_null(st, 3));
    json_object_object_add(o, "dataset", text_or_null(st, 4));
    json_object_object_add(o, "question", text_or_null(st, 5));
    json_object_object_add(o, "answer", text_or_null(st, 6));
    json_object_object_add(o, "contexts", parsed_or_null(st, 7));
    json_object_object_add(o, "ground_truth", text_or_null(st, 8));
    json_object_object_add(o, "reference_contexts", parsed_or_null(st, 9));
    json_object_object_add(o, "metrics", parsed_or_null(st, 10));
    json_object_object_add(o, "attempts", json_object_new_int(sqlite3_column_int(st, 11)));
    json_object_object_add(o, "max_attempts", json_object_new_int(sqlite3_column_int(st, 12)));
    json_object_object_add(o, "last_error", text_or_null(st, 13));
    json_object_object_add(o, "created_at", text_or_null(st, 1));
    json_object_object_add(o, "updated_at", text_or_null(st, 2));
    json_object_object_add(o, "started_at", text_or_null(st, 14));
    json_object_object_add(o, "finished_at", text_or_null(st, 15));
    json_object_object_add(o, "judge", text_or_null(st, 16));
    json_object_object_add(o, "run", text_or_null(st, 19));
    json_object_object_add(o, "item", text_or_null(st, 20));
    json_object_object_add(o, "trace_id", text_or_null(st, 21));
    json_object_object_add(o, "span_id", text_or_null(st, 22));
    tokens = json_object_new_object();
    json_object_object_add(tokens, "prompt", json_object_new_int64(sqlite3_column_int64(st, 17)));
    json_object_object_add(tokens, "completion", json_object_new_int64(sqlite3_column_int64(st, 18)));
    json_object_object_add(o, "tokens", tokens);
    json_object_object_add(o, "href", NULL);
    {
        char href[48];

        snprintf(href, sizeof href, "/api/eval/%lld", (long long)id);
        json_object_object_add(o, "href", json_object_new_string(href));
    }
    return o;
}

int report_eval(db *d, int64_t id, json_object **out)
{
    sqlite3_stmt *st = db_cached(d, sql_get);
    json_object *o = NULL, *scores, *reasons, *versions;
    int rc = -EIO, s;

    *out = NULL;
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        rc = -ENOENT;
        goto out;
    }
    if (s != SQLITE_ROW) {
        rc = db_errno(s);
        goto out;
    }
    o = eval_row_json(st, id);
    sqlite3_reset(st);
    if (!(st = db_cached(d, sql_get_scores)))
        goto out;
    sqlite3_bind_int64(st, 1, id);
    scores = json_object_new_object();
    reasons = json_object_new_object();
    json_object_object_add(o, "scores", scores);
    json_object_object_add(o, "reasons", reasons);
    versions = json_object_new_object();
    json_object_object_add(o, "versions", versions);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(st, 0);

        json_object_object_add(scores, m, real_or_null(st, 1));
        json_object_object_add(reasons, m, reason_json(st, 2));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            json_object_object_add(versions, m, text_or_null(st, 3));
    }
    if (s != SQLITE_DONE) {
        rc = db_errno(s);
        goto out;
    }
    *out = o;
    o = NULL;
    rc = 0;
out:
    if (st)
        sqlite3_reset(st);
    json_object_put(o);
    return rc;
}

int report_list(db *d, const char *status, const char *dataset, const char *run, int64_t before,
                int limit, json_object **out)
{
    sqlite3_stmt *st = db_cached(d, sql_list[!!status][!!dataset][!!run]);
    json_object *o = NULL, *items, *it;
    int64_t last = 0;
    int rc = -EIO, s, n = 0;

    *out = NULL;
    if (!st)
        goto out;
    bind_opt(st, 1, status);
    bind_opt(st, 2, dataset);
    bind_opt(st, 5, run);
    sqlite3_bind_int64(st, 3, before > 0 ? before : INT64_MAX);
    sqlite3_bind_int(st, 4, limit);
    o = json_object_new_object();
    items = json_object_new_array();
    json_object_object_add(o, "items", items);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        it = json_object_new_object();
        last = sqlite3_column_int64(st, 0);
        json_object_object_add(it, "id", json_object_new_int64(last));
        json_object_object_add(it, "created_at", text_or_null(st, 1));
        json_object_object_add(it, "updated_at", text_or_null(st, 2));
        json_object_object_add(it, "status", text_or_null(st, 3));
        json_object_object_add(it, "dataset", text_or_null(st, 4));
        json_object_object_add(it, "question", text_or_null(st, 5));
        json_object_object_add(it, "attempts", json_object_new_int(sqlite3_column_int(st, 6)));
        json_object_object_add(it, "last_error", text_or_null(st, 7));
        json_object_object_add(it, "finished_at", text_or_null(st, 8));
        json_object_object_add(it, "scores", sqlite3_column_type(st, 9) == SQLITE_NULL
                               ? json_object_new_object() : parsed_or_null(st, 9));
        json_object_object_add(it, "run", text_or_null(st, 10));
        json_object_object_add(it, "item", text_or_null(st, 11));
        json_object_object_add(it, "trace_id", text_or_null(st, 12));
        json_object_object_add(it, "span_id", text_or_null(st, 13));
        json_object_array_add(items, it);
        n++;
    }
    if (s != SQLITE_DONE) {
        rc = db_errno(s);
        goto out;
    }
    json_object_object_add(o, "count", json_object_new_int(n));
    json_object_object_add(o, "next_before", n == limit ? json_object_new_int64(last) : NULL);
    *out = o;
    o = NULL;
    rc = 0;
out:
    if (st)
        sqlite3_reset(st);
    json_object_put(o);
    return rc;
}

int report_counts(db *d, const char *dataset, json_object **out)
{
    sqlite3_stmt *st = db_cached(d, dataset ? sql_counts_dataset : sql_counts);
    json_object *o = json_object_new_object();
    int rc = -EIO, s, i;

    *out = NULL;
    if (!st)
        goto out;
    bind_opt(st, 1, dataset);
    if ((s = sqlite3_step(st)) == SQLITE_ROW)
        for (i = 0; i < ROW_N_STATUS; i++)
            json_object_object_add(o, row_status_names[i], json_object_new_int64(sqlite3_column_int64(st, i)));
    sqlite3_reset(st);
    if (s != SQLITE_ROW) {
        rc = db_errno(s);
        goto out;
    }
    *out = o;
    o = NULL;
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

/* One metric's row of sql_metrics: the aggregates' figures and the mean's
 * interval (runs_interval: the bootstrap reads the scores, at most
 * STATS_BOOT_MAX of them; above, the normal one from sum and sum2). */
static int metric_json(db *d, const char *dataset, sqlite3_stmt *st, json_object **out)
{
    json_object *m = json_object_new_object(), *hist = json_object_new_array_ext(10);
    int64_t n = sqlite3_column_int64(st, 1), scored = sqlite3_column_int64(st, 2);
    stats_summary s;
    int rc, i;

    rc = runs_interval(d, dataset, (const char *)sqlite3_column_text(st, 0), scored,
                       sqlite3_column_double(st, 16), sqlite3_column_double(st, 17), &s);
    if (rc < 0) {
        json_object_put(m);
        json_object_put(hist);
        return rc;
    }
    compare_summary_json(m, &s);
    json_object_object_add(m, "n", json_object_new_int64(n));
    json_object_object_add(m, "scored", json_object_new_int64(scored));
    json_object_object_add(m, "nulls", json_object_new_int64(n - scored));
    json_object_object_add(m, "mean", real_or_null(st, 3));
    json_object_object_add(m, "min", real_or_null(st, 4));
    json_object_object_add(m, "max", real_or_null(st, 5));
    for (i = 0; i < 10; i++)
        json_object_array_add(hist, json_object_new_int64(sqlite3_column_int64(st, 6 + i)));
    json_object_object_add(m, "histogram", hist);
    *out = m;
    return 0;
}

/* Per metric, from the aggregates; the caller holds a read transaction
 * (one snapshot for the aggregates and the scores the intervals read). The
 * aggregates are keyed (dataset, metric) and would mix a criterion's
 * versions: criteria are left out here and read from their rows, version
 * by version, by runs_criteria. */
static int metrics_json(db *d, const char *dataset, json_object *metrics)
{
    sqlite3_stmt *st = db_cached(d, dataset ? sql_metrics_dataset : sql_metrics);
    const char *name;
    json_object *m;
    int rc = -EIO, s;

    if (!st)
        goto out;
    bind_opt(st, 1, dataset);
    rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        name = (const char *)sqlite3_column_text(st, 0);
        if ((rc = runs_is_criterion(d, name)) == 0 && (rc = metric_json(d, dataset, st, &m)) == 0)
            json_object_object_add(metrics, name, m);
        rc = rc > 0 ? 0 : rc;
    }
    sqlite3_reset(st);
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_errno(s);
    if (rc == 0)
        rc = runs_criteria(d, dataset, metrics);
out:
    return rc;
}

static int tokens_json(db *d, const char *dataset, json_object *tokens)
{
    sqlite3_stmt *st = db_cached(d, dataset ? sql_tokens_dataset : sql_tokens);
    int s;

    if (!st)
        return -EIO;
    bind_opt(st, 1, dataset);
    if ((s = sqlite3_step(st)) == SQLITE_ROW) {
        json_object_object_add(tokens, "prompt", json_object_new_int64(sqlite3_column_int64(st, 0)));
        json_object_object_add(tokens, "completion", json_object_new_int64(sqlite3_column_int64(st, 1)));
    }
    sqlite3_reset(st);
    return s == SQLITE_ROW ? 0 : db_errno(s);
}

static int datasets_json(db *d, json_object *sets)
{
    sqlite3_stmt *st = db_cached(d, sql_datasets);
    int s;

    if (!st)
        return -EIO;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        json_object *ds = json_object_new_object();

        json_object_object_add(ds, "dataset", text_or_null(st, 0));
        json_object_object_add(ds, "count", json_object_new_int64(sqlite3_column_int64(st, 1)));
        json_object_array_add(sets, ds);
    }
    sqlite3_reset(st);
    return s == SQLITE_DONE ? 0 : db_errno(s);
}

/* Over a dataset or all (no run): the aggregates, each mean's interval and
 * the labels' corrected means, in one read snapshot. */
static int summary_aggregated(db *d, const char *dataset, json_object **out)
{
    json_object *o = json_object_new_object(), *counts = NULL, *metrics, *tokens, *sets;
    int rc, in_txn = sqlite3_exec(db_handle(d), "BEGIN", NULL, NULL, NULL) == SQLITE_OK;

    *out = NULL;
    json_object_object_add(o, "dataset", dataset ? json_object_new_string(dataset) : NULL);
    json_object_object_add(o, "run", NULL);
    if ((rc = report_counts(d, dataset, &counts)) < 0)
        goto out;
    json_object_object_add(o, "counts", counts);
    metrics = json_object_new_object();
    json_object_object_add(o, "metrics", metrics);
    tokens = json_object_new_object();
    json_object_object_add(o, "tokens", tokens);
    sets = json_object_new_array();
    json_object_object_add(o, "datasets", sets);
    if ((rc = metrics_json(d, dataset, metrics)) < 0 || (rc = labels_summary_add(d, dataset, metrics)) < 0 ||
        (rc = tokens_json(d, dataset, tokens)) < 0 || (rc = datasets_json(d, sets)) < 0)
        goto out;
    *out = o;
    o = NULL;
out:
    if (in_txn)
        sqlite3_exec(db_handle(d), "COMMIT", NULL, NULL, NULL);
    json_object_put(o);
    return rc;
}

/* With a run, the summary reads that run's rows through the (dataset, run)
 * index (runs_summary); without, the aggregates. */
static int summary_of(db *d, const char *dataset, const char *run, json_object **out)
{
    return run ? runs_summary(d, dataset, run, out) : summary_aggregated(d, dataset, out);
}

int report_summary(db *d, const char *dataset, const char *run, json_object **out)
{
    return summary_of(d, dataset, run, out);
}

int report_stats(db *d, const char *dataset, const char *run, json_object **out)
{
    sqlite3 *h = db_handle(d);
    sqlite3_stmt *st = NULL;
    const char *oldest;
    int rc = -EIO, s;

    *out = NULL;
    /* A read transaction: the summary and the oldest row from one snapshot. */
    if (sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    if (!(st = db_cached(d, sql_oldest)))
        goto commit;
    bind_opt(st, 1, dataset);
    bind_opt(st, 2, run);
    if ((s = sqlite3_step(st)) != SQLITE_ROW) {
        rc = db_errno(s);
        goto commit;
    }
    if ((rc = summary_of(d, dataset, run, out)) < 0)
        goto commit;
    oldest = (const char *)sqlite3_column_text(st, 0);
    json_object_object_add(*out, "oldest_queued", oldest ? json_object_new_string(oldest) : NULL);
commit:
    if (st)
        sqlite3_reset(st);
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
out:
    return rc;
}
