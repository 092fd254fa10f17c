/* db_sched.c - the scheduler's writes to the queue: claim due rows under a
 * lease, renew it, finish, retry or fail a row, release or requeue a dead
 * owner's rows, and the queue's next due time. Moved out of db.c; uses db_int.h. */
#include "db_int.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fill a row from the claim's RETURNING columns. */
static int claim_row(sqlite3_stmt *st, db_claimed *c)
{
    const char *s;
    int rc = -ENOMEM;

    memset(c, 0, sizeof *c);
    c->r.id = sqlite3_column_int64(st, 0);
    if (!(c->r.question = db_col_dup(st, 1)) || !(c->r.answer = db_col_dup(st, 2)))
        goto out;
    if ((rc = row_strings_parse((const char *)sqlite3_column_text(st, 3), &c->r.contexts, &c->r.n_contexts)) < 0)
        goto out;
    c->r.ground_truth = db_col_dup(st, 4);
    if ((s = (const char *)sqlite3_column_text(st, 5)) &&
        (rc = row_strings_parse(s, &c->r.reference_contexts, &c->r.n_reference_contexts)) < 0)
        goto out;
    if ((s = (const char *)sqlite3_column_text(st, 6)) &&
        (rc = row_strings_parse(s, &c->r.metrics, &c->r.n_metrics)) < 0)
        goto out;
    c->r.dataset = db_col_dup(st, 7);
    c->attempts = sqlite3_column_int(st, 8);
    c->max_attempts = sqlite3_column_int(st, 9);
    if (sqlite3_column_type(st, 10) != SQLITE_NULL && !(c->r.judge = db_col_dup(st, 10)))
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
                 "db.busy_timeout_ms" : sqlite3_errmsg(db_handle(d)));
        goto out;
    }
    if (in_txn)
        in_txn(arg);
    if (!(st = db_stmt(d, Q_REAP_FAIL)))
        goto ioerr;
    sqlite3_bind_int64(st, 1, now_ms);
    db_bind_text(st, 2, now);
    if ((rc = db_step_done(st)) < 0)
        goto rollback;
    if (!(st = db_stmt(d, Q_REAP_RETRY)))
        goto ioerr;
    sqlite3_bind_int64(st, 1, now_ms);
    db_bind_text(st, 2, now);
    if ((rc = db_step_done(st)) < 0)
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
        db_bind_text(st, 1, owner);
        sqlite3_bind_int64(st, 2, now_ms + lease_ms);
        db_bind_text(st, 3, now);
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
    snprintf(err, errlen, "claim: %s", sqlite3_errmsg(db_handle(d)));
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
    db_bind_text(st, 1, owner);
    sqlite3_bind_int64(st, 2, until_ms);
    return db_step_done(st);
}

/* Bind id and owner, step, and say whether the lease was still held. */
static int owned_update(db *d, sqlite3_stmt *st)
{
    int rc = db_step_done(st);

    if (rc == 0 && sqlite3_changes(db_handle(d)) != 1)
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
    db_bind_text(st, 2, owner);
    db_bind_text(st, 3, now_iso);
    db_bind_text(st, 4, who);
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
        db_bind_text(st, 2, s->metric);
        if (s->is_null || s->score != s->score)
            sqlite3_bind_null(st, 3);
        else
            sqlite3_bind_double(st, 3, s->score);
        db_bind_text(st, 4, s->reason);
        db_bind_text(st, 5, s->version[0] ? s->version : NULL);
        if ((rc = db_step_done(st)) < 0)
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
    db_bind_text(st, 2, owner);
    sqlite3_bind_int64(st, 3, not_before_ms);
    db_bind_text(st, 4, error);
    db_bind_text(st, 5, now_iso);
    return owned_update(d, st);
}

int db_fail(db *d, const char *owner, int64_t id, const char *error, const char *now_iso)
{
    sqlite3_stmt *st = db_stmt(d, Q_FAIL);

    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    db_bind_text(st, 2, owner);
    db_bind_text(st, 3, error);
    db_bind_text(st, 4, now_iso);
    return owned_update(d, st);
}

int db_release_owner(db *d, const char *owner, const char *now_iso)
{
    sqlite3_stmt *st = db_stmt(d, Q_RELEASE_OWNER);

    if (!st)
        return -EIO;
    db_bind_text(st, 1, owner);
    db_bind_text(st, 2, now_iso);
    return db_step_done(st);
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
    db_bind_text(st, 1, owner);
    db_bind_text(st, 2, how);
    db_bind_text(st, 3, now);
    if ((rc = db_step_done(st)) < 0)
        goto rollback;
    *n = sqlite3_changes(db_handle(d));
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
