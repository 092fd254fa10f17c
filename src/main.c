/* main.c - the ragrade command: serve (the pool), eval (offline scoring),
 * admin (the database by hand), migrate, version. */
#include "config.h"
#include "admin.h"
#include "conf.h"
#include "db.h"
#include "gate.h"
#include "log.h"
#include "offline.h"
#include "master.h"

#include <errno.h>
#include <malloc.h>
#include <json-c/json.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ragrade COMMAND [--config FILE] [options]\n"
            "\n"
            "commands:\n"
            "  serve              run the FastCGI pool in the foreground (behind nginx)\n"
            "  eval FILE|-        score JSONL rows without a server; one JSON line per row\n"
            "                     on stdout, a summary on stderr (--no-cache: no reply cache)\n"
            "  migrate            create the database or bring its schema up to date\n"
            "  admin SUBCOMMAND   work on the database directly (ragrade admin --help)\n"
            "  compare B.jsonl C.jsonl  paired comparison of two `ragrade eval` outputs\n"
            "  gate B.jsonl C.jsonl     the same as a CI gate: exit 0 pass, 1 regression, 2 unknown\n"
            "  version            print the version\n"
            "\n"
            "The configuration comes from --config FILE (INI), then RAGRADE_<SECTION>_<KEY>\n"
            "environment variables; RAGRADE_DATA names the data directory. See ragrade(1).\n");
}

/* Load --config (if given) and the environment. Returns argv index of the
 * first operand, or -1 after printing an error. */
static int load(conf *cf, int argc, char **argv, const char **path, int *no_cache)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "no-cache", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char err[512];
    int c;

    *path = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *path = optarg;
            break;
        case 'n':
            if (no_cache)
                *no_cache = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    conf_defaults(cf);
    if (conf_load(cf, *path, err, sizeof err) < 0) {
        fprintf(stderr, "ragrade: %s\n", err);
        return -1;
    }
    log_set_level(cf->log_level);
    return optind;
}

static int ensure_data_dir(const conf *cf)
{
    if (mkdir(cf->data_dir, 0750) < 0 && errno != EEXIST) {
        fprintf(stderr, "ragrade: cannot create %s: %s\n", cf->data_dir, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static conf cf;
    const char *cmd, *path;
    char err[512];
    int first, no_cache = 0, code = 2;
    db *d;
    FILE *in;

    /* SQLite's trigger programs (the aggregates of sql/005) take and give
     * back more than glibc's trim threshold at every row they touch, and
     * glibc then shrinks the heap with brk each time: a purge of 20,000
     * rows made 65,000 brk calls and took 77 s instead of 1.1 s. Keep up
     * to 32 MiB of freed memory at the top of the heap instead. */
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* Scores print as 0.8, not 0.80000000000000004: 15 significant digits
     * are exact for every double we compute. Set once, before any thread. */
    json_c_set_serialization_double_format("%.15g", JSON_C_OPTION_GLOBAL);
    cmd = argv[1];
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("ragrade %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "admin"))
        return admin_main(&cf, argc - 1, argv + 1);
    if (!strcmp(cmd, "compare"))
        return gate_compare_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "gate"))
        return gate_main(argc - 1, argv + 1);
    if ((first = load(&cf, argc - 1, argv + 1, &path, &no_cache)) < 0)
        return 2;
    first++;                      /* index in argv */
    if (db_configure(cf.mmap_size) < 0)
        fprintf(stderr, "ragrade: db.mmap_size not applied (SQLite already initialised)\n");
    if (!strcmp(cmd, "serve")) {
        if (ensure_data_dir(&cf) < 0)
            return 1;
        code = master_run(path, &cf);
    } else if (!strcmp(cmd, "migrate")) {
        if (ensure_data_dir(&cf) < 0)
            return 1;
        if (!(d = db_open(cf.db_path, cf.busy_timeout_ms, 0, err, sizeof err))) {
            fprintf(stderr, "ragrade: %s\n", err);
            return 1;
        }
        db_close(d);
        printf("%s: schema version %d\n", cf.db_path, DB_SCHEMA_VERSION);
        code = 0;
    } else if (!strcmp(cmd, "eval")) {
        if (first != argc - 1) {
            fprintf(stderr, "usage: ragrade eval [--config FILE] [--no-cache] FILE.jsonl|-\n");
            return 2;
        }
        if (no_cache)
            cf.cache = 0;
        in = strcmp(argv[first], "-") ? fopen(argv[first], "r") : stdin;
        if (!in) {
            fprintf(stderr, "ragrade eval: %s: %s\n", argv[first], strerror(errno));
            return 2;
        }
        code = offline_eval(&cf, path, in, stdout, stderr);
        if (in != stdin)
            fclose(in);
    } else {
        fprintf(stderr, "ragrade: unknown command '%s'\n", cmd);
        usage(stderr);
    }
    return code;
}
