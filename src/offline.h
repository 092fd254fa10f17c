/* offline.h - `ragrade eval FILE.jsonl`: evaluate rows with the same judge
 * code as the server, without a server or a database queue. */
#ifndef RAGRADE_OFFLINE_H
#define RAGRADE_OFFLINE_H

#include <stdio.h>

#include "conf.h"

/* Read JSON rows, one per line, from in; write one JSON line per row to
 * out, in input order, and a summary to err. Returns the exit code: 0 when
 * every row was scored, 1 when some row was invalid or failed, 2 when the
 * judge could not start. */
int offline_eval(const conf *cf, const char *config_path, FILE *in, FILE *out, FILE *err);

#endif
