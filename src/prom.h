/* prom.h - the pool's numbers for operators: the Prometheus text of GET
 * /api/metrics and the php-fpm-like status of GET /api/status, from the
 * scoreboard (request counters, threads, judge state) and the database
 * (queue depth, scores, tokens). */
#ifndef RAGRADE_PROM_H
#define RAGRADE_PROM_H

#include <json-c/json.h>
#include <stddef.h>

#include "board.h"
#include "conf.h"
#include "db.h"

/* Prometheus text format 0.0.4 into *out (malloc'd, the caller frees). rd
 * is the calling thread's connection; when it cannot be read the database
 * series are left out and ragrade_db_up is 0. 0 or -ENOMEM. */
int prom_text(const conf *cf, board *b, db *rd, char **out, size_t *len);

/* The pool and each worker: pid, start time, threads active and idle,
 * accepted, saturated, slow, judge state. A new object. */
json_object *prom_status(const conf *cf, board *b);

/* "uninitialized", "initializing", "ready" or "failed". */
const char *prom_judge_state(int state);

#endif
