/* wal.c - the pool's WAL checkpoint protocol, in one place.
 *
 * INVARIANT. No checkpoint of ours ever starts while some commit may
 * restart the WAL. SQLite before 3.51.3 (Debian 12 has 3.40) can corrupt
 * the database when a checkpoint starts while another connection's commit
 * restarts the WAL (https://sqlite.org/wal.html#walresetbug). A restart
 * (the next frame goes to the WAL's start) happens only in a write
 * transaction that begins with every frame checkpointed. So:
 * - One connection in the pool checkpoints: the one holding
 *   DB-checkpoint.lock (db_checkpointer; kept until its db_close, so when
 *   its process dies another takes the role). SQLite's automatic
 *   checkpoint is off on every connection (db_open), and the wal hooks
 *   installed here replace it.
 * - Whenever a checkpoint has copied the whole WAL, the checkpointer takes
 *   the writers' turn (db_turn_take, which every write transaction holds)
 *   and restarts the WAL itself with a one-page write (db_wal_mark), so no
 *   later commit can restart it behind a checkpoint's back.
 * - Until that restart is done (it failed, or the role was just taken and
 *   the last checkpointer may have died before its restart), checkpoints
 *   run while holding the turn (reset_pending).
 *
 * WHEN. The checkpointer's wal hook notes the WAL's length after each of
 * its commits; every committer of the pool notes it after its own
 * (wal_watch, passed on through the board: board_note_wal). A PASSIVE
 * checkpoint (it never waits for readers or writers) runs when that passes
 * db.checkpoint_pages, and at least once a second, so the WAL stays short
 * even while only the committers write (say, with the judge down).
 *
 * FLOODS. A steady flood of commits never lets a transaction begin with
 * every frame checkpointed. Past RESTART_FACTOR x db.checkpoint_pages
 * (16 MiB by default), the checkpointer copies the frames appended during
 * its checkpoint once more while holding the writers' turn (a millisecond
 * or two: few frames and two fsyncs), then restarts the WAL. */
#include "wal.h"
#include "db_int.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>

#define ROLE_POLL_MS 1000         /* try for the role, and checkpoint, at least this often */
#define RESTART_FACTOR 16         /* a WAL of 16 x db.checkpoint_pages is started over */

/* Owned by the thread of its connection. */
struct wal {
    db *d;                        /* borrowed */
    int pages_max;                /* db.checkpoint_pages; 0: never */
    board *b;                     /* borrowed: the committers' WAL lengths */
    board_slot *slot;             /* borrowed, may be NULL: counters */
    wal_prio_fn prio;
    void *prio_arg;
    int pages;                    /* WAL length after our last commit (wal hook) */
    int checkpointer;             /* 1: this connection holds the role */
    int reset_pending;            /* the WAL may be all copied and not restarted */
    int64_t at;                   /* next timed checkpoint, or role attempt */
    int last_log, last_done;      /* what the last checkpoint reported */
};

/* sqlite3_wal_hook: record the WAL's length after a commit. */
static int on_wal(void *arg, sqlite3 *h, const char *name, int pages)
{
    (void)h;
    (void)name;
    *(int *)arg = pages;
    return SQLITE_OK;
}

void wal_watch(db *d, int *pages)
{
    sqlite3_wal_hook(db_handle(d), on_wal, pages);
}

wal *wal_new(db *d, int pages, board *b, board_slot *slot, wal_prio_fn prio, void *arg)
{
    wal *w = calloc(1, sizeof *w);

    if (!w)
        return NULL;
    w->d = d;
    w->pages_max = pages;
    w->b = b;
    w->slot = slot;
    w->prio = prio;
    w->prio_arg = arg;
    wal_watch(d, &w->pages);
    return w;
}

void wal_free(wal *w)
{
    if (w)
        sqlite3_wal_hook(db_handle(w->d), NULL, NULL);
    free(w);
}

static int passive(wal *w, int *log, int *done)
{
    return sqlite3_wal_checkpoint_v2(db_handle(w->d), NULL, SQLITE_CHECKPOINT_PASSIVE, log, done);
}

/* Holding the turn, after a checkpoint that returned rc: restart the WAL
 * when it is all copied (full), else note whether one is still owed. */
static void restart(wal *w, int rc, int full, int log)
{
    if (full && log > 1) {        /* 1: only our last mark, nothing new */
        w->pages = 0;
        w->reset_pending = db_wal_mark(w->d) < 0;
        /* A reader still in a transaction keeps the WAL from restarting;
         * the mark then goes at its end, and the next checkpoint tries
         * again. The wal hook tells which it was. */
        if (!w->reset_pending && w->pages > 0 && w->pages <= 2 && w->slot)
            board_inc(&w->slot->c.wal_restarts);
        w->pages = 0;
    } else {
        w->reset_pending = full || rc != SQLITE_OK;
    }
}

/* 1 when this connection is (now) the checkpointer and a checkpoint is due. */
static int due(wal *w, int64_t now)
{
    int seen;

    if (!w->pages_max)
        return 0;
    if (!w->checkpointer) {
        if (now < w->at)
            return 0;
        w->at = now + ROLE_POLL_MS;
        if (!(w->checkpointer = db_checkpointer(w->d)))
            return 0;
        w->reset_pending = 1;     /* the last one may have died before its restart */
    }
    seen = board_take_wal(w->b);
    if (seen > w->pages)
        w->pages = seen;
    return w->pages >= w->pages_max || now >= w->at;
}

/* The turn: 1 taken, -1 not (no lock file: the busy handler still keeps
 * writers apart), or -EBUSY (its deadline passed: nothing may be done). */
static int take(wal *w)
{
    int rc = db_turn_take(w->d);

    return rc == 0 ? 1 : rc == -EBUSY ? -EBUSY : -1;
}

void wal_checkpoint(wal *w, int64_t now)
{
    int log = 0, done = 0, rc, full, turn;

    if (!due(w, now))
        return;
    w->at = now + ROLE_POLL_MS;
    w->pages = 0;
    if (w->prio)
        w->prio(w->prio_arg, 0);
    /* While a restart may be pending, checkpoint only holding the turn;
     * when the turn's deadline passed (-EBUSY), not at all: next time. */
    if ((turn = w->reset_pending) && (turn = take(w)) == -EBUSY)
        goto out;
    rc = passive(w, &log, &done);
    full = rc == SQLITE_OK && log > 0 && done == log;
    /* Whenever the WAL is all copied, restart it now, holding the turn;
     * under a flood, copy the last few frames holding it first. */
    if (!turn && rc == SQLITE_OK && (full || log >= RESTART_FACTOR * w->pages_max)) {
        if ((turn = take(w)) == -EBUSY) {
            w->reset_pending = 1;     /* copied, perhaps, but not restarted */
            goto out;
        }
        if (!full) {
            rc = passive(w, &log, &done);
            full = rc == SQLITE_OK && log > 0 && done == log;
        }
    }
    if (turn) {
        restart(w, rc, full, log);
        if (turn > 0)
            db_turn_give(w->d);
    } else if (rc != SQLITE_OK) {
        w->reset_pending = 1;
    }
    if (rc == SQLITE_OK && done > 0 && (log != w->last_log || done != w->last_done)) {
        if (w->slot)
            board_inc(&w->slot->c.checkpoints);
        log_debug("checkpoint: %d of %d WAL frames in the database", done, log);
    }
    w->last_log = log;
    w->last_done = done;
out:
    if (w->prio)
        w->prio(w->prio_arg, 1);
}
