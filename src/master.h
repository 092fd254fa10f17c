/* master.h - the pool's master process, in the manner of php-fpm: a fixed
 * number of workers (worker.h), respawned when they die, replaced on
 * SIGHUP, stopped gracefully on SIGTERM. */
#ifndef RAGRADE_MASTER_H
#define RAGRADE_MASTER_H

#include "conf.h"

/* Run the pool in the foreground until SIGTERM, SIGINT or SIGQUIT.
 * config_path (may be NULL) is read again on SIGHUP. Returns the process
 * exit code. */
int master_run(const char *config_path, conf *cf);

#endif
