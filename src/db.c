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
