/* queue.h - the submit path's group commit. Request threads hand validated
 * rows to queue_submit() and wait; one committer thread per process writes
 * every waiting submission in one IMMEDIATE transaction, commits, and wakes
 * them. A request is answered only after its rows are committed. */
#ifndef RAGRADE_QUEUE_H
#define RAGRADE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "row.h"

typedef struct queue queue;

/* Called by the committer after a commit that added rows (wakes the
 * scheduler). Runs on the committer thread. */
typedef void (*queue_notify_fn)(void *arg);

/* Opens its own connection to cf->db_path and starts the committer thread.
 * NULL with err filled on failure. */
queue *queue_new(const conf *cf, queue_notify_fn notify, void *arg, char *err, size_t errlen);
/* Commits what waits, stops the thread, closes. NULL is a no-op. */
void queue_free(queue *q);

/* Store n rows (all or none); blocks until committed. key: the
 * Idempotency-Key or NULL. ids receives n ids; *replayed = 1 when the key
 * was seen before and ids are the first submission's. Returns 0, -EEXIST
 * (key reused with a different number of rows), -ENOSPC (disk full),
 * -EBUSY (lock timeout), -EIO; err says why. */
int queue_submit(queue *q, const row *rows, size_t n, const char *key, int64_t *ids,
                 int *replayed, char *err, size_t errlen);

#endif
