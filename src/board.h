/* board.h - the pool's scoreboard, in the manner of php-fpm's: one shared
 * memory region made by the master before it forks, one slot per worker.
 * Each worker writes only its own slot; anyone may read every slot. Counters
 * are atomics; the judge's state and error are guarded by a sequence
 * number so that readers never see a torn string. */
#ifndef RAGRADE_BOARD_H
#define RAGRADE_BOARD_H

#include <stdint.h>
#include <sys/types.h>

#define BOARD_OWNER_MAX 48
#define BOARD_ERROR_MAX 256

typedef struct board_slot {
    pid_t pid;                    /* 0: free */
    char owner[BOARD_OWNER_MAX];  /* the scheduler's lease owner */
    int64_t started_ms;
    /* request threads */
    uint64_t accepted;            /* requests accepted */
    uint64_t slow;                /* requests slower than a second */
    int active;                   /* threads serving a request now */
    int threads;
    uint64_t saturated;           /* times every thread was busy */
    /* scheduler */
    uint64_t evaluated;           /* rows done */
    uint64_t failed;              /* rows failed */
    uint64_t retried;             /* rows put back for a retry */
    int inflight;
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
/* Worker restarts and the configured worker count, kept by the master. */
void board_add_restart(board *b);
uint64_t board_restarts(const board *b);

/* Writer side (the slot's own scheduler). */
void board_set_judge(board_slot *s, int state, const char *error);
/* Reader side: copy state and error consistently. */
int board_get_judge(const board_slot *s, char *error, size_t len);

#define board_inc(p) __atomic_add_fetch((p), 1, __ATOMIC_RELAXED)
#define board_dec(p) __atomic_sub_fetch((p), 1, __ATOMIC_RELAXED)
#define board_load(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define board_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

#endif
