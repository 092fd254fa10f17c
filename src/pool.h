/* pool.h - the master process and its FastCGI workers, in the manner of
 * php-fpm: a fixed number of workers, respawned when they die, replaced on
 * SIGHUP, stopped gracefully on SIGTERM. */
#ifndef RAGRADE_POOL_H
#define RAGRADE_POOL_H

#include <stddef.h>

#include "conf.h"

/* Run the pool in the foreground until SIGTERM or SIGINT. config_path (may
 * be NULL) is read again on SIGHUP. Returns the process exit code. */
int pool_run(const char *config_path, conf *cf);

#endif
