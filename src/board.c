/* board.c - the scoreboard in shared memory (see board.h). */
#include "board.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

struct board {
    size_t size;
    int nslots;
    uint64_t restarts;
    board_slot slots[];
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
    return b;
}

void board_free(board *b)
{
    if (b)
        munmap(b, b->size);
}

int board_nslots(const board *b) { return b->nslots; }
board_slot *board_slot_at(board *b, int i) { return &b->slots[i]; }
void board_add_restart(board *b) { board_inc(&b->restarts); }
uint64_t board_restarts(const board *b) { return board_load(&b->restarts); }

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
