/* maint.h - database maintenance for `ragrade admin` and the API's admin
 * routes: requeue, cancel, delete and purge in short BEGIN IMMEDIATE batches that never touch running rows,
 * and SQLite's integrity checks. A lower layer: it fills err, prints only
 * where it is given a FILE. */
#ifndef RAGRADE_MAINT_H
#define RAGRADE_MAINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "db.h"

/* Rows per write transaction: the pool's writers wait for one batch at most. */
#define MAINT_BATCH 500

/* Back to queued with attempts 0, not_before 0 and last_error NULL; the old
 * scores are deleted. id > 0: that one row unless it runs (*n = 0 then).
 * id = 0: every failed row, and every done one too unless failed_only, of
 * dataset (NULL: any). *n rows requeued. 0, or a negative code with err. */
int maint_requeue(db *d, int64_t id, int failed_only, const char *dataset, int64_t *n,
                  char *err, size_t errlen);

/* The one-row requeue of both doors (POST /api/eval/{id}/retry, `admin
 * requeue ID`): maint_requeue's rules for one row; a queued, done or failed
 * row is requeued, a running one never. 0; -ENOENT; -EPERM with the row's
 * status in status (16 bytes: "running"); or another code with err. */
int maint_retry(db *d, int64_t id, char *status, char *err, size_t errlen);

/* Delete a row that is not running, with its scores (DELETE
 * /api/eval/{id}, `admin delete ID`). 0; -ENOENT; -EPERM with the status
 * ("running"); or another negative code with err filled. */
int maint_delete(db *d, int64_t id, char *status, char *err, size_t errlen);

/* Fail a queued row with last_error 'cancelled by admin'. 0; -ENOENT; or
 * -EPERM with the row's status in status (16 bytes) when it is not queued;
 * or another negative code with err filled. */
int maint_cancel(db *d, int64_t id, char *status, char *err, size_t errlen);

/* The status of one row into status (16 bytes): 0, -ENOENT or -EIO. */
int maint_status(db *d, int64_t id, char *status);

/* Delete done and failed rows created before before_iso (as clock_iso writes
 * it) of dataset (NULL: any); scores cascade. dry_run: count only. *n rows. */
int maint_purge(db *d, const char *before_iso, const char *dataset, int dry_run, int64_t *n,
                char *err, size_t errlen);

/* Run an integrity pragma (integrity_check, quick_check, foreign_key_check)
 * and write "ok" or up to 20 of its complaints to out under label. 1 when
 * ok, 0 when not, -1 when it could not run. */
int maint_pragma_check(db *d, const char *pragma, const char *label, FILE *out);

/* Every check of `ragrade admin check`, one line each to out: integrity_check,
 * quick_check, foreign_key_check, the schema version against
 * DB_SCHEMA_VERSION, and the journal mode (wal). 1 when all pass, else 0. */
int maint_check(db *d, FILE *out);

#endif
