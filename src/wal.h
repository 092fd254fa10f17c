/* wal.h - the WAL checkpoint protocol of the pool, behind one call
 * (wal_checkpoint); its invariant is stated once, in wal.c. */
#ifndef RAGRADE_WAL_H
#define RAGRADE_WAL_H

#include <stdint.h>

#include "board.h"
#include "db.h"

typedef struct wal wal;

/* Called with 0 before the checkpoint work and 1 after it: the caller's
 * priority switch (a scheduler at SCHED_IDLE runs checkpoints at the
 * ordinary policy, as it runs every write). */
typedef void (*wal_prio_fn)(void *arg, int idle);

/* The checkpointer state for one connection d (borrowed, its thread's).
 * pages: db.checkpoint_pages (0: never checkpoint). b: the pool's board,
 * where committers leave the WAL's length (board_note_wal); slot (may be
 * NULL) counts checkpoints and restarts. Installs d's wal hook. NULL on
 * out of memory. */
wal *wal_new(db *d, int pages, board *b, board_slot *slot, wal_prio_fn prio, void *arg);
void wal_free(wal *w);                     /* NULL is a no-op */

/* The one call, from the scheduler's loop on d's thread: take the
 * checkpointer's role when free (tried once a second), and as the
 * checkpointer copy the WAL into the database when it has grown past
 * pages or a second has gone by, restarting it as wal.c describes. */
void wal_checkpoint(wal *w, int64_t now_ms);   /* clock_wall_ms() */

/* For a connection that commits but never checkpoints (the submit path's
 * committer): after each of its commits, *pages = the WAL's length, for the
 * committer to pass on to the checkpointer. *pages is d's thread's. */
void wal_watch(db *d, int *pages);

#endif
