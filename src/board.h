/* board.h - the pool's scoreboard, in the manner of php-fpm's: one shared
 * memory region made by the master before it forks, one slot per worker.
 * Each worker writes only its own slot (and the pool-wide submit clock
 * and WAL length, board_note_*); anyone may read every slot. Counters
 * are atomics; the judge's state and error are guarded by a sequence
 * number so that readers never see a torn string. When a worker dies the
 * master folds its counters into a pool-wide total (board_fold), so sums
 * over the board never go backwards across restarts. */
#ifndef RAGRADE_BOARD_H
#define RAGRADE_BOARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BOARD_OWNER_MAX 48
#define BOARD_ERROR_MAX 256

/* Route classes and answered statuses of the request counters. */
enum board_route {
    BR_SUBMIT, BR_LIST, BR_GET, BR_SUMMARY, BR_HEALTH, BR_METRICS, BR_STATUS, BR_PING,
    BR_ADMIN, BR_OTHER, BOARD_ROUTES
};
#define BOARD_CODES 17            /* board_code_index: 16 known statuses and "other" */
#define BOARD_BUCKETS 13          /* submit latency: 12 bounds (board_bucket_le) and +Inf */

/* Monotonic counters of one worker: every member is a uint64_t, so that
 * board_fold and board_sum treat the struct as an array. */
typedef struct board_counters {
    /* request threads */
    uint64_t accepted;            /* requests accepted */
    uint64_t connections;         /* connections accepted from nginx (kept ones carry many requests) */
    uint64_t slow;                /* requests slower than server.slow_request_ms */
    uint64_t saturated;           /* times every thread was busy */
    uint64_t requests[BOARD_ROUTES][BOARD_CODES];
    uint64_t submit_bucket[BOARD_BUCKETS];   /* not cumulative: one bucket per request */
    uint64_t submit_us;           /* sum of submit latencies, microseconds */
    /* scheduler */
    uint64_t evaluated;           /* rows done */
    uint64_t failed;              /* rows failed */
    uint64_t retried;             /* rows put back for a retry */
    uint64_t checkpoints;         /* WAL checkpoints run by the scheduler */
    uint64_t wal_restarts;        /* WAL restarts made by the checkpointing scheduler */
} board_counters;

typedef struct board_slot {
    pid_t pid;                    /* 0: free */
    char owner[BOARD_OWNER_MAX];  /* the scheduler's lease owner */
    int64_t started_ms;           /* Unix epoch */
    int active;                   /* threads serving a request now */
    int conns;                    /* connections from nginx open now */
    int threads;
    int inflight;                 /* evaluations in the judge */
    board_counters c;
    unsigned seq;                 /* odd while judge_* are written */
    int judge_state;
    char judge_error[BOARD_ERROR_MAX];
} board_slot;

typedef struct board board;

/* Shared (MAP_SHARED | MAP_ANONYMOUS) when made before fork. NULL on error. */
board *board_new(int nslots);
void board_free(board *b);                 /* NULL is a no-op */
int board_nslots(const board *b);
board_slot *board_slot_at(board *b, int i);
/* When the master made the board (Unix epoch ms). */
int64_t board_started_ms(const board *b);
/* Worker restarts, kept by the master. */
void board_add_restart(board *b);
uint64_t board_restarts(const board *b);

/* The submit clock: every committer stamps it when a commit added rows,
 * and every scheduler reads it, so that all of them hold their claims back
 * while any worker commits submits (they share one writers' turn). */
void board_note_submit(board *b, int64_t now_ms);
int64_t board_last_submit(const board *b);
/* The WAL's length in pages after the last commit of any committer, for
 * the pool's one checkpointer (wal.c); the checkpointer clears it. */
void board_note_wal(board *b, int pages);
int board_take_wal(board *b);

/* The database's writability, as the last commits found it: every
 * committer notes each commit's outcome (rc 0, or -ENOSPC, -EROFS, -EIO:
 * the commit failed; other codes are not noted), so /api/health can say
 * the database cannot be written while no commit has succeeded since the
 * last failure. board_write_state: 0 when writable (or not known yet),
 * else the failure's code; *since_ms when it failed (Unix epoch ms). */
void board_note_write(board *b, int rc, int64_t now_ms);
int board_write_state(const board *b, int64_t *since_ms);

/* The judge's progress, kept by the master about once a second: rows
 * finished (done or failed) over the pool, and since when that count has
 * not moved since evaluations were in flight (0: it moved since, or
 * nothing was in flight). */
void board_note_progress(board *b, int64_t now_ms);
int64_t board_stalled_since(const board *b);

/* The FastCGI socket file: which file it is (stat's st_dev and st_ino,
 * set by the master when it binds), so that no one removes another's; and
 * "closing", set before a stop once the file is removed, when a draining
 * worker must first serve the connections already waiting in the backlog
 * (no new ones can come). */
void board_set_socket_id(board *b, uint64_t dev, uint64_t ino);
int board_is_socket(const board *b, uint64_t dev, uint64_t ino);
void board_set_closing(board *b);
int board_closing(const board *b);

/* The FastCGI socket file was found deleted and bound again (master). */
void board_note_socket(board *b, int64_t now_ms);
uint64_t board_socket_rebinds(const board *b, int64_t *last_ms);

/* Master: add a dead worker's counters to the pool-wide total and clear its
 * slot, atomically for board_sum. */
void board_fold(board *b, board_slot *s);
/* Anyone: the pool's counters since it started (dead workers included). */
void board_sum(board *b, board_counters *out);

/* Request counters: the index of an HTTP status, and the upper bound of a
 * latency bucket in seconds (i < BOARD_BUCKETS - 1). */
int board_code_index(int status);
int board_code_at(int index);             /* 0 for "other" */
double board_bucket_le(int i);
void board_count_request(board_slot *s, int route, int status, int64_t usec);

/* Writer side (the slot's own scheduler). */
void board_set_judge(board_slot *s, int state, const char *error);
/* Reader side: copy state and error consistently. */
int board_get_judge(const board_slot *s, char *error, size_t len);

#define board_inc(p) __atomic_add_fetch((p), 1, __ATOMIC_RELAXED)
#define board_add(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define board_dec(p) __atomic_sub_fetch((p), 1, __ATOMIC_RELAXED)
#define board_load(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define board_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

#endif
