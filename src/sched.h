/* sched.h - the scheduler thread of one worker process: lazy judge
 * initialisation, claiming queued rows under a lease, running them through
 * the judge, writing results back. Request threads only call sched_notify. */
#ifndef RAGRADE_SCHED_H
#define RAGRADE_SCHED_H

#include <stddef.h>

#include "board.h"
#include "conf.h"
#include "criteria.h"

typedef struct sched sched;

/* b: the pool's scoreboard (borrowed; its submit clock and WAL length);
 * slot: this worker's slot in it (borrowed; may be NULL). Opens the
 * thread's database connection and makes the judge (no I/O). NULL with err
 * filled on failure. */
sched *sched_new(const conf *cf, board *b, board_slot *slot, char *err, size_t errlen);
/* The criteria rows may name (borrowed; outlives s): the judge scores
 * them, and the scheduler refreshes reg from the database before each
 * claim. Before sched_start. 0 or a negative code with err. */
int sched_set_criteria(sched *s, crit_registry *reg, char *err, size_t errlen);
int sched_start(sched *s, char *err, size_t errlen);
/* This worker's committer queued new rows: claim them soon, and stamp the
 * pool's submit clock (see FLOOD_MS in sched.c). wal_pages: the WAL's
 * length after that commit, for the next checkpoint. Thread-safe, cheap. */
void sched_notify(sched *s, int wal_pages);
/* Stop claiming; let evaluations in flight finish for up to
 * cf->graceful_timeout_ms, then cancel the rest and put them back in the
 * queue; join the thread. */
void sched_stop(sched *s);
void sched_free(sched *s);        /* stops first if running; NULL is a no-op */

/* The lease owner name of this scheduler ("w<pid>-<random>"). */
const char *sched_owner(const sched *s);


#endif
