/* db.h - one SQLite connection (one per thread): opening with WAL and a
 * short-step busy handler, schema migrations, transactions, and the write
 * paths of the queue and the scheduler. Callers see functions only; the
 * raw connection and statements are for storage modules (db_int.h). */
#ifndef RAGRADE_DB_H
#define RAGRADE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "judge.h"
#include "row.h"

#define DB_SCHEMA_VERSION 8           /* sql/00N_*.sql, applied in order */

typedef struct db db;

/* db.c's own statements, cached per connection. Callers outside the
 * storage modules name only the transaction verbs (Q_BEGIN to
 * Q_ROLLBACK_TO) to db_exec. Read modules keep their SQL next to its
 * decoding (db_cached in db_int.h). */
enum db_stmt {
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_SAVEPOINT, Q_RELEASE, Q_ROLLBACK_TO, Q_WAL_MARK,
    Q_INSERT, Q_IDEM_LOOKUP,
    Q_REAP_RETRY, Q_REAP_FAIL, Q_RUNNING_COUNT, Q_CLAIM, Q_RENEW,
    Q_FINISH, Q_SCORE, Q_RETRY, Q_FAIL, Q_RELEASE_OWNER, Q_NEXT_DUE, Q_HAS_QUEUED,
    Q_REQUEUE_OWNER_FAIL,
    Q__COUNT
};

/* Process-wide, before the first db_open: every connection reads the
 * database through a shared mapping of up to mmap_size bytes (db.mmap_size;
 * 0: pread copies only). The mapping spares the submit path copying pages
 * back in after another process wrote; its pages are the kernel's page
 * cache, shared, but RSS counts them once per connection that touched
 * them. 0, or -EINVAL when SQLite is already initialised. */
int db_configure(size_t mmap_size);

/* Open (creating if need be) and migrate. flags: DB_READONLY for tools that
 * only read. NULL with err filled on failure. The file is created 0640. */
#define DB_READONLY 1
db *db_open(const char *path, int busy_timeout_ms, int flags, char *err, size_t errlen);
void db_close(db *d);                      /* NULL is a no-op */
/* PRAGMA user_version: the schema's version, or a negative code. */
int db_schema_version(db *d);

/* The writers' turn: flock(2) on DB-write.lock. Every write transaction
 * (db_exec(Q_BEGIN) takes it, COMMIT or ROLLBACK gives it back) and every
 * checkpoint holds it, in every process of ours, admin commands included.
 * Speed: the kernel hands the turn straight to the next waiter, where
 * SQLite's busy handler would poll in sleeps while the waiter holds up its
 * own group; waiters stand in a line (DB-write.line), and a bulk writer
 * that gives the turn and takes it again at once (a batch of a long admin
 * write, db_turn_line) queues behind them, so every waiter has the turn
 * between two batches. Safety: the WAL protocol
 * in wal.c relies on it. The lock dies with its process, so a killed
 * worker never wedges the others; a stopped one (SIGSTOP, Ctrl-Z, a hung
 * disk, an outside `flock`) holds it, and then the deadline answers.
 *
 * Deadline: a take waits at most db.busy_timeout_ms, or until the
 * db_deadline set on d if that comes first, and then fails with -EBUSY:
 * the turn is not held, and the caller must not write (db_exec(Q_BEGIN)
 * returns -EBUSY without beginning). How the blocking wait is cut at the
 * deadline: db.c. Nested takes on one connection count. take: 0, -EBUSY,
 * or another negative errno (the lock file cannot be opened; the busy
 * handler still keeps writers apart). give after every successful take. */
int db_turn_take(db *d);
void db_turn_give(db *d);
/* on: every take of d stands in the line, behind the writers waiting for
 * the turn (bulk writers between their batches); 0: only when the turn is
 * held (the default). */
void db_turn_line(db *d, int on);
/* Until until_us (clock_mono_us clock; 0: none), every take of the turn and
 * every wait of SQLite's busy handler on d ends by then: the submit path's
 * per-submission deadline. */
void db_deadline(db *d, int64_t until_us);

/* Run a cached statement that returns no rows. 0 or -EIO/-EBUSY/-ENOSPC. */
int db_exec(db *d, enum db_stmt which);

/* Can the database be written? A one-page write transaction (the WAL
 * mark) under the writers' turn: 0, or -ENOSPC, -EROFS, -EIO, -EBUSY. */
int db_write_probe(db *d);

/* Map an SQLite result code to a negative errno: -EBUSY, -ENOSPC, -EIO. */
int db_errno(int sqlite_rc);
const char *db_errmsg(db *d);

/* ---- submit (queue.c runs these inside one BEGIN IMMEDIATE) ---- */

/* Insert rows; ids[i] receives each id. key may be NULL; hash is the
 * submitted body's SHA-256 (hex) stored with a key, or NULL. */
int db_insert(db *d, const row *rows, size_t n, const char *key, const char *hash, int max_attempts,
              const char *now_iso, int64_t *ids);
/* Ids and current statuses of the rows stored under this idempotency key,
 * oldest first: *n = 0 if none. ids and status have room for max; hash
 * receives the body hash stored with the first ("" if none). */
int db_idem_lookup(db *d, const char *key, int64_t *ids, char (*status)[8], size_t max, size_t *n,
                   char *hash, size_t hashlen);

/* ---- scheduler ---- */

/* A claimed row: its inputs and its attempt number. */
typedef struct db_claim {
    row r;
    int attempts;
    int max_attempts;
} db_claimed;

/* In one transaction: requeue (or fail) rows whose lease expired, then claim
 * up to max rows that may run now, while at most max_running rows run
 * across the pool. *n claimed rows in out (row_clear each). in_txn (may be
 * NULL) runs first inside the same transaction: the scheduler writes the
 * results it holds there, so one write transaction both finishes rows and
 * claims the next ones. */
int db_claim(db *d, const char *owner, int64_t now_ms, int lease_ms, int max,
             int max_running, db_claimed *out, size_t *n, char *err, size_t errlen,
             void (*in_txn)(void *arg), void *arg);
/* Extend the lease of every row this owner runs. */
int db_renew(db *d, const char *owner, int64_t until_ms);
/* Write a result if owner still holds the lease: done with scores, or back
 * to queued after not_before_ms (-EAGAIN results), or failed. Returns 0, or
 * -ESTALE when the lease was lost (nothing written). Must be called inside
 * a transaction. */
int db_finish(db *d, const char *owner, const judge_result *res, const char *who,
              const char *now_iso);
int db_retry(db *d, const char *owner, int64_t id, int64_t not_before_ms, const char *error,
             const char *now_iso);
int db_fail(db *d, const char *owner, int64_t id, const char *error, const char *now_iso);
/* Put every row this owner runs back in the queue (shutdown). */
int db_release_owner(db *d, const char *owner, const char *now_iso);
/* After a worker died: its rows go back to the queue, or fail once they
 * have used every attempt (a row that kills its worker must not kill the
 * pool forever). how: "signal 9" or "exit 1". *n rows touched. */
int db_requeue_dead(db *d, const char *owner, const char *how, int *n);
/* 1 if some queued row exists (due or not), 0 if none, negative on error. */
int db_has_queued(db *d);
/* Rows running across the pool, or a negative code. */
int db_running(db *d);
/* Earliest not_before among queued rows in the future, or 0 if none. */
int64_t db_next_due(db *d);

#endif
