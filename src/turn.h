/* turn.h - the writers' turn of one connection: an exclusive flock on
 * DB-write.lock, waited for in the kernel up to a deadline, with a line
 * (DB-write.line) that keeps a writer who takes it again at once from
 * starving the waiters. db.c owns one per connection and says who takes it
 * when (db.h); the mechanics and their reasons are in turn.c. */
#ifndef RAGRADE_TURN_H
#define RAGRADE_TURN_H

#include <stdint.h>

typedef struct turn turn;

/* For the database file db_file (the lock files go beside it; opened on
 * the first take). NULL on out of memory or a path too long. */
turn *turn_new(const char *db_file);
void turn_free(turn *t);                   /* NULL is a no-op */

/* Take the turn, waiting at most timeout_ms, and not past deadline_us
 * (clock_mono_us; 0: none). line: stand in the line even when the turn
 * is free (a bulk writer between batches). 0, -EBUSY when the wait ended
 * first (not taken), or another negative errno (a lock file cannot be
 * opened). Called by the connection's thread. */
int turn_take(turn *t, int timeout_ms, int64_t deadline_us, int line);
/* Give back a turn taken. */
void turn_give(turn *t);

#endif
