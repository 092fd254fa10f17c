/* prom.c - GET /api/metrics in Prometheus text format and GET /api/status
 * in the manner of php-fpm's status page (see prom.h). Counters come from
 * board_sum, so they never go backwards when a worker restarts; what the
 * database holds (queue depth, stored scores, tokens) is exported as
 * gauges, since deletes and retries make it shrink. A read module: it owns
 * the SQL of those gauges and decodes their columns. */
#include "prom.h"
#include "db_int.h"
#include "clock.h"
#include "judge.h"
#include "row.h"
#include "spanstore.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TEXT_MAX (4u << 20)       /* cap on the metrics page */

static const char *const routes[BOARD_ROUTES] = {
    "submit", "list", "get", "summary", "health", "metrics", "status", "ping", "admin", "other"
};
static const char *const states[] = { "uninitialized", "initializing", "ready", "failed" };

const char *prom_judge_state(int state)
{
    return state >= 0 && state <= 3 ? states[state] : "unknown";
}

/* A growing text buffer; oom sticks. */
struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    size_t need, cap;
    char *p;
    int n;

    if (b->oom)
        goto out;
    va_start(ap, fmt);
    n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        goto out;
    }
    need = b->len + (size_t)n + 1;
    if (need > b->cap) {
        for (cap = b->cap ? b->cap : 8192; cap < need; cap *= 2)
            ;
        if (cap > TEXT_MAX || !(p = realloc(b->p, cap))) {
            b->oom = 1;
            goto out;
        }
        b->p = p;
        b->cap = cap;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
out:
    return;
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newlines escaped, cut at 200 bytes. */
static void label(char *out, size_t len, const char *v)
{
    size_t o = 0;

    for (; v && *v && o + 3 < len && o < 200; v++) {
        if (*v == '\\' || *v == '"')
            out[o++] = '\\', out[o++] = *v;
        else if (*v == '\n')
            out[o++] = '\\', out[o++] = 'n';
        else
            out[o++] = *v;
    }
    out[o] = '\0';
}

/* ISO 8601 UTC text (as stored) to epoch ms; 0 if NULL or unreadable. */
static int64_t iso_ms(const char *s)
{
    int64_t ms;

    return s && clock_parse_iso(s, &ms) == 0 ? ms : 0;
}

#define U(x) ((unsigned long long)(x))

/* A process's memory as monitors should read it: private (Private_Clean +
 * Private_Dirty of /proc/PID/smaps_rollup: its heap, stacks and the pages
 * only it holds) and RSS, which also counts the database pages each of
 * its connections mapped (db.mmap_size): those are the kernel's page
 * cache, shared with every process, and RSS counts them once per
 * connection. Without smaps_rollup (Linux < 4.14), statm's resident minus
 * shared. Bytes; 0 with -1 when unreadable (another user's process). */
static int proc_memory(pid_t pid, long long *private_b, long long *rss_b)
{
    char path[64], line[256];
    long long kb, priv = 0, rss = 0, res, shared;
    long page = sysconf(_SC_PAGESIZE);
    FILE *f;
    int rc = -1, seen = 0;

    *private_b = *rss_b = 0;
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    if ((f = fopen(path, "re"))) {
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "Private_Clean: %lld kB", &kb) == 1 || sscanf(line, "Private_Dirty: %lld kB", &kb) == 1)
                priv += kb, seen |= 1;
            else if (sscanf(line, "Rss: %lld kB", &kb) == 1)
                rss = kb, seen |= 2;
        }
        fclose(f);
        if (seen == 3) {
            *private_b = priv * 1024;
            *rss_b = rss * 1024;
            return 0;
        }
    }
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    if ((f = fopen(path, "re"))) {
        if (fscanf(f, "%lld %lld %lld", &kb, &res, &shared) == 3) {
            *private_b = (res - shared) * page;
            *rss_b = res * page;
            rc = 0;
        }
        fclose(f);
    }
    return rc;
}

static void requests(struct buf *b, const board_counters *c)
{
    char code[8];
    uint64_t cum = 0;
    int r, k;

    family(b, "ragrade_http_requests_total", "counter", "Requests answered by the pool, by route class"
           " and HTTP status (nginx's own 413 and 429 are not here).");
    for (r = 0; r < BOARD_ROUTES; r++)
        for (k = 0; k < BOARD_CODES; k++) {
            if (!c->requests[r][k])
                continue;
            if (board_code_at(k))
                snprintf(code, sizeof code, "%d", board_code_at(k));
            else
                snprintf(code, sizeof code, "other");
            put(b, "ragrade_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n", routes[r], code,
                U(c->requests[r][k]));
        }
    family(b, "ragrade_submit_duration_seconds", "histogram",
           "Time to answer POST /api/eval (validation, group commit, answer), every status.");
    for (k = 0; k < BOARD_BUCKETS; k++) {
        cum += c->submit_bucket[k];
        if (k < BOARD_BUCKETS - 1)
            put(b, "ragrade_submit_duration_seconds_bucket{le=\"%g\"} %llu\n", board_bucket_le(k),
                U(cum));
        else
            put(b, "ragrade_submit_duration_seconds_bucket{le=\"+Inf\"} %llu\n", U(cum));
    }
    put(b, "ragrade_submit_duration_seconds_sum %.6f\n", (double)c->submit_us / 1e6);
    put(b, "ragrade_submit_duration_seconds_count %llu\n", U(cum));
}

/* One per-worker gauge family over the live slots. what: 0 start time,
 * 1 active threads, 2 judge state, 3 private memory, 4 RSS. */
static void per_worker(struct buf *b, board *bd, const char *name, const char *help, int what)
{
    char err[BOARD_ERROR_MAX];
    int i, pid;

    family(b, name, "gauge", help);
    for (i = 0; i < board_nslots(bd); i++) {
        board_slot *s = board_slot_at(bd, i);

        if (!(pid = board_load(&s->pid)))
            continue;
        if (what == 0)
            put(b, "%s{pid=\"%d\"} %.3f\n", name, pid, (double)s->started_ms / 1000);
        else if (what == 1)
            put(b, "%s{pid=\"%d\"} %d\n", name, pid, board_load(&s->active));
        else if (what >= 3) {
            long long priv, rss;

            if (proc_memory(pid, &priv, &rss) == 0)
                put(b, "%s{pid=\"%d\"} %lld\n", name, pid, what == 3 ? priv : rss);
        }
        else
            put(b, "%s{pid=\"%d\",state=\"%s\"} 1\n", name, pid,
                prom_judge_state(board_get_judge(s, err, sizeof err)));
    }
}

static void pool(struct buf *b, board *bd, const board_counters *c)
{
    int i, workers = 0, active = 0, threads = 0, inflight = 0;

    for (i = 0; i < board_nslots(bd); i++) {
        board_slot *s = board_slot_at(bd, i);

        if (!board_load(&s->pid))
            continue;
        workers++;
        active += board_load(&s->active);
        threads += board_load(&s->threads);
        inflight += board_load(&s->inflight);
    }
    family(b, "ragrade_pool_start_time_seconds", "gauge", "When the master started (Unix time).");
    put(b, "ragrade_pool_start_time_seconds %.3f\n", (double)board_started_ms(bd) / 1000);
    family(b, "ragrade_pool_workers", "gauge", "Live worker processes.");
    put(b, "ragrade_pool_workers %d\n", workers);
    family(b, "ragrade_pool_threads", "gauge",
           "Request threads of live workers, serving (active) or waiting (idle).");
    put(b, "ragrade_pool_threads{state=\"active\"} %d\n", active);
    put(b, "ragrade_pool_threads{state=\"idle\"} %d\n", threads - active);
    family(b, "ragrade_pool_accepted_requests_total", "counter", "Requests accepted by request threads.");
    put(b, "ragrade_pool_accepted_requests_total %llu\n", U(c->accepted));
    family(b, "ragrade_pool_connections_total", "counter",
           "FastCGI connections accepted from nginx; with fastcgi_keep_conn each carries many requests.");
    put(b, "ragrade_pool_connections_total %llu\n", U(c->connections));
    family(b, "ragrade_pool_saturated_total", "counter",
           "Requests that found every thread of their worker busy.");
    put(b, "ragrade_pool_saturated_total %llu\n", U(c->saturated));
    family(b, "ragrade_pool_slow_requests_total", "counter", "Requests slower than server.slow_request_ms.");
    put(b, "ragrade_pool_slow_requests_total %llu\n", U(c->slow));
    family(b, "ragrade_pool_worker_restarts_total", "counter", "Workers that died and were replaced.");
    put(b, "ragrade_pool_worker_restarts_total %llu\n", U(board_restarts(bd)));
    per_worker(b, bd, "ragrade_worker_start_time_seconds",
               "When each live worker started (Unix time).", 0);
    per_worker(b, bd, "ragrade_worker_active_threads",
               "Request threads serving a request, per worker.", 1);
    per_worker(b, bd, "ragrade_worker_judge_state", "1 for the state of each worker's judge.", 2);
    per_worker(b, bd, "ragrade_worker_private_memory_bytes",
               "Memory only this worker holds (Private_Clean + Private_Dirty): what it costs.", 3);
    per_worker(b, bd, "ragrade_worker_resident_memory_bytes",
               "RSS, which also counts the shared database pages once per connection that mapped them"
               " (db.mmap_size): not what the worker costs.", 4);
    family(b, "ragrade_judge_inflight", "gauge", "Evaluations in the judges of live workers now.");
    put(b, "ragrade_judge_inflight %d\n", inflight);
    family(b, "ragrade_judge_calls_total", "counter",
           "Evaluation attempts the judges finished (done, retried or failed).");
    put(b, "ragrade_judge_calls_total %llu\n", U(c->evaluated + c->retried + c->failed));
    family(b, "ragrade_judge_errors_total", "counter", "Evaluation attempts that failed their row for good.");
    put(b, "ragrade_judge_errors_total %llu\n", U(c->failed));
    family(b, "ragrade_judge_retries_total", "counter",
           "Evaluation attempts that failed transiently and put their row back in the queue.");
    put(b, "ragrade_judge_retries_total %llu\n", U(c->retried));
    family(b, "ragrade_wal_checkpoints_total", "counter", "Passive WAL checkpoints run by the schedulers.");
    put(b, "ragrade_wal_checkpoints_total %llu\n", U(c->checkpoints));
    family(b, "ragrade_wal_restarts_total", "counter",
           "WAL restarts made by the checkpointing scheduler, while writers waited, after a checkpoint that copied the whole WAL.");
    put(b, "ragrade_wal_restarts_total %llu\n", U(c->wal_restarts));
}

/* The SQL of the database series, beside their decoding in from_db. */
/* Counts, tokens and scores read migration 005's aggregates (a few rows
 * per dataset), not the rows; scores exist only for done rows. */
static const char sql_counts[] =
    "SELECT total(queued), total(running), total(done), total(failed) FROM aggregate_datasets";
/* The first queued row by id (ids follow acceptance; created_at of rows
 * from two workers may differ by the milliseconds of a group commit):
 * one index probe, where min(created_at) read every queued row. */
static const char sql_oldest[] =
    "SELECT (SELECT created_at FROM evaluations WHERE status = 'queued' ORDER BY id LIMIT 1)";
static const char sql_tokens[] =
    "SELECT total(prompt_tokens), total(completion_tokens) FROM aggregate_datasets";
static const char sql_scores[] =
    "SELECT metric, total(scored), total(n) - total(scored)"
    " FROM aggregate_scores GROUP BY metric HAVING total(n) > 0 ORDER BY metric";

/* The database series; 0 or a negative code (then nothing was written). */
static int from_db(struct buf *out, db *rd)
{
    struct buf b = { NULL, 0, 0, 0 };
    long long counts[ROW_N_STATUS] = { 0 };
    char lab[256];
    sqlite3_stmt *st = NULL, *sc = NULL;
    int s, i, rc = -EIO;
    int64_t oldest = 0;

    if (!(st = db_cached(rd, sql_counts)))
        goto out;
    if ((s = sqlite3_step(st)) == SQLITE_ROW)
        for (i = 0; i < ROW_N_STATUS; i++)
            counts[i] = sqlite3_column_int64(st, i);
    sqlite3_reset(st);
    if (s != SQLITE_ROW)
        goto out;
    family(&b, "ragrade_queue_rows", "gauge", "Evaluations in the database, by status.");
    for (i = 0; i < ROW_N_STATUS; i++)
        put(&b, "ragrade_queue_rows{status=\"%s\"} %lld\n", row_status_names[i], counts[i]);
    if (!(st = db_cached(rd, sql_oldest)))
        goto out;
    if ((s = sqlite3_step(st)) == SQLITE_ROW)
        oldest = iso_ms((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (s != SQLITE_ROW)
        goto out;
    family(&b, "ragrade_queue_oldest_age_seconds", "gauge",
           "Age of the oldest queued evaluation; 0 if none.");
    put(&b, "ragrade_queue_oldest_age_seconds %.3f\n",
        oldest ? (double)(clock_wall_ms() - oldest) / 1000 : 0.0);
    if (!(st = db_cached(rd, sql_tokens)))
        goto out;
    if ((s = sqlite3_step(st)) == SQLITE_ROW) {
        family(&b, "ragrade_tokens", "gauge",
               "Judge tokens recorded on the evaluations stored, by kind.");
        put(&b, "ragrade_tokens{kind=\"prompt\"} %.0f\n", sqlite3_column_double(st, 0));
        put(&b, "ragrade_tokens{kind=\"completion\"} %.0f\n", sqlite3_column_double(st, 1));
    }
    sqlite3_reset(st);
    if (s != SQLITE_ROW)
        goto out;
    if (!(sc = db_cached(rd, sql_scores)))
        goto out;
    family(&b, "ragrade_scores", "gauge",
           "Scores stored, by metric and outcome (scored, or null with a reason).");
    while ((s = sqlite3_step(sc)) == SQLITE_ROW) {
        label(lab, sizeof lab, (const char *)sqlite3_column_text(sc, 0));
        put(&b, "ragrade_scores{metric=\"%s\",outcome=\"scored\"} %lld\n", lab,
            sqlite3_column_int64(sc, 1));
        put(&b, "ragrade_scores{metric=\"%s\",outcome=\"null\"} %lld\n", lab,
            sqlite3_column_int64(sc, 2));
    }
    if (s != SQLITE_DONE)
        goto out;
    if (b.oom) {
        rc = -ENOMEM;
        goto out;
    }
    put(out, "%.*s", (int)b.len, b.p ? b.p : "");
    rc = 0;
out:
    if (sc)
        sqlite3_reset(sc);
    free(b.p);
    return rc;
}

/* The OTLP ingestion counters (spanstore_prom), with ingest.enabled. */
static void ingest(struct buf *b, const conf *cf, db *rd)
{
    char err[128], text[4096];
    size_t off = 0;
    spanstore *s;

    if (!cf->ingest_enabled || !(s = spanstore_new(rd, err, sizeof err)))
        return;
    if (spanstore_prom(s, text, sizeof text, &off) == 0)
        put(b, "%s", text);
    spanstore_free(s);
}

int prom_text(const conf *cf, board *bd, db *rd, char **out, size_t *len)
{
    struct buf b = { NULL, 0, 0, 0 };
    board_counters c;
    int rc = 0, up;

    board_sum(bd, &c);
    requests(&b, &c);
    pool(&b, bd, &c);
    up = from_db(&b, rd) == 0;
    ingest(&b, cf, rd);
    family(&b, "ragrade_db_up", "gauge", "1 if the database series above could be read.");
    put(&b, "ragrade_db_up %d\n", up);
    if (b.oom) {
        free(b.p);
        b.p = NULL;
        b.len = 0;
        rc = -ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return rc;
}

/* One worker's entry in the status: its process, threads, counters, memory and judge. */
static json_object *worker_status(board_slot *s, pid_t pid, int act, int thr, int64_t now, long long *priv_all)
{
    json_object *w, *j;
    char iso[32], err[BOARD_ERROR_MAX];
    long long priv, rss;
    int st;

    w = json_object_new_object();
    json_object_object_add(w, "pid", json_object_new_int(pid));
    clock_iso(s->started_ms, iso, sizeof iso);
    json_object_object_add(w, "start_time", json_object_new_string(iso));
    json_object_object_add(w, "start_since",
                           json_object_new_int64(s->started_ms ? (now - s->started_ms) / 1000 : 0));
    json_object_object_add(w, "threads", json_object_new_int(thr));
    json_object_object_add(w, "active_threads", json_object_new_int(act));
    json_object_object_add(w, "idle_threads", json_object_new_int(thr - act));
    json_object_object_add(w, "accepted", json_object_new_uint64(board_load(&s->c.accepted)));
    json_object_object_add(w, "connections", json_object_new_uint64(board_load(&s->c.connections)));
    json_object_object_add(w, "open_connections", json_object_new_int(board_load(&s->conns)));
    json_object_object_add(w, "saturated", json_object_new_uint64(board_load(&s->c.saturated)));
    json_object_object_add(w, "slow_requests", json_object_new_uint64(board_load(&s->c.slow)));
    json_object_object_add(w, "evaluated", json_object_new_uint64(board_load(&s->c.evaluated)));
    json_object_object_add(w, "failed", json_object_new_uint64(board_load(&s->c.failed)));
    json_object_object_add(w, "retried", json_object_new_uint64(board_load(&s->c.retried)));
    json_object_object_add(w, "checkpoints", json_object_new_uint64(board_load(&s->c.checkpoints)));
    json_object_object_add(w, "wal_restarts", json_object_new_uint64(board_load(&s->c.wal_restarts)));
    json_object_object_add(w, "judge_inflight", json_object_new_int(board_load(&s->inflight)));
    if (proc_memory(pid, &priv, &rss) == 0) {
        json_object_object_add(w, "private_memory", json_object_new_int64(priv));
        json_object_object_add(w, "rss", json_object_new_int64(rss));
        *priv_all += priv;
    } else {
        json_object_object_add(w, "private_memory", NULL);
        json_object_object_add(w, "rss", NULL);
    }
    j = json_object_new_object();
    st = board_get_judge(s, err, sizeof err);
    json_object_object_add(j, "state", json_object_new_string(prom_judge_state(st)));
    json_object_object_add(j, "error", err[0] ? json_object_new_string(err) : NULL);
    json_object_object_add(w, "judge", j);
    return w;
}

json_object *prom_status(const conf *cf, board *bd)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    char iso[32];
    board_counters c;
    int64_t now = clock_wall_ms();
    int i, workers = 0, active = 0, threads = 0, inflight = 0;
    long long priv_all = 0;

    board_sum(bd, &c);
    for (i = 0; i < board_nslots(bd); i++) {
        board_slot *s = board_slot_at(bd, i);
        pid_t pid = board_load(&s->pid);
        int act = board_load(&s->active), thr = board_load(&s->threads);

        if (!pid)
            continue;
        workers++;
        active += act;
        threads += thr;
        inflight += board_load(&s->inflight);
        json_object_array_add(arr, worker_status(s, pid, act, thr, now, &priv_all));
    }
    json_object_object_add(o, "pool", json_object_new_string("ragrade"));
    clock_iso(board_started_ms(bd), iso, sizeof iso);
    json_object_object_add(o, "start_time", json_object_new_string(iso));
    json_object_object_add(o, "start_since", json_object_new_int64((now - board_started_ms(bd)) / 1000));
    json_object_object_add(o, "accepted", json_object_new_uint64(c.accepted));
    json_object_object_add(o, "connections", json_object_new_uint64(c.connections));
    json_object_object_add(o, "workers", json_object_new_int(workers));
    json_object_object_add(o, "configured_workers", json_object_new_int(cf->workers));
    json_object_object_add(o, "total_threads", json_object_new_int(threads));
    json_object_object_add(o, "active_threads", json_object_new_int(active));
    json_object_object_add(o, "idle_threads", json_object_new_int(threads - active));
    json_object_object_add(o, "saturated", json_object_new_uint64(c.saturated));
    json_object_object_add(o, "slow_requests", json_object_new_uint64(c.slow));
    json_object_object_add(o, "slow_request_ms", json_object_new_int(cf->slow_request_ms));
    json_object_object_add(o, "worker_restarts", json_object_new_uint64(board_restarts(bd)));
    json_object_object_add(o, "judge_inflight", json_object_new_int(inflight));
    {
        int64_t last;
        uint64_t n = board_socket_rebinds(bd, &last);

        clock_iso(last, iso, sizeof iso);
        json_object_object_add(o, "socket_rebinds", json_object_new_uint64(n));
        json_object_object_add(o, "socket_rebound_at", n ? json_object_new_string(iso) : NULL);
    }
    json_object_object_add(o, "private_memory", json_object_new_int64(priv_all));
    json_object_object_add(o, "mmap_size", json_object_new_int64((int64_t)cf->mmap_size));
    json_object_object_add(o, "processes", arr);
    return o;
}
