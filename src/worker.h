/* worker.h - one worker process of the pool: request threads on an epoll
 * set of FastCGI connections, a committer and a scheduler, and a drain on
 * SIGTERM. Forked by the master (master.c). */
#ifndef RAGRADE_WORKER_H
#define RAGRADE_WORKER_H

#include "board.h"
#include "conf.h"

#include <sys/types.h>

/* Run worker idx of the pool in this (freshly forked) process: serve
 * FastCGI on listen_fd until SIGTERM, SIGINT or SIGQUIT (or the death of
 * master, the parent's pid), drain, and end the process. cf and b are the
 * master's, inherited across fork; the [criterion NAME] sections of
 * config_path (may be NULL) are read here. Never returns. */
void worker_main(conf *cf, const char *config_path, int listen_fd, board *b, int idx, pid_t master)
    __attribute__((noreturn));

#endif
