/* admin.h - `ragrade admin`: the database by hand (stats, list, show,
 * requeue, cancel, purge, export, check, ...), for main.c. */
#ifndef RAGRADE_ADMIN_H
#define RAGRADE_ADMIN_H

#include "conf.h"

/* Run `ragrade admin ARGS`: argv[0] is "admin", the subcommand and its
 * options follow; cf is the loaded configuration (--config and --db may
 * replace it). Returns the exit code: 0 ok, 1 failure, 2 usage. */
int admin_main(conf *cf, int argc, char **argv);

#endif
