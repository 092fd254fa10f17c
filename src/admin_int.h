/* admin_int.h - private to admin.c and admin_data.c: a subcommand's
 * parsed arguments, the admin context, and the shared helpers. */
#ifndef RAGRADE_ADMIN_INT_H
#define RAGRADE_ADMIN_INT_H

#include "conf.h"
#include "db.h"

#include <json-c/json.h>
#include <stdint.h>

enum { ADM_OK = 0, ADM_FAIL = 1, ADM_USAGE = 2 };

/* What a subcommand opens: nothing (the configuration only), the database
 * read-only as it is (check), read-only at this ragrade's schema, or
 * writable (and migrated, by db_open). */
enum need { NEED_CONF, NEED_RAW, NEED_READ, NEED_WRITE };

/* Every option of every subcommand; a command accepts the bits in its mask. */
enum { O_DATASET = 1, O_STATUS = 2, O_LIMIT = 4, O_BEFORE = 8, O_JSON = 16, O_FAILED = 32,
       O_DRY_RUN = 64, O_FORMAT = 128, O_WITH_SCORES = 256, O_FORCE = 512, O_HELP = 1024,
       O_METRIC = 2048, O_RUN = 4096, O_HISTORY = 8192 };


/* A subcommand's parsed command line; strings point into argv. */
typedef struct args {
    const char *dataset, *status, *before, *format;
    const char *metric, *run;     /* labels, agreement */
    int64_t limit;
    int flags;                    /* O_JSON, O_FAILED, O_DRY_RUN, O_WITH_SCORES, O_FORCE */
    char **ops;                   /* operands */
    int n_ops;
} args;

typedef struct admin {
    conf *cf;
    const char *config_path;      /* --config, or NULL */
    const char *db_path;          /* --db, or NULL for the configuration's */
    const char *name;             /* the subcommand */
    db *d;                        /* opened by setup(); closed by admin_main */
} admin;

int admin_fail(const admin *a, const char *fmt, const char *arg);
int admin_bad_usage(const admin *a, const char *fmt, const char *arg);
int admin_sql_fail(const admin *a, const char *what);
int admin_setup(admin *a, enum need need);
void admin_print_json(json_object *o);

void admin_fmt_age(int64_t ms, char *buf, size_t len);
int cmd_stats(admin *a, const args *g);
int cmd_labels(admin *a, const args *g);
int cmd_agreement(admin *a, const args *g);
int cmd_reaggregate(admin *a, const args *g);

#endif
