/* api.h - the HTTP API under /api/: a route table, validation and answers. Runs on
 * request threads (a submit's answer on the committer thread); never waits
 * on the judge. */
#ifndef RAGRADE_API_H
#define RAGRADE_API_H

#include <fcgiapp.h>

#include "auth.h"
#include "board.h"
#include "conf.h"
#include "critstore.h"
#include "db.h"
#include "queue.h"

/* What a request thread needs, shared by the threads of one worker
 * process. All borrowed. */
typedef struct api_ctx {
    const conf *cf;
    queue *q;
    board *b;                     /* the pool's scoreboard */
    board_slot *slot;             /* this worker's slot */
    const auth *auth;             /* bearer tokens; NULL: reads and submits open, admin off */
    crit_registry *reg;           /* the worker's criteria (see criteria.h) */
    /* After the committer ended a deferred request (http_finish): its
     * connection's fd for the next request, or -1 when it was closed. The
     * callee owns the fd. NULL: close it. Runs on the committer thread. */
    void (*conn_done)(void *arg, int fd);
    void *conn_arg;
} api_ctx;

#define API_DEFERRED 0

/* Serve one request. rd is the calling thread's own connection. Returns the
 * HTTP status sent (cs: the criteria store on rd), and the caller then ends the request (http_finish); or
 * API_DEFERRED for a submit handed to the committer, which answers, ends
 * and frees the request once its rows are committed and hands its
 * connection to conn_done: fcgi must then come from malloc, and the caller
 * gives it up. */
int api_handle(const api_ctx *a, db *rd, critstore *cs, FCGX_Request *fcgi);

#endif
