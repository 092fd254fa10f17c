/* labels.c - the labels table (sql/004): each metric's scale, the check
 * and the write of a label with its history, a row's labels, the judge-
 * human pairs and the review queue. Statements are prepared per call on
 * the caller's connection; writes take the writers' turn (db.h). */
#include "labels_int.h"
#include "metrics.h"
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The metrics whose scale is not the built-in 0 to 1. */
static const struct {
    const char *metric;
    enum labels_kind kind;
    double lo, hi;
} scales[] = {
    { "exact_match", LABELS_BINARY, 0, 1 },
    { "string_presence", LABELS_BINARY, 0, 1 },
    { "faithfulness", LABELS_UNIT, 0, 1 },
    { "answer_relevancy", LABELS_UNIT, 0, 1 },
    { "context_precision", LABELS_UNIT, 0, 1 },
    { "context_recall", LABELS_UNIT, 0, 1 },
    { "answer_correctness", LABELS_UNIT, 0, 1 },
    { "semantic_similarity", LABELS_UNIT, 0, 1 },
    { "correctness", LABELS_LEVELS, 1, 5 },
};

/* HOOK(issue 15, criteria): a critic's scale is binary (0/1) and a
 * rubric's its levels. Once criteria are stored, look the name up there
 * and fill out; until then no criterion is known. */
static int scale_of_criterion(const char *metric, labels_scale *out)
{
    (void)metric;
    (void)out;
    return -ENOENT;
}

int labels_scale_of(const char *metric, labels_scale *out)
{
    size_t i;

    for (i = 0; i < sizeof scales / sizeof scales[0]; i++) {
        if (!strcmp(scales[i].metric, metric)) {
            out->kind = scales[i].kind;
            out->lo = scales[i].lo;
            out->hi = scales[i].hi;
            return 0;
        }
    }
    if (metrics_is_builtin(metric)) {
        out->kind = LABELS_UNIT;
        out->lo = 0;
        out->hi = 1;
        return 0;
    }
    return scale_of_criterion(metric, out);
}

const char *labels_kind_name(enum labels_kind k)
{
    return k == LABELS_BINARY ? "binary" : k == LABELS_LEVELS ? "levels" : "unit";
}

int labels_check(const label *l, const char **field, char *err, size_t errlen)
{
    labels_scale s;
    int rc = -EINVAL;

    *field = NULL;
    if (!l->metric || !*l->metric || strlen(l->metric) > LABELS_NAME_MAX) {
        *field = "metric";
        snprintf(err, errlen, "metric must name a metric (1 to %d bytes)", LABELS_NAME_MAX);
    } else if (labels_scale_of(l->metric, &s) < 0) {
        *field = "metric";
        snprintf(err, errlen, "the metric %.200s has no known scale to label on", l->metric);
    } else if (!l->labeler || !*l->labeler || strlen(l->labeler) > LABELS_NAME_MAX) {
        *field = "labeler";
        snprintf(err, errlen, "labeler must name who labels (1 to %d bytes)", LABELS_NAME_MAX);
    } else if (l->note && strlen(l->note) > LABELS_NOTE_MAX) {
        *field = "note";
        snprintf(err, errlen, "note is longer than %d bytes", LABELS_NOTE_MAX);
    } else if (!isfinite(l->value) || l->value < s.lo || l->value > s.hi) {
        *field = "value";
        snprintf(err, errlen, "%s is labelled on %s from %g to %g", l->metric,
                 s.kind == LABELS_LEVELS ? "levels" : "a scale", s.lo, s.hi);
    } else if (s.kind == LABELS_BINARY && l->value != 0 && l->value != 1) {
        *field = "value";
        snprintf(err, errlen, "%s is binary: the value must be 0 or 1", l->metric);
    } else if (s.kind == LABELS_LEVELS && l->value != floor(l->value)) {
        *field = "value";
        snprintf(err, errlen, "%s is labelled in whole levels from %g to %g", l->metric, s.lo, s.hi);
    } else {
        rc = 0;
    }
    return rc;
}

sqlite3_stmt *labels_prepare(db *d, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db_handle(d), sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        st = NULL;
    }
    return st;
}

static int step_done(sqlite3_stmt *st)
{
    int s = sqlite3_step(st);

    return s == SQLITE_DONE || s == SQLITE_ROW ? 0 : db_errno(s);
}

static int row_exists(db *d, int64_t id)
{
    sqlite3_stmt *st = labels_prepare(d, "SELECT 1 FROM evaluations WHERE id = ?1");
    int rc = -EIO, s;

    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    s = sqlite3_step(st);
    rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : db_errno(s);
out:
    sqlite3_finalize(st);
    return rc;
}

int labels_put_in_txn(db *d, const label *l, const char *now, int *replaced)
{
    sqlite3_stmt *up = labels_prepare(d, "UPDATE labels SET superseded_at = ?4 WHERE evaluation_id = ?1"
                                  " AND metric = ?2 AND labeler = ?3 AND superseded_at IS NULL");
    sqlite3_stmt *ins = labels_prepare(d, "INSERT INTO labels(evaluation_id, metric, labeler, value, note,"
                                   " sampled, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    int rc = -EIO;

    if (!up || !ins)
        goto out;
    sqlite3_bind_int64(up, 1, l->evaluation_id);
    sqlite3_bind_text(up, 2, l->metric, -1, SQLITE_STATIC);
    sqlite3_bind_text(up, 3, l->labeler, -1, SQLITE_STATIC);
    sqlite3_bind_text(up, 4, now, -1, SQLITE_STATIC);
    if ((rc = step_done(up)) < 0)
        goto out;
    *replaced = sqlite3_changes(db_handle(d)) > 0;
    sqlite3_bind_int64(ins, 1, l->evaluation_id);
    sqlite3_bind_text(ins, 2, l->metric, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 3, l->labeler, -1, SQLITE_STATIC);
    sqlite3_bind_double(ins, 4, l->value);
    if (l->note)
        sqlite3_bind_text(ins, 5, l->note, -1, SQLITE_STATIC);
    sqlite3_bind_int(ins, 6, !!l->sampled);
    sqlite3_bind_text(ins, 7, now, -1, SQLITE_STATIC);
    rc = step_done(ins);
out:
    sqlite3_finalize(up);
    sqlite3_finalize(ins);
    return rc;
}

int labels_put(db *d, const label *l, int *replaced, const char **field, char *err, size_t errlen)
{
    char now[32];
    int rc, in_txn = 0;

    *replaced = 0;
    if ((rc = labels_check(l, field, err, errlen)) < 0)
        goto out;
    clock_iso(clock_wall_ms(), now, sizeof now);
    if ((rc = db_exec(d, Q_BEGIN)) < 0)
        goto dberr;
    in_txn = 1;
    if ((rc = row_exists(d, l->evaluation_id)) <= 0) {
        if (rc == 0) {
            rc = -ENOENT;
            snprintf(err, errlen, "no evaluation has the id %lld", (long long)l->evaluation_id);
            goto out;
        }
        goto dberr;
    }
    if ((rc = labels_put_in_txn(d, l, now, replaced)) < 0 || (rc = db_exec(d, Q_COMMIT)) < 0)
        goto dberr;
    in_txn = 0;
    goto out;
dberr:
    snprintf(err, errlen, "writing the label: %s", db_errmsg(d));
out:
    if (in_txn)
        db_exec(d, Q_ROLLBACK);
    return rc;
}

static json_object *text_or_null(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);

    return s ? json_object_new_string((const char *)s) : NULL;
}

/* One label row (columns: metric, labeler, value, note, sampled,
 * created_at, superseded_at) as JSON. */
static json_object *label_json(sqlite3_stmt *st, int with_superseded)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "metric", text_or_null(st, 0));
    json_object_object_add(o, "labeler", text_or_null(st, 1));
    json_object_object_add(o, "value", json_object_new_double(sqlite3_column_double(st, 2)));
    json_object_object_add(o, "note", text_or_null(st, 3));
    json_object_object_add(o, "sampled", json_object_new_boolean(sqlite3_column_int(st, 4)));
    json_object_object_add(o, "created_at", text_or_null(st, 5));
    if (with_superseded)
        json_object_object_add(o, "superseded_at", text_or_null(st, 6));
    return o;
}

int labels_list_json(db *d, int64_t id, int history, json_object **out)
{
    sqlite3_stmt *st = NULL;
    json_object *a = NULL;
    int rc, s;

    *out = NULL;
    if ((rc = row_exists(d, id)) <= 0) {
        rc = rc == 0 ? -ENOENT : rc;
        goto out;
    }
    rc = -EIO;
    if (!(st = labels_prepare(d, "SELECT metric, labeler, value, note, sampled, created_at, superseded_at"
                          " FROM labels WHERE evaluation_id = ?1"
                          " AND (?2 OR superseded_at IS NULL) ORDER BY metric, labeler, id")))
        goto out;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, !!history);
    a = json_object_new_array();
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        json_object_array_add(a, label_json(st, history));
    if (s != SQLITE_DONE) {
        rc = db_errno(s);
        goto out;
    }
    *out = a;
    a = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    json_object_put(a);
    return rc;
}

int labels_has_column(db *d, const char *table, const char *column)
{
    sqlite3_stmt *st = labels_prepare(d, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
    int rc = -EIO, s;

    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    s = sqlite3_step(st);
    rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : db_errno(s);
out:
    sqlite3_finalize(st);
    return rc;
}

int labels_run_clause(db *d, const labels_filter *f, const char **run_sql)
{
    int rc = 0;

    *run_sql = "";
    if (f->run) {
        if ((rc = labels_has_column(d, "evaluations", "run")) == 0)
            rc = -ENOTSUP;
        else if (rc > 0)
            *run_sql = " AND e.run = ?2";
    }
    return rc < 0 ? rc : 0;
}

void labels_bind_filter(sqlite3_stmt *st, const labels_filter *f)
{
    if (f->dataset)
        sqlite3_bind_text(st, 1, f->dataset, -1, SQLITE_STATIC);
    if (f->run)
        sqlite3_bind_text(st, 2, f->run, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, f->metric, -1, SQLITE_STATIC);
}

static int pairs_grow(labels_pairs *p, size_t *cap)
{
    size_t c = *cap ? 2 * *cap : 64;
    double *j = realloc(p->judge, c * sizeof *j), *h;
    int *s;
    char **g;

    if (j)
        p->judge = j;
    h = j ? realloc(p->human, c * sizeof *h) : NULL;
    if (h)
        p->human = h;
    s = h ? realloc(p->sampled, c * sizeof *s) : NULL;
    if (s)
        p->sampled = s;
    g = s ? realloc(p->group, c * sizeof *g) : NULL;
    if (!g)
        return -ENOMEM;
    p->group = g;
    *cap = c;
    return 0;
}

int labels_pairs_get(db *d, const labels_filter *f, labels_pairs *out)
{
    sqlite3_stmt *st = NULL;
    const char *run_sql;
    char sql[1024];
    size_t cap = 0;
    int rc, s, versions;

    memset(out, 0, sizeof *out);
    if ((rc = labels_run_clause(d, f, &run_sql)) < 0 ||
        (rc = versions = labels_has_column(d, "evaluation_scores", "version")) < 0)
        goto out;
    snprintf(sql, sizeof sql,
             "SELECT s.score, l.value, l.sampled, coalesce(e.judge, '?')%s"
             " FROM labels l JOIN evaluations e ON e.id = l.evaluation_id"
             " JOIN evaluation_scores s ON s.evaluation_id = l.evaluation_id AND s.metric = l.metric"
             " WHERE l.superseded_at IS NULL AND e.status = 'done' AND s.score IS NOT NULL"
             " AND (?1 IS NULL OR e.dataset = ?1)%s AND l.metric = ?3 ORDER BY l.evaluation_id, l.labeler",
             versions ? " || coalesce(' ' || s.version, '')" : "", run_sql);
    rc = -EIO;
    if (!(st = labels_prepare(d, sql)))
        goto out;
    labels_bind_filter(st, f);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap && (rc = pairs_grow(out, &cap)) < 0)
            goto out;
        out->judge[out->n] = sqlite3_column_double(st, 0);
        out->human[out->n] = sqlite3_column_double(st, 1);
        out->sampled[out->n] = sqlite3_column_int(st, 2);
        if (!(out->group[out->n] = strdup((const char *)sqlite3_column_text(st, 3)))) {
            rc = -ENOMEM;
            goto out;
        }
        out->n++;
    }
    rc = s == SQLITE_DONE ? 0 : db_errno(s);
out:
    sqlite3_finalize(st);
    if (rc < 0)
        labels_pairs_free(out);
    return rc;
}

void labels_pairs_free(labels_pairs *p)
{
    size_t i;

    for (i = 0; p->group && i < p->n; i++)
        free(p->group[i]);
    free(p->judge);
    free(p->human);
    free(p->sampled);
    free(p->group);
    memset(p, 0, sizeof *p);
}

/* Metrics compared in "disagreements first": a large gap between the two
 * on one row means one of the judge's verdicts is likely off. */
static const char *related_metric(const char *m)
{
    static const char *const pairs[][2] = {
        { "faithfulness", "answer_correctness" }, { "answer_correctness", "faithfulness" },
        { "context_precision", "context_recall" }, { "context_recall", "context_precision" },
        { "answer_relevancy", "answer_correctness" }, { "correctness", "answer_correctness" },
        { "semantic_similarity", "answer_correctness" }, { "token_f1", "rouge_score" },
        { "rouge_score", "token_f1" }, { "bleu_score", "token_f1" },
        { "non_llm_string_similarity", "token_f1" },
    };
    size_t i;

    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (!strcmp(pairs[i][0], m))
            return pairs[i][1];
    return "";
}

/* A critic's votes split between its samples put the row first in
 * "disagreements": its reason (criteria_judge.c) counts "yes" and "no";
 * the larger the minority, the more split. 0 for every other reason. */
#define SPLIT_VOTE_SQL \
    "(CASE WHEN json_valid(s.reason) THEN coalesce(min(json_extract(s.reason, '$.yes')," \
    " json_extract(s.reason, '$.no')), 0) ELSE 0 END)"

/* Each candidate (done, scored for the metric), by mode's order; random
 * draws are made here from the rows in id order. Columns: id, question,
 * score, related score, gap, split, this labeler's value. */
static int queue_stmt(db *d, const labels_filter *f, const char *mode, const char *labeler,
                      sqlite3_stmt **out)
{
    const char *run_sql;
    char sql[2048];
    labels_scale sc;
    int rc;

    *out = NULL;
    if (labels_scale_of(f->metric, &sc) < 0)
        return -ENOENT;
    if ((rc = labels_run_clause(d, f, &run_sql)) < 0)
        return rc;
    /* Gaps on one scale: 1 to 5 levels are mapped onto 0 to 1. */
#define NORM(x) "(CASE WHEN ?3 = 'correctness' THEN (" x " - 1) / 4.0 ELSE " x " END)"
    snprintf(sql, sizeof sql,
             "SELECT e.id, substr(e.question, 1, 200), s.score, r.score,"
             " abs(" NORM("s.score") " - coalesce(r.score, 0.5)) AS gap, %s AS split,"
             " (SELECT l.value FROM labels l WHERE l.evaluation_id = e.id AND l.metric = ?3"
             "  AND l.labeler = ?5 AND l.superseded_at IS NULL)"
             " FROM evaluations e JOIN evaluation_scores s ON s.evaluation_id = e.id AND s.metric = ?3"
             " LEFT JOIN evaluation_scores r ON r.evaluation_id = e.id AND r.metric = ?4"
             " WHERE e.status = 'done' AND s.score IS NOT NULL AND (?1 IS NULL OR e.dataset = ?1)%s"
             " ORDER BY %s",
             SPLIT_VOTE_SQL, run_sql,
             !strcmp(mode, "random") ? "e.id"
             : "split DESC, (r.score IS NULL), gap DESC, abs(" NORM("s.score") " - 0.5), e.id");
#undef NORM
    if (!(*out = labels_prepare(d, sql)))
        return -EIO;
    labels_bind_filter(*out, f);
    sqlite3_bind_text(*out, 4, related_metric(f->metric), -1, SQLITE_STATIC);
    sqlite3_bind_text(*out, 5, labeler ? labeler : "", -1, SQLITE_STATIC);
    return 0;
}

static json_object *real_or_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL
         : json_object_new_double(sqlite3_column_double(st, i));
}

static json_object *queue_item(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_int64(sqlite3_column_int64(st, 0)));
    json_object_object_add(o, "question", text_or_null(st, 1));
    json_object_object_add(o, "score", real_or_null(st, 2));
    json_object_object_add(o, "related", real_or_null(st, 3));
    json_object_object_add(o, "gap", sqlite3_column_type(st, 3) == SQLITE_NULL ? NULL
                           : real_or_null(st, 4));
    json_object_object_add(o, "label", real_or_null(st, 6));
    return o;
}

/* A random queue's draw: slot[j] is the queue position of the j-th
 * candidate in id order, or -1. A partial Fisher-Yates shuffle: the first
 * min(n, m) of a uniform permutation of the m candidates. */
static int draw(size_t m, size_t n, uint64_t seed, long *slot)
{
    size_t *perm = malloc(m * sizeof *perm), i, k, t;
    stats_rng g;

    if (!perm)
        return -ENOMEM;
    for (i = 0; i < m; i++) {
        perm[i] = i;
        slot[i] = -1;
    }
    stats_rng_seed(&g, seed);
    for (i = 0; i < m && i < n; i++) {
        k = i + stats_rng_below(&g, m - i);
        t = perm[k];
        perm[k] = perm[i];
        perm[i] = t;
        slot[perm[i]] = (long)i;
    }
    free(perm);
    return 0;
}

/* The rows of the queue into items: disagreements, the first n in order;
 * random, a first pass counts the candidates and a second builds only the
 * rows drawn (memory in proportion to n, not to the dataset). *m: the
 * number of candidates. */
static int queue_items(sqlite3_stmt *st, int random, size_t n, uint64_t seed, json_object *items,
                       size_t *m)
{
    json_object *tmp = NULL;
    long *slot = NULL;
    size_t j, i;
    int rc = 0, s;

    *m = 0;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (!random && *m < n)
            json_object_array_add(items, queue_item(st));
        (*m)++;
    }
    if (s != SQLITE_DONE || !random || !*m) {
        rc = s == SQLITE_DONE ? 0 : db_errno(s);
        goto out;
    }
    if (!(slot = malloc(*m * sizeof *slot)) || (rc = draw(*m, n, seed, slot)) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    tmp = json_object_new_array();
    sqlite3_reset(st);
    for (j = 0; j < *m && (s = sqlite3_step(st)) == SQLITE_ROW; j++)
        if (slot[j] >= 0)
            json_object_array_put_idx(tmp, (size_t)slot[j], queue_item(st));
    if (s != SQLITE_DONE && s != SQLITE_ROW) {
        rc = db_errno(s);
        goto out;
    }
    /* Rows deleted between the passes leave holes: skip them. */
    for (i = 0; i < json_object_array_length(tmp); i++)
        if (json_object_array_get_idx(tmp, i))
            json_object_array_add(items, json_object_get(json_object_array_get_idx(tmp, i)));
out:
    json_object_put(tmp);
    free(slot);
    return rc;
}

int labels_queue_json(db *d, const labels_filter *f, const char *mode, size_t n, uint64_t seed,
                      const char *labeler, json_object **out)
{
    sqlite3_stmt *st = NULL;
    json_object *items = json_object_new_array(), *o = NULL;
    int rc, random = !strcmp(mode, "random");
    size_t m;

    *out = NULL;
    if ((rc = queue_stmt(d, f, mode, labeler, &st)) < 0 ||
        (rc = queue_items(st, random, n, seed, items, &m)) < 0)
        goto out;
    o = json_object_new_object();
    json_object_object_add(o, "metric", json_object_new_string(f->metric));
    json_object_object_add(o, "mode", json_object_new_string(mode));
    json_object_object_add(o, "related", *related_metric(f->metric)
                           ? json_object_new_string(related_metric(f->metric)) : NULL);
    json_object_object_add(o, "candidates", json_object_new_int64((int64_t)m));
    json_object_object_add(o, "sampled", json_object_new_boolean(random));
    json_object_object_add(o, "items", items);
    items = NULL;
    *out = o;
    o = NULL;
out:
    sqlite3_finalize(st);
    json_object_put(items);
    json_object_put(o);
    return rc;
}
