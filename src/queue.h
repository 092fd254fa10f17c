/* queue.h - the submit path's group commit. Request threads hand validated
 * rows to queue_post() and go back to serving; one committer thread per
 * process writes every waiting submission in one IMMEDIATE transaction,
 * commits, and then calls each submission's done callback, which answers
 * it. A request is answered only after its rows are committed. */
#ifndef RAGRADE_QUEUE_H
#define RAGRADE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "row.h"

typedef struct queue queue;

/* Called by the committer after a commit that added rows (wakes the
 * scheduler), with the WAL's length in pages after that commit. Runs on
 * the committer thread. */
typedef void (*queue_notify_fn)(void *arg, int wal_pages);

/* Opens its own connection to cf->db_path and starts the committer thread.
 * NULL with err filled on failure. */
queue *queue_new(const conf *cf, queue_notify_fn notify, void *arg, char *err, size_t errlen);
/* Commits and answers what waits and stops the committer thread; a later
 * queue_post returns -ESHUTDOWN. Call from one thread (the owner's), once
 * or more. NULL is a no-op. */
void queue_stop(queue *q);
/* queue_stop, then closes and frees: no thread may call queue_post any
 * more. NULL is a no-op. */
void queue_free(queue *q);

/* Called once per posted submission, on the committer thread, after its
 * transaction committed or failed: rc is 0, -EEXIST (the Idempotency-Key
 * was used for a different number of rows or, by hash, a different body),
 * -ENOSPC (disk full), -EBUSY (lock timeout), -EIO or -ESHUTDOWN; err says
 * why. On success ids holds n ids, the first submission's when replayed is
 * 1, and then status holds their statuses as of this commit (NULL when not
 * replayed). ids, status and err are valid only during the call. */
typedef char queue_status[8];     /* "queued", "running", "done", "failed" */
typedef void (*queue_done_fn)(void *arg, int rc, const int64_t *ids, int replayed, const queue_status *status,
                              const char *err);

/* Hand n rows (stored all or none) to the committer and return at once;
 * done(arg, ...) follows once they are committed, on the committer thread.
 * key: the Idempotency-Key or NULL; hash: the body's SHA-256 in hex (or
 * NULL), stored with the key and compared on a replay. rows, key and hash
 * are borrowed until done is called. Returns 0, or -ENOMEM or -ESHUTDOWN
 * (the worker is stopping) and then done is never called. */
int queue_post(queue *q, const row *rows, size_t n, const char *key, const char *hash,
               queue_done_fn done, void *arg);

#endif
