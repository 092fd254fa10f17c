/* db.c - one SQLite connection per thread: open with WAL, a busy handler
 * that waits in short steps, migrations by PRAGMA user_version, a cache of
 * prepared statements, and the write paths that the queue and the
 * scheduler run inside their transactions. */
#include "db_int.h"
#include "clock.h"
#include "schema.h"
#include "turn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct db {
    sqlite3 *h;
    int busy_timeout_ms;
    int64_t busy_since_us;        /* when the current wait began */
    int64_t deadline_us;          /* db_deadline: waits end by then; 0: busy_timeout_ms */
    turn *turn;                   /* owned; made on the first db_turn_take */
    int line;                     /* db_turn_line: every take stands in the line */
    int turn_depth;               /* db_turn_take calls not yet given back */
    int txn_turn;                 /* 1: Q_BEGIN took the turn; COMMIT/ROLLBACK give it */
    int ckpt_fd;                  /* DB-checkpoint.lock, held by the pool's checkpointer; -1 */
    int ckpt_held;
    sqlite3_stmt *stmts[Q__COUNT];
    struct { const char *sql; sqlite3_stmt *st; } cached[DB_CACHED_MAX];  /* db_cached */
    int n_cached;
};

static int step_done(sqlite3_stmt *st);
static void bind_text(sqlite3_stmt *st, int i, const char *s);
static char *col_dup(sqlite3_stmt *st, int i);

/* The queue's hot statements name their partial index (INDEXED BY): with
 * no ANALYZE statistics the planner would take (status, id) instead, and a
 * claim would scan and sort every queued row, O(queue depth) per claim. */
static const char *const sql[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_WAL_MARK] = "PRAGMA application_id = 1380405828",   /* "RGRD" */
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT submit",
    [Q_RELEASE] = "RELEASE submit",
    [Q_ROLLBACK_TO] = "ROLLBACK TO submit",
    [Q_INSERT] =
        "INSERT INTO evaluations(created_at, updated_at, status, dataset, question, answer,"
        " contexts, ground_truth, reference_contexts, metrics, max_attempts, idempotency_key,"
        " idempotency_hash, judge_profile, run, item)"
        " VALUES(?1, ?1, 'queued', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [Q_IDEM_LOOKUP] = "SELECT id, status, idempotency_hash FROM evaluations WHERE idempotency_key = ?1 ORDER BY id",
    [Q_REAP_FAIL] =
        "UPDATE evaluations SET status = 'failed', finished_at = ?2, updated_at = ?2,"
        " last_error = 'lease of ' || coalesce(lease_owner, '?') || ' expired on attempt '"
        "   || attempts || ' of ' || max_attempts || ' (the worker died or stalled)',"
        " lease_owner = NULL, lease_until = NULL"
        " WHERE rowid IN (SELECT rowid FROM evaluations INDEXED BY evaluations_running"
        "   WHERE status = 'running' AND lease_until < ?1 AND attempts >= max_attempts)",
    [Q_REAP_RETRY] =
        "UPDATE evaluations SET status = 'queued', updated_at = ?2,"
        " last_error = 'lease of ' || coalesce(lease_owner, '?') || ' expired on attempt '"
        "   || attempts || ' (the worker died or stalled); queued again',"
        " lease_owner = NULL, lease_until = NULL"
        " WHERE rowid IN (SELECT rowid FROM evaluations INDEXED BY evaluations_running"
        "   WHERE status = 'running' AND lease_until < ?1)",
    [Q_RUNNING_COUNT] = "SELECT count(*) FROM evaluations INDEXED BY evaluations_running WHERE status = 'running'",
    [Q_CLAIM] =
        "UPDATE evaluations SET status = 'running', lease_owner = ?1, lease_until = ?2,"
        " attempts = attempts + 1, started_at = ?3, updated_at = ?3"
        " WHERE id IN (SELECT id FROM evaluations INDEXED BY evaluations_queued"
        "              WHERE status = 'queued' AND not_before <= ?4"
        "              ORDER BY not_before, id LIMIT ?5)"
        " RETURNING id, question, answer, contexts, ground_truth, reference_contexts, metrics,"
        " dataset, attempts, max_attempts, judge_profile",
    [Q_RENEW] = "UPDATE evaluations SET lease_until = ?2 WHERE rowid IN (SELECT rowid FROM evaluations"
        " INDEXED BY evaluations_running WHERE status = 'running' AND lease_owner = ?1)",
    [Q_FINISH] =
        "UPDATE evaluations SET status = 'done', finished_at = ?3, updated_at = ?3, judge = ?4,"
        " prompt_tokens = prompt_tokens + ?5, completion_tokens = completion_tokens + ?6,"
        " last_error = NULL, lease_owner = NULL, lease_until = NULL"
        " WHERE id = ?1 AND lease_owner = ?2 AND status = 'running'",
    [Q_SCORE] =
        "INSERT OR REPLACE INTO evaluation_scores(evaluation_id, metric, score, reason, version)"
        " VALUES(?1, ?2, ?3, ?4, ?5)",
    [Q_RETRY] =
        "UPDATE evaluations SET status = 'queued', not_before = ?3, last_error = ?4, updated_at = ?5,"
        " lease_owner = NULL, lease_until = NULL"
        " WHERE id = ?1 AND lease_owner = ?2 AND status = 'running'",
    [Q_FAIL] =
        "UPDATE evaluations SET status = 'failed', last_error = ?3, finished_at = ?4, updated_at = ?4,"
        " lease_owner = NULL, lease_until = NULL"
        " WHERE id = ?1 AND lease_owner = ?2 AND status = 'running'",
    [Q_RELEASE_OWNER] =
        "UPDATE evaluations SET status = 'queued', attempts = max(attempts - 1, 0), updated_at = ?2,"
        " lease_owner = NULL, lease_until = NULL"
        " WHERE status = 'running' AND lease_owner = ?1",
    [Q_NEXT_DUE] =
        "SELECT min(not_before) FROM evaluations INDEXED BY evaluations_queued"
        " WHERE status = 'queued' AND not_before > ?1",
    [Q_HAS_QUEUED] = "SELECT EXISTS(SELECT 1 FROM evaluations WHERE status = 'queued')",
    [Q_REQUEUE_OWNER_FAIL] =
        "UPDATE evaluations SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,"
        " last_error = 'the worker running it died (' || ?2 || ') on attempt ' || attempts || ' of ' || max_attempts,"
        " finished_at = CASE WHEN attempts >= max_attempts THEN ?3 END, updated_at = ?3,"
        " lease_owner = NULL, lease_until = NULL"
        " WHERE status = 'running' AND lease_owner = ?1",
};

/* SQLite's own busy handler sleeps in steps of up to 100 ms, which makes
 * the p99 of contended writers jump. We wait in steps of 50 us to 2 ms
 * instead, up to the configured timeout. */
static int on_busy(void *arg, int count)
{
    db *d = arg;
    int64_t now = clock_mono_us();
    struct timespec ts;
    long step_us;

    if (count == 0)
        d->busy_since_us = now;
    if (now - d->busy_since_us >= (int64_t)d->busy_timeout_ms * 1000 ||
        (d->deadline_us && now >= d->deadline_us))
        return 0;
    step_us = count < 20 ? 50 : count < 100 ? 250 : 2000;
    ts.tv_sec = 0;
    ts.tv_nsec = step_us * 1000;
    nanosleep(&ts, NULL);
    return 1;
}

int db_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CONSTRAINT:
        return -EINVAL;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
        return -EROFS;
    default:
        return -EIO;
    }
}

const char *db_errmsg(db *d) { return sqlite3_errmsg(d->h); }
sqlite3 *db_handle(db *d) { return d->h; }

static int exec_script(sqlite3 *h, const char *text, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(h, text, NULL, NULL, &msg);

    if (rc != SQLITE_OK)
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return db_errno(rc);
}

/* Bring the schema to DB_SCHEMA_VERSION, one migration per version, each in
 * its own IMMEDIATE transaction so that concurrent openers wait their turn. */
static int migrate(db *d, char *err, size_t errlen)
{
    static const char *const steps[] = { schema_001_init, schema_002_judge_cache,
                                           schema_003_idem_hash, schema_004_labels,
                                           schema_005_aggregates, schema_006_spans,
                                           schema_007_criteria, schema_008_runs };
    sqlite3_stmt *st = NULL;
    char buf[64];
    int rc, version, i, held = 0;

    if ((rc = db_turn_take(d)) == -EBUSY) {
        snprintf(err, errlen, "the writers' turn (%s-write.lock) was not free within "
                 "db.busy_timeout_ms (%d ms)", sqlite3_db_filename(d->h, "main"), d->busy_timeout_ms);
        goto out;
    }
    held = rc == 0;
    if ((rc = exec_script(d->h, "BEGIN IMMEDIATE", err, errlen)) < 0)
        goto out;
    if ((rc = sqlite3_prepare_v2(d->h, "PRAGMA user_version", -1, &st, NULL)) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        snprintf(err, errlen, "reading the schema version: %s", sqlite3_errmsg(d->h));
        rc = -EIO;
        goto rollback;
    }
    version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > DB_SCHEMA_VERSION) {
        snprintf(err, errlen, "the database has schema version %d; this ragrade knows up to %d",
                 version, DB_SCHEMA_VERSION);
        rc = -EPROTO;
        goto rollback;
    }
    for (i = version; i < DB_SCHEMA_VERSION; i++) {
        if ((rc = exec_script(d->h, steps[i], err, errlen)) < 0)
            goto rollback;
        snprintf(buf, sizeof buf, "PRAGMA user_version = %d", i + 1);
        if ((rc = exec_script(d->h, buf, err, errlen)) < 0)
            goto rollback;
    }
    rc = exec_script(d->h, "COMMIT", err, errlen);
    goto out;
rollback:
    sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    if (held)
        db_turn_give(d);
    return rc;
}

db *db_open(const char *path, int busy_timeout_ms, int flags, char *err, size_t errlen)
{
    db *d = calloc(1, sizeof *d);
    int oflags, rc, fd;
    mode_t old;

    if (!d) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    d->busy_timeout_ms = busy_timeout_ms;
    d->ckpt_fd = -1;
    if (!(flags & DB_READONLY) && access(path, F_OK) < 0 && errno == ENOENT) {
        /* Create the file 0640 ourselves (SQLite would honour the umask),
         * but only when it does not exist: closing any descriptor of a file
         * drops every POSIX lock this process holds on it, which would let
         * another process think it is the last connection and delete the
         * WAL under our feet. */
        old = umask(027);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        umask(old);
        if (fd < 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (fd >= 0)
            close(fd);
    }
    oflags = (flags & DB_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    rc = sqlite3_open_v2(path, &d->h, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, d->h ? sqlite3_errmsg(d->h) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(d->h, 1);
    sqlite3_busy_handler(d->h, on_busy, d);
    /* Only the pool's checkpointer checkpoints (db_checkpointer). */
    sqlite3_wal_autocheckpoint(d->h, 0);
    /* The mapping's size is db_configure's (db.mmap_size). */
    if (exec_script(d->h, "PRAGMA cache_size = -8192; PRAGMA journal_size_limit = 16777216;"
                          /* INSERT OR REPLACE fires delete triggers (the aggregates' ones) */
                          " PRAGMA recursive_triggers = ON", err, errlen) < 0)
        goto fail;
    if (!(flags & DB_READONLY)) {
        if (exec_script(d->h, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                              " PRAGMA foreign_keys = ON", err, errlen) < 0)
            goto fail;
        if (migrate(d, err, errlen) < 0)
            goto fail;
    }
    return d;
fail:
    db_close(d);
    return NULL;
}

void db_close(db *d)
{
    int i;

    if (!d)
        return;
    for (i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(d->stmts[i]);
    for (i = 0; i < d->n_cached; i++)
        sqlite3_finalize(d->cached[i].st);
    sqlite3_close(d->h);
    turn_free(d->turn);
    if (d->ckpt_fd >= 0)
        close(d->ckpt_fd);        /* gives the checkpointer's role up */
    free(d);
}

int db_configure(size_t mmap_size)
{
    sqlite3_int64 n = (sqlite3_int64)mmap_size;

    return sqlite3_config(SQLITE_CONFIG_MMAP_SIZE, n, n) == SQLITE_OK ? 0 : -EINVAL;
}

int db_schema_version(db *d)
{
    sqlite3_stmt *st = NULL;
    int rc = -EIO;

    if (sqlite3_prepare_v2(d->h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        rc = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Open DB<suffix> (a lock file beside the database) once. */
static int lock_file(db *d, int *fd, const char *suffix)
{
    const char *file;
    char path[4096];
    int rc = 0;

    if (*fd < 0) {
        if (!(file = sqlite3_db_filename(d->h, "main")) || !*file ||
            snprintf(path, sizeof path, "%s%s", file, suffix) >= (int)sizeof path) {
            rc = -ENAMETOOLONG;
            goto out;
        }
        if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0)
            rc = -errno;
    }
out:
    return rc;
}

void db_deadline(db *d, int64_t until_us)
{
    d->deadline_us = until_us;
}

int db_turn_take(db *d)
{
    const char *file;
    int rc = 0;

    if (d->turn_depth > 0) {
        d->turn_depth++;
        goto out;
    }
    if (!d->turn && (!(file = sqlite3_db_filename(d->h, "main")) || !*file || !(d->turn = turn_new(file)))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = turn_take(d->turn, d->busy_timeout_ms, d->deadline_us, d->line)) == 0)
        d->turn_depth = 1;
out:
    return rc;
}

void db_turn_line(db *d, int on)
{
    d->line = on;
}

void db_turn_give(db *d)
{
    if (d->turn_depth > 0 && --d->turn_depth == 0)
        turn_give(d->turn);
}

int db_checkpointer(db *d)
{
    if (!d->ckpt_held && lock_file(d, &d->ckpt_fd, "-checkpoint.lock") == 0 &&
        flock(d->ckpt_fd, LOCK_EX | LOCK_NB) == 0)
        d->ckpt_held = 1;
    return d->ckpt_held;
}

sqlite3_stmt *db_stmt(db *d, enum db_stmt which)
{
    sqlite3_stmt *st = d->stmts[which];

    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    } else if (sqlite3_prepare_v3(d->h, sql[which], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) == SQLITE_OK) {
        d->stmts[which] = st;
    } else {
        st = NULL;
    }
    return st;
}

sqlite3_stmt *db_cached(db *d, const char *text)
{
    sqlite3_stmt *st = NULL;
    int i;

    for (i = 0; i < d->n_cached; i++) {
        if (d->cached[i].sql == text) {
            st = d->cached[i].st;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            goto out;
        }
    }
    if (d->n_cached == DB_CACHED_MAX ||
        sqlite3_prepare_v3(d->h, text, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        st = NULL;
        goto out;
    }
    d->cached[d->n_cached].sql = text;
    d->cached[d->n_cached++].st = st;
out:
    return st;
}

int db_step_done(sqlite3_stmt *st)
{
    return step_done(st);
}

/* Step a statement that returns no rows and reset it. */
static int step_done(sqlite3_stmt *st)
{
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;

    if (st)
        sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_errno(rc);
}

int db_exec(db *d, enum db_stmt which)
{
    int rc;

    /* Every write transaction holds the writers' turn (see db.h); past the
     * deadline no transaction begins. */
    if (which == Q_BEGIN && !d->txn_turn) {
        if ((rc = db_turn_take(d)) == -EBUSY)
            goto out;
        d->txn_turn = rc == 0;
    }
    rc = step_done(db_stmt(d, which));
    if (d->txn_turn && sqlite3_get_autocommit(d->h) &&
        (which == Q_BEGIN || which == Q_COMMIT || which == Q_ROLLBACK)) {
        d->txn_turn = 0;          /* the transaction ended, or never began */
        db_turn_give(d);
    }
out:
    return rc;
}

int db_wal_mark(db *d)
{
    int rc;

    if ((rc = db_exec(d, Q_BEGIN)) == 0 && (rc = db_exec(d, Q_WAL_MARK)) == 0)
        rc = db_exec(d, Q_COMMIT);
    if (rc < 0 && !sqlite3_get_autocommit(d->h))
        db_exec(d, Q_ROLLBACK);
    return rc;
}

int db_write_probe(db *d) { return db_wal_mark(d); }

void db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    bind_text(st, i, s);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int db_insert(db *d, const row *rows, size_t n, const char *key, const char *hash, int max_attempts,
              const char *now_iso, int64_t *ids)
{
    char *ctx = NULL, *ref = NULL, *met = NULL;
    sqlite3_stmt *st;
    size_t i;
    int rc = 0;

    for (i = 0; i < n && rc == 0; i++) {
        const row *r = &rows[i];

        if (!(st = db_stmt(d, Q_INSERT)) || !(ctx = row_strings_json(r->contexts, r->n_contexts)) ||
            (r->reference_contexts && !(ref = row_strings_json(r->reference_contexts, r->n_reference_contexts))) ||
            (r->metrics && !(met = row_strings_json(r->metrics, r->n_metrics)))) {
            rc = st ? -ENOMEM : -EIO;
            goto out;
        }
        bind_text(st, 1, now_iso);
        bind_text(st, 2, r->dataset);
        bind_text(st, 3, r->question);
        bind_text(st, 4, r->answer);
        bind_text(st, 5, ctx);
        bind_text(st, 6, r->ground_truth);
        bind_text(st, 7, ref);
        bind_text(st, 8, met);
        sqlite3_bind_int(st, 9, max_attempts);
        bind_text(st, 10, key);
        bind_text(st, 11, key ? hash : NULL);
        bind_text(st, 12, r->judge);
        bind_text(st, 13, r->run);
        bind_text(st, 14, r->item);
        rc = step_done(st);
        ids[i] = sqlite3_last_insert_rowid(d->h);
        free(ctx);
        free(ref);
        free(met);
        ctx = ref = met = NULL;
    }
out:
    free(ctx);
    free(ref);
    free(met);
    return rc;
}

int db_idem_lookup(db *d, const char *key, int64_t *ids, char (*status)[8], size_t max, size_t *n,
                   char *hash, size_t hashlen)
{
    sqlite3_stmt *st = db_stmt(d, Q_IDEM_LOOKUP);
    const unsigned char *v;
    int rc = -EIO, s;

    *n = 0;
    hash[0] = '\0';
    if (!st)
        goto out;
    bind_text(st, 1, key);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == 0 && (v = sqlite3_column_text(st, 2)))
            snprintf(hash, hashlen, "%s", (const char *)v);
        if (*n < max) {
            snprintf(status[*n], sizeof status[*n], "%s", (v = sqlite3_column_text(st, 1)) ? (const char *)v : "");
            ids[(*n)++] = sqlite3_column_int64(st, 0);
        }
    }
    rc = s == SQLITE_DONE ? 0 : db_errno(s);
    sqlite3_reset(st);
out:
    return rc;
}

char *db_col_dup(sqlite3_stmt *st, int i)
{
    return col_dup(st, i);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);

    return s ? strdup((const char *)s) : NULL;
}

/* Fill a row from the claim's RETURNING columns. */
static int claim_row(sqlite3_stmt *st, db_claimed *c)
{
    const char *s;
    int rc = -ENOMEM;

    memset(c, 0, sizeof *c);
    c->r.id = sqlite3_column_int64(st, 0);
    if (!(c->r.question = col_dup(st, 1)) || !(c->r.answer = col_dup(st, 2)))
        goto out;
    if ((rc = row_strings_parse((const char *)sqlite3_column_text(st, 3), &c->r.contexts, &c->r.n_contexts)) < 0)
        goto out;
    c->r.ground_truth = col_dup(st, 4);
    if ((s = (const char *)sqlite3_column_text(st, 5)) &&
        (rc = row_strings_parse(s, &c->r.reference_contexts, &c->r.n_reference_contexts)) < 0)
        goto out;
    if ((s = (const char *)sqlite3_column_text(st, 6)) &&
        (rc = row_strings_parse(s, &c->r.metrics, &c->r.n_metrics)) < 0)
        goto out;
    c->r.dataset = col_dup(st, 7);
    c->attempts = sqlite3_column_int(st, 8);
    c->max_attempts = sqlite3_column_int(st, 9);
    if (sqlite3_column_type(st, 10) != SQLITE_NULL && !(c->r.judge = col_dup(st, 10)))
        goto out;
    rc = 0;
out:
    return rc;
}

int db_claim(db *d, const char *owner, int64_t now_ms, int lease_ms, int max,
             int max_running, db_claimed *out, size_t *n, char *err, size_t errlen,
             void (*in_txn)(void *arg), void *arg)
{
    char now[32];
    sqlite3_stmt *st;
    int rc, s, running = 0;

    *n = 0;
    clock_iso(now_ms, now, sizeof now);
    if ((rc = db_exec(d, Q_BEGIN)) < 0) {
        snprintf(err, errlen, "claim: %s", rc == -EBUSY ? "the writers' turn was not free within "
                 "db.busy_timeout_ms" : sqlite3_errmsg(d->h));
        goto out;
    }
    if (in_txn)
        in_txn(arg);
    if (!(st = db_stmt(d, Q_REAP_FAIL)))
        goto ioerr;
    sqlite3_bind_int64(st, 1, now_ms);
    bind_text(st, 2, now);
    if ((rc = step_done(st)) < 0)
        goto rollback;
    if (!(st = db_stmt(d, Q_REAP_RETRY)))
        goto ioerr;
    sqlite3_bind_int64(st, 1, now_ms);
    bind_text(st, 2, now);
    if ((rc = step_done(st)) < 0)
        goto rollback;
    if (!(st = db_stmt(d, Q_RUNNING_COUNT)))
        goto ioerr;
    if ((s = sqlite3_step(st)) == SQLITE_ROW)
        running = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    if (max > max_running - running)
        max = max_running - running;
    if (max > 0) {
        if (!(st = db_stmt(d, Q_CLAIM)))
            goto ioerr;
        bind_text(st, 1, owner);
        sqlite3_bind_int64(st, 2, now_ms + lease_ms);
        bind_text(st, 3, now);
        sqlite3_bind_int64(st, 4, now_ms);
        sqlite3_bind_int(st, 5, max);
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            if ((rc = claim_row(st, &out[*n])) < 0) {
                row_clear(&out[*n].r);
                sqlite3_reset(st);
                goto rollback;
            }
            (*n)++;
        }
        sqlite3_reset(st);
        if (s != SQLITE_DONE) {
            rc = db_errno(s);
            goto rollback;
        }
    }
    if ((rc = db_exec(d, Q_COMMIT)) < 0)
        goto rollback;
    goto out;
ioerr:
    rc = -EIO;
rollback:
    snprintf(err, errlen, "claim: %s", sqlite3_errmsg(d->h));
    db_exec(d, Q_ROLLBACK);
    while (*n > 0)
        row_clear(&out[--(*n)].r);
out:
    return rc;
}

int db_renew(db *d, const char *owner, int64_t until_ms)
{
    sqlite3_stmt *st = db_stmt(d, Q_RENEW);

    if (!st)
        return -EIO;
    bind_text(st, 1, owner);
    sqlite3_bind_int64(st, 2, until_ms);
    return step_done(st);
}

/* Bind id and owner, step, and say whether the lease was still held. */
static int owned_update(db *d, sqlite3_stmt *st)
{
    int rc = step_done(st);

    if (rc == 0 && sqlite3_changes(d->h) != 1)
        rc = -ESTALE;
    return rc;
}

int db_finish(db *d, const char *owner, const judge_result *res, const char *who,
              const char *now_iso)
{
    sqlite3_stmt *st = db_stmt(d, Q_FINISH);
    size_t i;
    int rc = -EIO;

    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, res->id);
    bind_text(st, 2, owner);
    bind_text(st, 3, now_iso);
    bind_text(st, 4, who);
    sqlite3_bind_int64(st, 5, res->prompt_tokens);
    sqlite3_bind_int64(st, 6, res->completion_tokens);
    if ((rc = owned_update(d, st)) < 0)
        goto out;
    for (i = 0; i < res->n_scores; i++) {
        const judge_score *s = &res->scores[i];

        if (!(st = db_stmt(d, Q_SCORE))) {
            rc = -EIO;
            goto out;
        }
        sqlite3_bind_int64(st, 1, res->id);
        bind_text(st, 2, s->metric);
        if (s->is_null || s->score != s->score)
            sqlite3_bind_null(st, 3);
        else
            sqlite3_bind_double(st, 3, s->score);
        bind_text(st, 4, s->reason);
        bind_text(st, 5, s->version[0] ? s->version : NULL);
        if ((rc = step_done(st)) < 0)
            goto out;
    }
out:
    return rc;
}

int db_retry(db *d, const char *owner, int64_t id, int64_t not_before_ms, const char *error,
             const char *now_iso)
{
    sqlite3_stmt *st = db_stmt(d, Q_RETRY);

    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, owner);
    sqlite3_bind_int64(st, 3, not_before_ms);
    bind_text(st, 4, error);
    bind_text(st, 5, now_iso);
    return owned_update(d, st);
}

int db_fail(db *d, const char *owner, int64_t id, const char *error, const char *now_iso)
{
    sqlite3_stmt *st = db_stmt(d, Q_FAIL);

    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, owner);
    bind_text(st, 3, error);
    bind_text(st, 4, now_iso);
    return owned_update(d, st);
}

int db_release_owner(db *d, const char *owner, const char *now_iso)
{
    sqlite3_stmt *st = db_stmt(d, Q_RELEASE_OWNER);

    if (!st)
        return -EIO;
    bind_text(st, 1, owner);
    bind_text(st, 2, now_iso);
    return step_done(st);
}

int64_t db_next_due(db *d)
{
    sqlite3_stmt *st = db_stmt(d, Q_NEXT_DUE);
    int64_t due = 0;

    if (!st)
        return 0;
    sqlite3_bind_int64(st, 1, clock_wall_ms());
    if (sqlite3_step(st) == SQLITE_ROW)
        due = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return due;
}

int db_requeue_dead(db *d, const char *owner, const char *how, int *n)
{
    sqlite3_stmt *st;
    char now[32];
    int rc;

    *n = 0;
    clock_iso(clock_wall_ms(), now, sizeof now);
    if ((rc = db_exec(d, Q_BEGIN)) < 0)
        goto out;
    if (!(st = db_stmt(d, Q_REQUEUE_OWNER_FAIL))) {
        rc = -EIO;
        goto rollback;
    }
    bind_text(st, 1, owner);
    bind_text(st, 2, how);
    bind_text(st, 3, now);
    if ((rc = step_done(st)) < 0)
        goto rollback;
    *n = sqlite3_changes(d->h);
    if ((rc = db_exec(d, Q_COMMIT)) == 0)
        goto out;
rollback:
    db_exec(d, Q_ROLLBACK);
out:
    return rc;
}

int db_running(db *d)
{
    sqlite3_stmt *st = db_stmt(d, Q_RUNNING_COUNT);
    int n = -EIO;

    if (st && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    if (st)
        sqlite3_reset(st);
    return n;
}

int db_has_queued(db *d)
{
    sqlite3_stmt *st = db_stmt(d, Q_HAS_QUEUED);
    int rc = -EIO, s;

    if (!st)
        goto out;
    s = sqlite3_step(st);
    rc = s == SQLITE_ROW ? sqlite3_column_int(st, 0) : db_errno(s);
    sqlite3_reset(st);
out:
    return rc;
}
