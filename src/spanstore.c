/* spanstore.c - the spans of traces not yet assembled, in SQLite
 * (sql/003_spans.sql): owns the SQL of the spans, traces_pending,
 * traces_done and ingest_counters tables. Writes run in BEGIN IMMEDIATE
 * under the writers' turn, through db_exec(Q_BEGIN). */
#include "spanstore.h"
#include "db_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_DONE_HAS, S_PEND_N, S_INSERT, S_PEND_UP, S_READY, S_EXPIRED, S_FETCH, S_DEL_SPANS,
    S_DEL_PEND, S_DONE_INS, S_PURGE, S_COUNT, S_COUNTER, S_PENDING, S_STILL, S__COUNT
};

static const char *const sql[S__COUNT] = {
    [S_DONE_HAS] = "SELECT 1 FROM traces_done WHERE trace_id = ?1",
    [S_PEND_N] = "SELECT n_spans FROM traces_pending WHERE trace_id = ?1",
    [S_INSERT] = "INSERT OR IGNORE INTO spans (trace_id, span_id, parent_id, name, kind, "
                 "start_ns, end_ns, attributes, resource, received_at) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_PEND_UP] = "INSERT INTO traces_pending (trace_id, first_seen, last_seen, root_ended, n_spans) "
                  "VALUES (?1, ?2, ?2, ?3, ?4) ON CONFLICT (trace_id) DO UPDATE SET "
                  "last_seen = max(last_seen, excluded.last_seen), "
                  "root_ended = max(root_ended, excluded.root_ended), "
                  "n_spans = n_spans + excluded.n_spans",
    [S_READY] = "SELECT trace_id FROM traces_pending WHERE root_ended = 1 AND last_seen <= ?1 "
                "ORDER BY last_seen LIMIT ?2",
    [S_EXPIRED] = "SELECT trace_id FROM traces_pending WHERE first_seen <= ?1 "
                  "ORDER BY first_seen LIMIT ?2",
    [S_FETCH] = "SELECT span_id, parent_id, name, kind, start_ns, end_ns, attributes, resource "
                "FROM spans WHERE trace_id = ?1 ORDER BY start_ns, span_id LIMIT ?2",
    [S_DEL_SPANS] = "DELETE FROM spans WHERE trace_id = ?1",
    [S_DEL_PEND] = "DELETE FROM traces_pending WHERE trace_id = ?1",
    [S_DONE_INS] = "INSERT OR REPLACE INTO traces_done (trace_id, done_at, outcome, evaluation_id) "
                   "VALUES (?1, ?2, ?3, ?4)",
    [S_PURGE] = "DELETE FROM traces_done WHERE done_at < ?1",
    [S_COUNT] = "INSERT INTO ingest_counters (name, value) VALUES (?1, ?2) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
    [S_COUNTER] = "SELECT value FROM ingest_counters WHERE name = ?1",
    [S_PENDING] = "SELECT count(*) FROM traces_pending",
    [S_STILL] = "SELECT 1 FROM traces_pending WHERE trace_id = ?1 AND root_ended = 1 "
                "AND last_seen <= ?2",
};

/* Owns its prepared statements; d is borrowed. */
struct spanstore {
    db *d;
    sqlite3_stmt *st[S__COUNT];
};

static sqlite3_stmt *stmt(spanstore *s, int which)
{
    sqlite3_reset(s->st[which]);
    sqlite3_clear_bindings(s->st[which]);
    return s->st[which];
}

static int fail(spanstore *s, int rc, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "spans: %s", sqlite3_errmsg(db_handle(s->d)));
    return db_errno(rc);
}

spanstore *spanstore_new(db *d, char *err, size_t errlen)
{
    spanstore *s = calloc(1, sizeof *s);
    int i;

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->d = d;
    for (i = 0; i < S__COUNT; i++)
        if (sqlite3_prepare_v3(db_handle(d), sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "spans: %s", sqlite3_errmsg(db_handle(d)));
            spanstore_free(s);
            return NULL;
        }
    return s;
}

db *spanstore_db(spanstore *s)
{
    return s->d;
}

void spanstore_free(spanstore *s)
{
    int i;

    if (!s)
        return;
    for (i = 0; i < S__COUNT; i++)
        sqlite3_finalize(s->st[i]);
    free(s);
}

/* Step to the end; SQLITE_DONE or the error code. */
static int step(sqlite3_stmt *st)
{
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    return rc;
}

int spanstore_count(spanstore *s, const char *name, int64_t delta)
{
    sqlite3_stmt *st = stmt(s, S_COUNT);
    int rc;

    if (delta == 0)
        return 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, delta);
    rc = step(st);
    return rc == SQLITE_DONE ? 0 : db_errno(rc) ? db_errno(rc) : -EIO;
}

static int64_t one_int(sqlite3_stmt *st)
{
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;

    sqlite3_reset(st);
    return v;
}

int64_t spanstore_counter(spanstore *s, const char *name)
{
    sqlite3_stmt *st = stmt(s, S_COUNTER);

    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return one_int(st);
}

int64_t spanstore_pending(spanstore *s)
{
    return one_int(stmt(s, S_PENDING));
}

int spanstore_still_ready(spanstore *s, const char *trace_id, int64_t now_ms, int assemble_ms)
{
    sqlite3_stmt *st = stmt(s, S_STILL);

    sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms - assemble_ms);
    return one_int(st) != 0;
}

/* The trace whose spans are being stored (a request's spans of one trace
 * usually come together): looked up once, its pending row updated once. */
struct cur {
    char trace_id[OTLP_TRACE_HEX];
    int late;                 /* already assembled or dropped */
    int64_t room;             /* spans it may still take */
    int64_t added;
    int root_ended;
};

/* Update the pending row of the current trace. Needs the transaction. */
static int flush(spanstore *s, struct cur *c, int64_t now_ms)
{
    sqlite3_stmt *st;

    if (!c->trace_id[0] || c->added == 0)
        return SQLITE_DONE;
    st = stmt(s, S_PEND_UP);
    sqlite3_bind_text(st, 1, c->trace_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int(st, 3, c->root_ended);
    sqlite3_bind_int64(st, 4, c->added);
    return step(st);
}

/* Make trace_id the current trace. */
static int enter(spanstore *s, struct cur *c, const char *trace_id, int max_trace_spans,
                 int64_t now_ms)
{
    sqlite3_stmt *st;
    int rc = flush(s, c, now_ms);

    memset(c, 0, sizeof *c);
    snprintf(c->trace_id, sizeof c->trace_id, "%s", trace_id);
    st = stmt(s, S_DONE_HAS);
    sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
    c->late = one_int(st) != 0;
    st = stmt(s, S_PEND_N);
    sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
    c->room = max_trace_spans - one_int(st);
    return rc;
}

/* Store one span of the current trace; which of stats it goes to. */
static int put_one(spanstore *s, struct cur *c, const otlp_span *sp, const char *attrs,
                   const char *res, int64_t now_ms, spanstore_stats *stats)
{
    sqlite3_stmt *st;
    int rc;

    if (c->late) {
        stats->late++;
        return SQLITE_DONE;
    }
    if (c->room <= 0) {
        stats->over_cap++;
        return SQLITE_DONE;
    }
    st = stmt(s, S_INSERT);
    sqlite3_bind_text(st, 1, sp->trace_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sp->span_id, -1, SQLITE_STATIC);
    if (sp->parent_id[0])
        sqlite3_bind_text(st, 3, sp->parent_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sp->name ? sp->name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, sp->kind);
    sqlite3_bind_int64(st, 6, (int64_t)sp->start_ns);
    sqlite3_bind_int64(st, 7, (int64_t)sp->end_ns);
    sqlite3_bind_text(st, 8, attrs, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, res, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, now_ms);
    if ((rc = step(st)) != SQLITE_DONE)
        return rc;
    if (sqlite3_changes(db_handle(s->d)) == 0) {
        stats->duplicate++;
        return SQLITE_DONE;
    }
    stats->stored++;
    c->added++;
    c->room--;
    c->root_ended |= !sp->parent_id[0] && sp->end_ns > 0;
    return SQLITE_DONE;
}

static int put_counters(spanstore *s, size_t n, size_t sampled_out, size_t rejected,
                        const spanstore_stats *st)
{
    if (spanstore_count(s, "spans_received", (int64_t)(n + sampled_out + rejected)) < 0 ||
        spanstore_count(s, "spans_sampled_out", (int64_t)sampled_out) < 0 ||
        spanstore_count(s, "spans_rejected", (int64_t)rejected) < 0 ||
        spanstore_count(s, "spans_duplicate", (int64_t)st->duplicate) < 0 ||
        spanstore_count(s, "spans_late", (int64_t)st->late) < 0 ||
        spanstore_count(s, "spans_over_cap", (int64_t)st->over_cap) < 0)
        return -EIO;
    return 0;
}

int spanstore_put(spanstore *s, const otlp_span *const *spans, size_t n, size_t sampled_out,
                  size_t rejected, int max_trace_spans, int64_t now_ms, spanstore_stats *stats,
                  char *err, size_t errlen)
{
    const otlp_attrs *last_res = NULL;
    char *attrs = NULL, *res = NULL;
    struct cur c;
    size_t i;
    int rc = SQLITE_DONE, ret = 0;

    memset(&c, 0, sizeof c);

    memset(stats, 0, sizeof *stats);
    if ((ret = db_exec(s->d, Q_BEGIN)) < 0) {
        snprintf(err, errlen, "spans: cannot begin: %s", db_errmsg(s->d));
        return ret;
    }
    for (i = 0; i < n && rc == SQLITE_DONE; i++) {
        if (spans[i]->resource != last_res || !res) {
            free(res);
            res = otlp_attrs_json(spans[i]->resource);
            last_res = spans[i]->resource;
        }
        attrs = otlp_attrs_json(&spans[i]->attrs);
        if (!attrs || !res) {
            free(attrs);
            ret = -ENOMEM;
            snprintf(err, errlen, "out of memory");
            goto undo;
        }
        if (strcmp(c.trace_id, spans[i]->trace_id))
            rc = enter(s, &c, spans[i]->trace_id, max_trace_spans, now_ms);
        if (rc == SQLITE_DONE)
            rc = put_one(s, &c, spans[i], attrs, res, now_ms, stats);
        free(attrs);
    }
    if (rc == SQLITE_DONE)
        rc = flush(s, &c, now_ms);
    if (rc != SQLITE_DONE) {
        ret = fail(s, rc, err, errlen);
        goto undo;
    }
    if ((ret = put_counters(s, n, sampled_out, rejected, stats)) < 0 || (ret = db_exec(s->d, Q_COMMIT)) < 0) {
        fail(s, SQLITE_IOERR, err, errlen);
        goto undo;
    }
    free(res);
    return 0;
undo:
    free(res);
    if (!sqlite3_get_autocommit(db_handle(s->d)))
        db_exec(s->d, Q_ROLLBACK);
    memset(stats, 0, sizeof *stats);
    return ret;
}

static int list_ids(spanstore *s, int which, int64_t before, char (*ids)[OTLP_TRACE_HEX],
                    size_t max, size_t *n, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, which);
    int rc;

    *n = 0;
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int64(st, 2, (int64_t)max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
        const char *t = (const char *)sqlite3_column_text(st, 0);

        snprintf(ids[(*n)++], OTLP_TRACE_HEX, "%s", t ? t : "");
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(s, rc, err, errlen);
}

int spanstore_ready(spanstore *s, int64_t now_ms, int assemble_ms, char (*ids)[OTLP_TRACE_HEX],
                    size_t max, size_t *n, char *err, size_t errlen)
{
    return list_ids(s, S_READY, now_ms - assemble_ms, ids, max, n, err, errlen);
}

int spanstore_expired(spanstore *s, int64_t now_ms, int max_wait_ms,
                      char (*ids)[OTLP_TRACE_HEX], size_t max, size_t *n, char *err,
                      size_t errlen)
{
    return list_ids(s, S_EXPIRED, now_ms - max_wait_ms, ids, max, n, err, errlen);
}

void spanstore_trace_free(spanstore_trace *t)
{
    size_t i;

    if (!t)
        return;
    for (i = 0; i < t->n; i++) {
        free(t->spans[i].name);
        otlp_attrs_clear(&t->spans[i].attrs);
        otlp_attrs_clear(&t->resources[i]);
    }
    free(t->spans);
    free(t->resources);
    free(t);
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);

    return t ? t : "";
}

/* Fill t->spans[t->n] from the current row of st; 0 or -ENOMEM/-EIO. */
static int fetch_row(spanstore_trace *t, sqlite3_stmt *st, const char *trace_id)
{
    otlp_span *sp = &t->spans[t->n];
    int rc;

    memset(sp, 0, sizeof *sp);
    snprintf(sp->trace_id, sizeof sp->trace_id, "%s", trace_id);
    snprintf(sp->span_id, sizeof sp->span_id, "%s", col(st, 0));
    snprintf(sp->parent_id, sizeof sp->parent_id, "%s", col(st, 1));
    sp->kind = sqlite3_column_int(st, 3);
    sp->start_ns = (uint64_t)sqlite3_column_int64(st, 4);
    sp->end_ns = (uint64_t)sqlite3_column_int64(st, 5);
    sp->resource = &t->resources[t->n];
    t->n++;                                 /* counted now: freed on failure */
    if (!(sp->name = strdup(col(st, 2))))
        return -ENOMEM;
    if ((rc = otlp_attrs_parse(&sp->attrs, col(st, 6))) < 0 ||
        (rc = otlp_attrs_parse(&t->resources[t->n - 1], col(st, 7))) < 0)
        return rc == -EINVAL ? -EIO : rc;
    return 0;
}

int spanstore_fetch(spanstore *s, const char *trace_id, size_t max, spanstore_trace **out,
                    char *err, size_t errlen)
{
    spanstore_trace *t = calloc(1, sizeof *t);
    sqlite3_stmt *st = stmt(s, S_FETCH);
    int rc = SQLITE_DONE, ret = 0;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!t || !(t->spans = calloc(max + 1, sizeof *t->spans)) ||
        !(t->resources = calloc(max + 1, sizeof *t->resources))) {
        ret = -ENOMEM;
        goto out;
    }
    sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)max);
    while (ret == 0 && t->n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ret = fetch_row(t, st, trace_id);
    sqlite3_reset(st);
    if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = fail(s, rc, err, errlen);
    if (ret == 0 && t->n == 0)
        ret = -ENOENT;
    if (ret == 0) {
        *out = t;
        t = NULL;
    } else if (ret != -EIO || !err[0]) {
        snprintf(err, errlen, "spans of %s: %s", trace_id, ret == -ENOENT ? "none stored"
                              : ret == -ENOMEM ? "out of memory" : "unreadable");
    }
out:
    spanstore_trace_free(t);
    return ret;
}

int spanstore_finish(spanstore *s, const char *trace_id, const char *outcome,
                     int64_t evaluation_id, int64_t now_ms, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    char counter[64];
    int own = sqlite3_get_autocommit(db_handle(s->d)), rc = SQLITE_DONE, ret;

    if (own && (ret = db_exec(s->d, Q_BEGIN)) < 0) {
        snprintf(err, errlen, "spans: cannot begin: %s", db_errmsg(s->d));
        return ret;
    }
    st = stmt(s, S_DEL_SPANS);
    sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
    if ((rc = step(st)) == SQLITE_DONE) {
        st = stmt(s, S_DEL_PEND);
        sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
        rc = step(st);
    }
    if (rc == SQLITE_DONE) {
        st = stmt(s, S_DONE_INS);
        sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_text(st, 3, outcome, -1, SQLITE_STATIC);
        if (evaluation_id > 0)
            sqlite3_bind_int64(st, 4, evaluation_id);
        rc = step(st);
    }
    snprintf(counter, sizeof counter, "traces_%s", outcome);
    if (rc == SQLITE_DONE && spanstore_count(s, counter, 1) < 0)
        rc = SQLITE_IOERR;
    if (rc != SQLITE_DONE) {
        ret = fail(s, rc, err, errlen);
        if (own && !sqlite3_get_autocommit(db_handle(s->d)))
            db_exec(s->d, Q_ROLLBACK);
        return ret;
    }
    if (own && (ret = db_exec(s->d, Q_COMMIT)) < 0) {
        snprintf(err, errlen, "spans: cannot commit: %s", db_errmsg(s->d));
        if (!sqlite3_get_autocommit(db_handle(s->d)))
            db_exec(s->d, Q_ROLLBACK);
        return ret;
    }
    return 0;
}

int spanstore_purge_done(spanstore *s, int64_t before_ms, size_t *n, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, S_PURGE);
    int own = sqlite3_get_autocommit(db_handle(s->d)), rc, ret;

    *n = 0;
    if (own && (ret = db_exec(s->d, Q_BEGIN)) < 0) {
        snprintf(err, errlen, "spans: cannot begin: %s", db_errmsg(s->d));
        return ret;
    }
    sqlite3_bind_int64(st, 1, before_ms);
    rc = step(st);
    if (rc != SQLITE_DONE) {
        ret = fail(s, rc, err, errlen);
        if (own && !sqlite3_get_autocommit(db_handle(s->d)))
            db_exec(s->d, Q_ROLLBACK);
        return ret;
    }
    *n = (size_t)sqlite3_changes(db_handle(s->d));
    return own ? db_exec(s->d, Q_COMMIT) : 0;
}

/* Append printf text to buf at *off; -ENOSPC when it does not fit. */
static int emit(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int emit(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*off >= len)
        return -ENOSPC;
    va_start(ap, fmt);
    n = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *off) {
        buf[*off] = '\0';
        return -ENOSPC;
    }
    *off += (size_t)n;
    return 0;
}

int spanstore_prom(spanstore *s, char *buf, size_t len, size_t *off)
{
    static const char *const spans[] = { "received", "duplicate", "late", "over_cap",
                                         "sampled_out", "rejected", NULL };
    static const char *const traces[] = { "row", "filtered", "no_question", "no_answer",
                                          "invalid", "expired", NULL };
    char name[64];
    size_t i;
    int rc;

    rc = emit(buf, len, off, "# HELP ragrade_ingest_traces_pending Traces waiting to be assembled.\n"
              "# TYPE ragrade_ingest_traces_pending gauge\n"
              "ragrade_ingest_traces_pending %lld\n"
              "# HELP ragrade_ingest_spans_total OTLP spans received, by what became of them.\n"
              "# TYPE ragrade_ingest_spans_total counter\n", (long long)spanstore_pending(s));
    for (i = 0; rc == 0 && spans[i]; i++) {
        snprintf(name, sizeof name, "spans_%s", spans[i]);
        rc = emit(buf, len, off, "ragrade_ingest_spans_total{result=\"%s\"} %lld\n", spans[i],
                  (long long)spanstore_counter(s, name));
    }
    if (rc == 0)
        rc = emit(buf, len, off, "# HELP ragrade_ingest_traces_total Traces assembled or dropped, "
                  "by outcome.\n# TYPE ragrade_ingest_traces_total counter\n");
    for (i = 0; rc == 0 && traces[i]; i++) {
        snprintf(name, sizeof name, "traces_%s", traces[i]);
        rc = emit(buf, len, off, "ragrade_ingest_traces_total{outcome=\"%s\"} %lld\n",
                  traces[i], (long long)spanstore_counter(s, name));
    }
    return rc;
}
