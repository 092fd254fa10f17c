/* board.c - the scoreboard in shared memory (see board.h). */
#include "board.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define NCOUNTERS (sizeof(board_counters) / sizeof(uint64_t))
_Static_assert(sizeof(board_counters) % sizeof(uint64_t) == 0, "board_counters holds only uint64_t");

struct board {
    size_t size;
    int nslots;
    int64_t started_ms;
    uint64_t restarts;
    int64_t submit_ms;            /* board_note_submit: the last commit that added rows */
    int wal_pages;                /* board_note_wal */
    int64_t write_ok_ms;          /* board_note_write: the last commit that succeeded */
    int64_t write_fail_ms;        /* ... and the last that failed */
    int write_err;                /* its code */
    uint64_t finished;            /* board_note_progress (master only): rows finished */
    int64_t stalled_ms;           /* 0, or since when finished has not moved */
    uint64_t socket_rebinds;      /* board_note_socket (master only) */
    uint64_t sock_dev, sock_ino;  /* board_set_socket_id (master only) */
    int closing;                  /* board_set_closing */
    int64_t socket_ms;
    unsigned fold_seq;            /* odd while the master folds a slot */
    board_counters dead;          /* counters of workers that exited */
    board_slot slots[];
};

static const int codes[BOARD_CODES - 1] = {
    200, 202, 204, 400, 401, 403, 404, 405, 409, 411, 413, 415, 422, 429, 500, 503
};
static const double bounds[BOARD_BUCKETS - 1] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5
};

board *board_new(int nslots)
{
    size_t size = sizeof(board) + (size_t)nslots * sizeof(board_slot);
    board *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (b == MAP_FAILED)
        return NULL;
    memset(b, 0, size);
    b->size = size;
    b->nslots = nslots;
    b->started_ms = clock_wall_ms();
    return b;
}

void board_free(board *b)
{
    if (b)
        munmap(b, b->size);
}

int board_nslots(const board *b) { return b->nslots; }
board_slot *board_slot_at(board *b, int i) { return &b->slots[i]; }
int64_t board_started_ms(const board *b) { return b->started_ms; }
void board_add_restart(board *b) { board_inc(&b->restarts); }
uint64_t board_restarts(const board *b) { return board_load(&b->restarts); }
void board_note_submit(board *b, int64_t now_ms) { board_store(&b->submit_ms, now_ms); }
int64_t board_last_submit(const board *b) { return board_load(&b->submit_ms); }
void board_note_wal(board *b, int pages) { board_store(&b->wal_pages, pages); }
int board_take_wal(board *b) { return __atomic_exchange_n(&b->wal_pages, 0, __ATOMIC_RELAXED); }

void board_note_write(board *b, int rc, int64_t now_ms)
{
    if (rc == 0) {
        if (board_load(&b->write_ok_ms) < now_ms)
            board_store(&b->write_ok_ms, now_ms);
    } else if (rc == -ENOSPC || rc == -EROFS || rc == -EIO) {
        board_store(&b->write_err, rc);
        board_store(&b->write_fail_ms, now_ms);
    }
}

int board_write_state(const board *b, int64_t *since_ms)
{
    int64_t fail = board_load(&b->write_fail_ms);

    *since_ms = fail;
    return fail && fail >= board_load(&b->write_ok_ms) ? board_load(&b->write_err) : 0;
}

/* Master only (one writer): called about once a second. */
void board_note_progress(board *b, int64_t now_ms)
{
    board_counters c;
    uint64_t finished;
    int i, inflight = 0;

    board_sum(b, &c);
    finished = c.evaluated + c.failed;
    for (i = 0; i < b->nslots; i++)
        if (board_load(&b->slots[i].pid))
            inflight += board_load(&b->slots[i].inflight);
    /* A stall starts when evaluations are in flight and lasts until a row
     * finishes, through the gaps of retries (nothing in flight). */
    if (finished != b->finished)
        board_store(&b->stalled_ms, 0);
    else if (inflight > 0 && !board_load(&b->stalled_ms))
        board_store(&b->stalled_ms, now_ms);
    b->finished = finished;
}

int64_t board_stalled_since(const board *b) { return board_load(&b->stalled_ms); }

void board_set_socket_id(board *b, uint64_t dev, uint64_t ino)
{
    board_store(&b->sock_dev, dev);
    board_store(&b->sock_ino, ino);
}

int board_is_socket(const board *b, uint64_t dev, uint64_t ino)
{
    return board_load(&b->sock_ino) && board_load(&b->sock_dev) == dev && board_load(&b->sock_ino) == ino;
}

void board_set_closing(board *b) { __atomic_store_n(&b->closing, 1, __ATOMIC_SEQ_CST); }
int board_closing(const board *b) { return __atomic_load_n(&b->closing, __ATOMIC_SEQ_CST); }

void board_note_socket(board *b, int64_t now_ms)
{
    board_store(&b->socket_ms, now_ms);
    board_inc(&b->socket_rebinds);
}

uint64_t board_socket_rebinds(const board *b, int64_t *last_ms)
{
    *last_ms = board_load(&b->socket_ms);
    return board_load(&b->socket_rebinds);
}

void board_fold(board *b, board_slot *s)
{
    uint64_t *dead = (uint64_t *)&b->dead, *c = (uint64_t *)&s->c;
    size_t i;

    __atomic_add_fetch(&b->fold_seq, 1, __ATOMIC_ACQ_REL);
    for (i = 0; i < NCOUNTERS; i++)
        board_add(&dead[i], board_load(&c[i]));
    memset(s, 0, sizeof *s);
    __atomic_add_fetch(&b->fold_seq, 1, __ATOMIC_ACQ_REL);
}

void board_sum(board *b, board_counters *out)
{
    uint64_t *o = (uint64_t *)out, *c;
    unsigned before, after;
    size_t i;
    int k, tries = 0;

    do {
        before = __atomic_load_n(&b->fold_seq, __ATOMIC_ACQUIRE);
        c = (uint64_t *)&b->dead;
        for (i = 0; i < NCOUNTERS; i++)
            o[i] = board_load(&c[i]);
        for (k = 0; k < b->nslots; k++) {   /* free slots are all zero */
            c = (uint64_t *)&b->slots[k].c;
            for (i = 0; i < NCOUNTERS; i++)
                o[i] += board_load(&c[i]);
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        after = __atomic_load_n(&b->fold_seq, __ATOMIC_ACQUIRE);
    } while ((before != after || (before & 1)) && ++tries < 1000);
}

int board_code_index(int status)
{
    int i;

    for (i = 0; i < BOARD_CODES - 1; i++)
        if (codes[i] == status)
            return i;
    return BOARD_CODES - 1;
}

int board_code_at(int index) { return index >= 0 && index < BOARD_CODES - 1 ? codes[index] : 0; }
double board_bucket_le(int i) { return bounds[i]; }

void board_count_request(board_slot *s, int route, int status, int64_t usec)
{
    int i;

    if (route < 0 || route >= BOARD_ROUTES)
        route = BR_OTHER;
    board_inc(&s->c.requests[route][board_code_index(status)]);
    if (route != BR_SUBMIT)
        return;
    for (i = 0; i < BOARD_BUCKETS - 1 && (double)usec / 1e6 > bounds[i]; i++)
        ;
    board_inc(&s->c.submit_bucket[i]);
    board_add(&s->c.submit_us, (uint64_t)(usec > 0 ? usec : 0));
}

void board_set_judge(board_slot *s, int state, const char *error)
{
    __atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL);
    s->judge_state = state;
    snprintf(s->judge_error, sizeof s->judge_error, "%s", error ? error : "");
    __atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL);
}

int board_get_judge(const board_slot *s, char *error, size_t len)
{
    unsigned before, after;
    int state, tries = 0;

    do {
        before = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        state = s->judge_state;
        snprintf(error, len, "%.*s", (int)sizeof s->judge_error - 1, s->judge_error);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        after = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
    } while ((before != after || (before & 1)) && ++tries < 1000);
    return state;
}
