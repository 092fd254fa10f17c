/* maint.c - the writes and checks behind `ragrade admin requeue`, `cancel`,
 * `delete`, `purge` and `check`, and the API's retry and delete (one
 * implementation for both doors). Writes go in batches of MAINT_BATCH rows, each in
 * its own BEGIN IMMEDIATE transaction, with a rowid cursor so that a batch
 * never rescans rows already handled; running rows are never touched.
 * Between two batches the writers' turn is given back, and every writer
 * that stood in its line meanwhile (db.c) writes before the next batch:
 * submits wait for one batch at most, however long the purge. A batch
 * that cannot have the turn within db.busy_timeout_ms stops the command
 * (-EBUSY); the batches before it stay done. */
#include "maint.h"
#include "db_int.h"
#include "clock.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static sqlite3_stmt *prepare(db *d, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db_handle(d), sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        st = NULL;
    }
    return st;
}

/* err from SQLite's message; returns rc for a tail call. */
static int sql_err(db *d, const char *what, int rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, db_errmsg(d));
    return rc < 0 ? rc : -EIO;
}

/* Begin a batch's write transaction, behind every writer waiting for the
 * turn (db_turn_line); err says why not. */
static int begin(db *d, char *err, size_t errlen)
{
    int rc;

    db_turn_line(d, 1);
    rc = db_exec(d, Q_BEGIN);
    db_turn_line(d, 0);

    if (rc == -EBUSY)
        snprintf(err, errlen, "the database is busy: the writers' turn was not free within "
                 "db.busy_timeout_ms; nothing more was written");
    else if (rc < 0)
        sql_err(d, "starting a write transaction", rc, err, errlen);
    return rc;
}

int maint_requeue(db *d, int64_t id, int failed_only, const char *dataset, int64_t *n,
                  char *err, size_t errlen)
{
    static const char upd[] =
        "UPDATE evaluations SET status = 'queued', attempts = 0, not_before = 0, last_error = NULL,"
        " lease_owner = NULL, lease_until = NULL, started_at = NULL, finished_at = NULL,"
        " updated_at = ?1"
        " WHERE id IN (SELECT id FROM evaluations WHERE id > ?2 AND status <> 'running'"
        "   AND (?3 = 0 OR id = ?3)"
        "   AND (?3 <> 0 OR status = 'failed' OR (?4 = 0 AND status = 'done'))"
        "   AND (?5 IS NULL OR dataset = ?5) ORDER BY id LIMIT ?6)"
        " RETURNING id";
    sqlite3_stmt *st = prepare(d, upd);
    sqlite3_stmt *del = prepare(d, "DELETE FROM evaluation_scores WHERE evaluation_id = ?1");
    int64_t ids[MAINT_BATCH], after = 0;
    size_t got = 0, i;
    char now[32];
    int rc = -EIO, s = SQLITE_DONE;

    *n = 0;
    if (!st || !del) {
        rc = sql_err(d, "preparing the requeue", rc, err, errlen);
        goto out;
    }
    do {
        got = 0;
        clock_iso(clock_wall_ms(), now, sizeof now);
        if ((rc = begin(d, err, errlen)) < 0)
            goto out;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_bind_int64(st, 3, id);
        sqlite3_bind_int(st, 4, failed_only);
        bind_opt(st, 5, dataset);
        sqlite3_bind_int(st, 6, MAINT_BATCH);
        while (got < MAINT_BATCH && (s = sqlite3_step(st)) == SQLITE_ROW)
            ids[got++] = sqlite3_column_int64(st, 0);
        if (got == MAINT_BATCH)
            s = sqlite3_step(st);     /* LIMIT: SQLITE_DONE */
        sqlite3_reset(st);
        for (i = 0; s == SQLITE_DONE && i < got; i++) {
            sqlite3_reset(del);
            sqlite3_bind_int64(del, 1, ids[i]);
            s = sqlite3_step(del);
            after = ids[i] > after ? ids[i] : after;
        }
        if (s != SQLITE_DONE || (rc = db_exec(d, Q_COMMIT)) < 0) {
            rc = sql_err(d, "requeueing", s != SQLITE_DONE ? db_errno(s) : rc, err, errlen);
            db_exec(d, Q_ROLLBACK);
            goto out;
        }
        *n += (int64_t)got;
    } while (got == MAINT_BATCH);
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_finalize(del);
    return rc;
}

/* The row was not written (a guarded statement changed nothing): why.
 * -EPERM with its status when it exists in another status, -ENOENT when
 * it does not, or the read's error with err filled. */
static int why_not(db *d, int64_t id, char *status, char *err, size_t errlen)
{
    int rc = maint_status(d, id, status);

    if (rc == 0)
        rc = -EPERM;
    else if (rc != -ENOENT)
        sql_err(d, "reading the evaluation", rc, err, errlen);
    return rc;
}

/* Step a bound statement guarded by the row's status (delete, cancel) in
 * its own transaction under the writers' turn; the status read that
 * explains a refusal happens inside it. doing/what name it in errors. */
static int guarded_write(db *d, sqlite3_stmt *st, int64_t id, char *status, const char *doing,
                         const char *what, char *err, size_t errlen)
{
    char msg[64];
    int rc, s;

    if ((rc = begin(d, err, errlen)) < 0)
        return rc;
    if ((s = sqlite3_step(st)) != SQLITE_DONE)
        rc = sql_err(d, doing, db_errno(s), err, errlen);
    else if (sqlite3_changes(db_handle(d)) == 0)
        rc = why_not(d, id, status, err, errlen);
    else
        rc = 0;
    snprintf(msg, sizeof msg, "committing the %s", what);
    if (rc == 0 && db_exec(d, Q_COMMIT) < 0)
        rc = sql_err(d, msg, -EIO, err, errlen);
    if (rc < 0)
        db_exec(d, Q_ROLLBACK);
    return rc;
}

int maint_retry(db *d, int64_t id, char *status, char *err, size_t errlen)
{
    int64_t n = 0;
    int rc;

    *status = '\0';
    if ((rc = maint_requeue(d, id, 0, NULL, &n, err, errlen)) < 0 || n == 1)
        goto out;
    /* Not requeued: missing, or running (the only status refused). */
    rc = why_not(d, id, status, err, errlen);
out:
    return rc;
}

int maint_delete(db *d, int64_t id, char *status, char *err, size_t errlen)
{
    sqlite3_stmt *st = prepare(d, "DELETE FROM evaluations WHERE id = ?1 AND status <> 'running'");
    int rc = -EIO;

    *status = '\0';
    if (!st) {
        rc = sql_err(d, "preparing the delete", rc, err, errlen);
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    /* its scores go with it (ON DELETE CASCADE) */
    rc = guarded_write(d, st, id, status, "deleting", "delete", err, errlen);
out:
    sqlite3_finalize(st);
    return rc;
}

int maint_status(db *d, int64_t id, char *status)
{
    sqlite3_stmt *st = prepare(d, "SELECT status FROM evaluations WHERE id = ?1");
    int rc = -EIO, s;

    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    s = sqlite3_step(st);
    rc = s == SQLITE_ROW ? 0 : s == SQLITE_DONE ? -ENOENT : db_errno(s);
    if (rc == 0)
        snprintf(status, 16, "%s", (const char *)sqlite3_column_text(st, 0));
out:
    sqlite3_finalize(st);
    return rc;
}

int maint_cancel(db *d, int64_t id, char *status, char *err, size_t errlen)
{
    sqlite3_stmt *st = prepare(d, "UPDATE evaluations SET status = 'failed',"
                                  " last_error = 'cancelled by admin', not_before = 0,"
                                  " finished_at = ?2, updated_at = ?2"
                                  " WHERE id = ?1 AND status = 'queued'");
    char now[32];
    int rc = -EIO;

    *status = '\0';
    if (!st) {
        rc = sql_err(d, "preparing the cancel", rc, err, errlen);
        goto out;
    }
    clock_iso(clock_wall_ms(), now, sizeof now);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    rc = guarded_write(d, st, id, status, "cancelling", "cancel", err, errlen);
out:
    sqlite3_finalize(st);
    return rc;
}

int maint_purge(db *d, const char *before_iso, const char *dataset, int dry_run, int64_t *n,
                char *err, size_t errlen)
{
#define PURGE_WHERE " FROM evaluations WHERE id > ?1 AND status IN ('done', 'failed')" \
                    " AND created_at < ?2 AND (?3 IS NULL OR dataset = ?3)"
    sqlite3_stmt *st = prepare(d, dry_run ? "SELECT count(*)" PURGE_WHERE
                               : "DELETE FROM evaluations WHERE id IN (SELECT id" PURGE_WHERE
                                 " ORDER BY id LIMIT ?4) RETURNING id");
#undef PURGE_WHERE
    int64_t after = 0, got;
    int rc = -EIO, s;

    *n = 0;
    if (!st) {
        rc = sql_err(d, "preparing the purge", rc, err, errlen);
        goto out;
    }
    do {
        got = 0;
        if (!dry_run && (rc = begin(d, err, errlen)) < 0)
            goto out;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_text(st, 2, before_iso, -1, SQLITE_STATIC);
        bind_opt(st, 3, dataset);
        if (!dry_run)
            sqlite3_bind_int(st, 4, MAINT_BATCH);
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            got = dry_run ? sqlite3_column_int64(st, 0) : got + 1;
            if (!dry_run && sqlite3_column_int64(st, 0) > after)
                after = sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
        if (s != SQLITE_DONE || (!dry_run && (rc = db_exec(d, Q_COMMIT)) < 0)) {
            rc = sql_err(d, "purging", s != SQLITE_DONE ? db_errno(s) : rc, err, errlen);
            if (!dry_run)
                db_exec(d, Q_ROLLBACK);
            goto out;
        }
        *n += got;
    } while (!dry_run && got == MAINT_BATCH);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int maint_pragma_check(db *d, const char *pragma, const char *label, FILE *out)
{
    sqlite3_stmt *st = prepare(d, pragma);
    const char *t;
    int rc = -1, s = SQLITE_ERROR, lines = 0, i;

    if (!st)
        goto out;
    rc = 1;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        t = (const char *)sqlite3_column_text(st, 0);
        if (t && !strcmp(t, "ok"))
            continue;
        if (rc)
            fprintf(out, "%-16s FAILED\n", label);
        rc = 0;
        if (lines++ >= 20)
            continue;
        for (i = 0; i < sqlite3_column_count(st); i++)    /* foreign_key_check has 4 */
            fprintf(out, "%s%s", i ? " " : "  ",
                    (t = (const char *)sqlite3_column_text(st, i)) ? t : "-");
        fputc('\n', out);
    }
    if (s != SQLITE_DONE)
        rc = -1;
    else if (rc)
        fprintf(out, "%-16s ok\n", label);
out:
    if (rc < 0)
        fprintf(out, "%-16s FAILED: %s\n", label, db_errmsg(d));
    sqlite3_finalize(st);
    return rc;
}

int maint_check(db *d, FILE *out)
{
    sqlite3_stmt *st = NULL;
    const char *mode = "?";
    int64_t version = -1;
    int ok = 1;

    ok &= maint_pragma_check(d, "PRAGMA integrity_check", "integrity_check", out) == 1;
    ok &= maint_pragma_check(d, "PRAGMA quick_check", "quick_check", out) == 1;
    ok &= maint_pragma_check(d, "PRAGMA foreign_key_check", "foreign keys", out) == 1;
    if ((st = prepare(d, "PRAGMA user_version")) && sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    fprintf(out, "%-16s %lld (this ragrade: %d) %s\n", "schema version", (long long)version,
            DB_SCHEMA_VERSION, version == DB_SCHEMA_VERSION ? "ok"
            : version < 0 ? "FAILED: unreadable"
            : version < DB_SCHEMA_VERSION ? "FAILED: older; run 'ragrade migrate'"
            : "FAILED: newer than this ragrade");
    ok &= version == DB_SCHEMA_VERSION;
    if ((st = prepare(d, "PRAGMA journal_mode")) && sqlite3_step(st) == SQLITE_ROW)
        mode = (const char *)sqlite3_column_text(st, 0);
    fprintf(out, "%-16s %s %s\n", "journal mode", mode, !strcmp(mode, "wal") ? "ok"
            : "FAILED: want wal (ragrade sets it when it opens the database to write)");
    ok &= !strcmp(mode, "wal");
    sqlite3_finalize(st);
    return ok;
}
