/* admin.c - `ragrade admin`: the database by hand, safe beside a running
 * server. This file is the command line (options, help, output); maint.c
 * does the writes and checks, export.c the exports and backups. Exit codes:
 * 0 ok, 1 failure (not found, check failed, database error), 2 usage. */
#include "admin.h"
#include "aggregate.h"
#include "conf.h"
#include "clock.h"
#include "db.h"
#include "export.h"
#include "labels.h"
#include "log.h"
#include "maint.h"
#include "report.h"
#include "row.h"
#include "runs.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "admin_int.h"

static const struct option all_opts[] = {
    { "dataset", required_argument, NULL, O_DATASET },
    { "status", required_argument, NULL, O_STATUS },
    { "limit", required_argument, NULL, O_LIMIT }, { "before", required_argument, NULL, O_BEFORE },
    { "json", no_argument, NULL, O_JSON }, { "failed", no_argument, NULL, O_FAILED },
    { "dry-run", no_argument, NULL, O_DRY_RUN }, { "format", required_argument, NULL, O_FORMAT },
    { "with-scores", no_argument, NULL, O_WITH_SCORES }, { "force", no_argument, NULL, O_FORCE },
    { "help", no_argument, NULL, O_HELP },
    { "metric", required_argument, NULL, O_METRIC }, { "run", required_argument, NULL, O_RUN },
    { "history", no_argument, NULL, O_HISTORY },
};

#define N_OPTS (sizeof all_opts / sizeof all_opts[0])

struct cmd {
    const char *name;
    int (*run)(admin *a, const args *g);
    int opts;                     /* O_* bits it accepts (--help always) */
    int min_ops, max_ops;
    const char *synopsis;         /* after "ragrade admin " */
    const char *help;
};

static const char global_help[] =
    "usage: ragrade admin [--config FILE] [--db FILE] COMMAND [options]\n"
    "\n"
    "Work on ragrade's database directly; safe while the server runs.\n"
    "\n"
    "commands:\n"
    "  stats [--dataset D] [--run R] [--json]  counts per status, oldest queued row, metric means\n"
    "  list [--status S] [--dataset D] [--run R] [--limit N] [--before ID] [--json]\n"
    "                                      the newest rows as a table\n"
    "  show ID                             one row with its scores and reasons, as JSON\n"
    "  requeue ID | --failed | --dataset D queue rows again from attempt 0\n"
    "  cancel ID                           fail a queued row ('cancelled by admin')\n"
    "  delete ID                           delete a row that is not running, with its scores\n"
    "  purge --before DATE [--dataset D] [--dry-run]\n"
    "                                      delete done and failed rows created before DATE\n"
    "  export [--format jsonl|csv] [--dataset D] [--status S] [--with-scores]\n"
    "                                      rows to stdout\n"
    "  labels import FILE | export [--format jsonl|csv] [--dataset D] [--history]\n"
    "                                      human labels in or out (JSONL or CSV)\n"
    "  agreement --metric M [--dataset D] [--run R] [--json]\n"
    "                                      how far the judge agrees with the labels\n"
    "  backup [--force] FILE               online copy of the database, then an integrity check\n"
    "  check                               integrity, schema version, journal mode, aggregates\n"
    "  reaggregate                         recompute the summary aggregates from the rows\n"
    "  config [KEY]                        the effective configuration, or one key's value\n"
    "  help [COMMAND]                      this text, or a command's\n"
    "\n"
    "options (before or after the command):\n"
    "  --config FILE   read the configuration from FILE (INI), then the environment\n"
    "  --db FILE       use this database instead of the configured one\n"
    "  --help          help for admin, or for the command\n"
    "\n"
    "Exit status: 0 ok, 1 failure (not found, check failed, database error), 2 usage\n"
    "or configuration error. See ragrade(1).\n";

static const struct cmd *find_cmd(const char *name);

/* ---- helpers ---- */

/* A command's help on stdout (code 0), or its synopsis on stderr. */
static int help(const char *name, int code)
{
    const struct cmd *c = find_cmd(name);

    if (code == ADM_OK)
        printf("usage: ragrade admin [--config FILE] [--db FILE] %s\n\n%s", c->synopsis, c->help);
    else
        fprintf(stderr, "usage: ragrade admin %s\n(ragrade admin %s --help for more)\n",
                c->synopsis, name);
    return code;
}

int admin_fail(const admin *a, const char *fmt, const char *arg)
{
    fprintf(stderr, "ragrade admin %s: ", a->name);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return ADM_FAIL;
}

int admin_bad_usage(const admin *a, const char *fmt, const char *arg)
{
    admin_fail(a, fmt, arg);
    return help(a->name, ADM_USAGE);
}

/* A database error in words, with SQLite's own message. */
int admin_sql_fail(const admin *a, const char *what)
{
    fprintf(stderr, "ragrade admin %s: %s: %s\n", a->name, what, db_errmsg(a->d));
    return ADM_FAIL;
}

/* A positive whole number (an evaluation id, a limit); -1 if s is not one. */
static int64_t parse_id(const char *s)
{
    char *end;
    long long v;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    return errno || *end || v <= 0 ? -1 : v;
}

static int valid_status(const char *s)
{
    return row_status_of(s) >= 0;
}

/* "3d 4h", "2h 5m", "5m 3s", "12s". */
void admin_fmt_age(int64_t ms, char *buf, size_t len)
{
    long long s = ms > 0 ? ms / 1000 : 0;

    if (s >= 86400)
        snprintf(buf, len, "%lldd %lldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(buf, len, "%lldh %lldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(buf, len, "%lldm %llds", s / 60, s % 60);
    else
        snprintf(buf, len, "%llds", s);
}

/* At most width code points of s (NULL: "-") on one line, ending in "..."
 * when cut. buf must hold 4 * width + 1 bytes. */
static void clip(const char *s, size_t width, char *buf, size_t len)
{
    size_t n = 0, cps = 0, cut = 0;

    for (s = s ? s : "-"; *s && n + 1 < len; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80 && ++cps > width) {
            n = cut;
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        if (((unsigned char)*s & 0xc0) != 0x80 && cps == width - 2)
            cut = n;              /* where "..." goes if the text is too long */
        buf[n++] = (unsigned char)*s < 0x20 ? ' ' : *s;
    }
    buf[n] = '\0';
}

void admin_print_json(json_object *o)
{
    puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                        JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Load the configuration exactly as `ragrade serve` does (defaults, the
 * file, the environment), apply --db, and open the database as need says.
 * ADM_OK, or an exit code after a message. */
int admin_setup(admin *a, enum need need)
{
    char err[512];
    struct stat sb;
    int64_t version;
    int rc = ADM_USAGE;

    conf_defaults(a->cf);
    if (conf_load(a->cf, a->config_path, err, sizeof err) < 0) {
        fprintf(stderr, "ragrade admin: %s\n", err);
        goto out;
    }
    log_set_level(a->cf->log_level);
    if (a->db_path && snprintf(a->cf->db_path, sizeof a->cf->db_path, "%s", a->db_path) >=
                      (int)sizeof a->cf->db_path) {
        fprintf(stderr, "ragrade admin: --db: the path is longer than %zu bytes\n",
                sizeof a->cf->db_path - 1);
        goto out;
    }
    rc = ADM_OK;
    if (need == NEED_CONF)
        goto out;
    rc = ADM_FAIL;
    if (stat(a->cf->db_path, &sb) < 0) {
        fprintf(stderr, "ragrade admin: %s: %s (run 'ragrade migrate' to create the database, "
                "or name one with --db FILE)\n", a->cf->db_path, strerror(errno));
        goto out;
    }
    if (!(a->d = db_open(a->cf->db_path, a->cf->busy_timeout_ms,
                         need == NEED_WRITE ? 0 : DB_READONLY, err, sizeof err))) {
        fprintf(stderr, "ragrade admin: %s\n", err);
        goto out;
    }
    if (need == NEED_READ && (version = db_schema_version(a->d)) != DB_SCHEMA_VERSION) {
        if (version < 0)
            fprintf(stderr, "ragrade admin: %s: %s\n", a->cf->db_path, db_errmsg(a->d));
        else
            fprintf(stderr, "ragrade admin: %s has schema version %lld; this ragrade needs %d "
                    "(run 'ragrade migrate')\n", a->cf->db_path, (long long)version,
                    DB_SCHEMA_VERSION);
        goto out;
    }
    rc = ADM_OK;
out:
    return rc;
}

/* Parse a subcommand's options and operands into g, checking the values
 * that need no database. ADM_OK to run it, -1 after printing its help (exit
 * 0), or an exit code after a message. */
static int parse_args(const admin *a, const struct cmd *c, int argc, char **argv, args *g)
{
    struct option opts[N_OPTS + 1];
    size_t i, n = 0;
    int o, rc = ADM_USAGE;

    memset(g, 0, sizeof *g);
    memset(opts, 0, sizeof opts);
    g->limit = 20;
    for (i = 0; i < N_OPTS; i++)
        if ((c->opts | O_HELP) & all_opts[i].val)
            opts[n++] = all_opts[i];
    optind = 0;                   /* GNU getopt: start over */
    opterr = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (o == O_DATASET) {
            g->dataset = optarg;
        } else if (o == O_STATUS && !valid_status(optarg)) {
            rc = admin_bad_usage(a, "--status: want queued, running, done or failed, not '%s'", optarg);
            goto out;
        } else if (o == O_STATUS) {
            g->status = optarg;
        } else if (o == O_LIMIT && ((g->limit = parse_id(optarg)) < 0 || g->limit > 1000000)) {
            rc = admin_bad_usage(a, "--limit: want a whole number from 1 to 1000000, not '%s'", optarg);
            goto out;
        } else if (o == O_BEFORE) {
            g->before = optarg;
        } else if (o == O_FORMAT && strcmp(optarg, "jsonl") && strcmp(optarg, "csv")) {
            rc = admin_bad_usage(a, "--format: want jsonl or csv, not '%s'", optarg);
            goto out;
        } else if (o == O_FORMAT) {
            g->format = optarg;
        } else if (o == O_METRIC || o == O_RUN) {
            *(o == O_METRIC ? &g->metric : &g->run) = optarg;
        } else if (o == 'h' || o == O_HELP) {
            rc = help(c->name, ADM_OK) - 1;
            goto out;
        } else if (o == '?' || o == ':') {
            rc = help(c->name, ADM_USAGE);
            goto out;
        } else if (o != O_LIMIT) {
            g->flags |= o;
        }
    }
    g->ops = argv + optind;
    g->n_ops = argc - optind;
    if (g->n_ops > c->max_ops)
        rc = admin_bad_usage(a, "unexpected argument '%s'", g->ops[c->max_ops]);
    else if (g->n_ops < c->min_ops)
        rc = admin_bad_usage(a, "%s", "an operand is missing");
    else
        rc = ADM_OK;
out:
    return rc;
}

/* The evaluation id operand; -1 after a usage message. */
static int64_t id_operand(const admin *a, const args *g)
{
    int64_t id = parse_id(g->ops[0]);

    if (id < 0)
        admin_bad_usage(a, "'%s' is not an evaluation id (a positive whole number)", g->ops[0]);
    return id;
}

/* ---- stats, list, show ---- */

static int cmd_list(admin *a, const args *g)
{
    json_object *page = NULL, *items, *next, *v;
    int64_t before = 0;
    char created[20], ds[4 * 16 + 1], run[4 * 12 + 1], q[4 * 48 + 1];
    const char *s;
    int rc;
    size_t i;

    if (g->before && (before = parse_id(g->before)) < 0) {
        rc = admin_bad_usage(a, "--before: want an evaluation id (a positive whole number), not '%s'",
                       g->before);
        goto out;
    }
    if ((rc = admin_setup(a, NEED_READ)) != ADM_OK)
        goto out;
    if (report_list(a->d, g->status, g->dataset, g->run, before, (int)g->limit, &page) < 0) {
        rc = admin_sql_fail(a, "listing evaluations");
        goto out;
    }
    if (g->flags & O_JSON) {
        admin_print_json(page);
        goto out;
    }
    json_object_object_get_ex(page, "items", &items);
    printf("%8s  %-7s  %3s  %-19s  %-16s  %-12s  %s\n", "ID", "STATUS", "ATT", "CREATED (UTC)",
           "DATASET", "RUN", "QUESTION");
    for (i = 0; i < json_object_array_length(items); i++) {
        json_object *it = json_object_array_get_idx(items, i);

        json_object_object_get_ex(it, "created_at", &v);
        snprintf(created, sizeof created, "%s", (s = json_object_get_string(v)) ? s : "");
        if (created[10] == 'T')
            created[10] = ' ';
        json_object_object_get_ex(it, "dataset", &v);
        clip(json_object_get_string(v), 16, ds, sizeof ds);
        json_object_object_get_ex(it, "run", &v);
        clip(json_object_get_string(v), 12, run, sizeof run);
        json_object_object_get_ex(it, "question", &v);
        clip(json_object_get_string(v), 48, q, sizeof q);
        json_object_object_get_ex(it, "id", &v);
        printf("%8lld  ", (long long)json_object_get_int64(v));
        json_object_object_get_ex(it, "status", &v);
        printf("%-7s  ", json_object_get_string(v));
        json_object_object_get_ex(it, "attempts", &v);
        printf("%3d  %-19s  %-16s  %-12s  %s\n", json_object_get_int(v), created, ds, run, q);
    }
    if (json_object_object_get_ex(page, "next_before", &next) && next)
        fprintf(stderr, "(more rows: ragrade admin list --before %lld)\n",
                (long long)json_object_get_int64(next));
out:
    json_object_put(page);
    return rc;
}

static int cmd_show(admin *a, const args *g)
{
    json_object *o = NULL;
    int64_t id;
    int rc = ADM_USAGE;

    if ((id = id_operand(a, g)) < 0 || (rc = admin_setup(a, NEED_READ)) != ADM_OK)
        goto out;
    rc = report_eval(a->d, id, &o);
    if (rc == -ENOENT) {
        rc = admin_fail(a, "no evaluation has id %s", g->ops[0]);
    } else if (rc < 0) {
        rc = admin_sql_fail(a, "reading the evaluation");
    } else {
        admin_print_json(o);
        rc = ADM_OK;
    }
out:
    json_object_put(o);
    return rc;
}

/* ---- requeue, cancel, purge ---- */

/* Why a one-row write left the row alone: its status. */
static int refused(const admin *a, const char *id_text, const char *status, const char *verb)
{
    if (!strcmp(status, row_status_names[ROW_RUNNING]))
        fprintf(stderr, "ragrade admin %s: evaluation %s is running: a worker holds it, so it "
                "cannot be %s until it finishes\n", a->name, id_text, verb);
    else
        fprintf(stderr, "ragrade admin %s: evaluation %s is already %s; only a queued evaluation "
                "can be %s\n", a->name, id_text, status, verb);
    return ADM_FAIL;
}

/* The outcome of a one-row write (maint_retry, maint_cancel, maint_delete)
 * as a message and an exit code. */
static int one_row(const admin *a, int e, int64_t id, const char *id_text, const char *status,
                   const char *err, const char *verb)
{
    if (e == -ENOENT)
        return admin_fail(a, "no evaluation has id %s", id_text);
    if (e == -EPERM)
        return refused(a, id_text, status, verb);
    if (e < 0)
        return admin_fail(a, "%s", err);
    printf("%s evaluation %lld\n", verb, (long long)id);
    return ADM_OK;
}

static int cmd_requeue(admin *a, const args *g)
{
    int failed = !!(g->flags & O_FAILED), rc = ADM_USAGE, e;
    char err[512], status[16];
    int64_t id = 0, n;

    if (g->n_ops && (failed || g->dataset)) {
        rc = admin_bad_usage(a, "%s", "give an evaluation id, or --failed and/or --dataset D, not both");
        goto out;
    }
    if (!g->n_ops && !failed && !g->dataset) {
        rc = admin_bad_usage(a, "%s", "which rows? give an evaluation id, --failed or --dataset D");
        goto out;
    }
    if ((g->n_ops && (id = id_operand(a, g)) < 0) || (rc = admin_setup(a, NEED_WRITE)) != ADM_OK)
        goto out;
    if (id) {                     /* the API's retry does the same (maint_retry) */
        e = maint_retry(a->d, id, status, err, sizeof err);
        rc = one_row(a, e, id, g->ops[0], status, err, "requeued");
    } else if (maint_requeue(a->d, 0, failed, g->dataset, &n, err, sizeof err) < 0) {
        rc = admin_fail(a, "%s", err);
    } else {
        printf("requeued %lld evaluation%s\n", (long long)n, n == 1 ? "" : "s");
    }
out:
    return rc;
}

static int cmd_cancel(admin *a, const args *g)
{
    char err[512], status[16];
    int64_t id;
    int rc = ADM_USAGE, e;

    if ((id = id_operand(a, g)) < 0 || (rc = admin_setup(a, NEED_WRITE)) != ADM_OK)
        goto out;
    e = maint_cancel(a->d, id, status, err, sizeof err);
    rc = one_row(a, e, id, g->ops[0], status, err, "cancelled");
out:
    return rc;
}

static int cmd_delete(admin *a, const args *g)
{
    char err[512], status[16];
    int64_t id;
    int rc = ADM_USAGE, e;

    if ((id = id_operand(a, g)) < 0 || (rc = admin_setup(a, NEED_WRITE)) != ADM_OK)
        goto out;
    e = maint_delete(a->d, id, status, err, sizeof err);   /* as DELETE /api/eval/{id} */
    rc = one_row(a, e, id, g->ops[0], status, err, "deleted");
out:
    return rc;
}

static int cmd_purge(admin *a, const args *g)
{
    int dry = !!(g->flags & O_DRY_RUN), rc = ADM_USAGE;
    char cut[32], err[512];
    int64_t ms, n;

    if (!g->before) {
        rc = admin_bad_usage(a, "%s", "--before DATE is required (nothing is purged without a date)");
        goto out;
    }
    if (clock_parse_iso(g->before, &ms) < 0) {
        rc = admin_bad_usage(a, "--before: want an ISO 8601 date or date and time (2026-01-31, "
                       "2026-01-31T12:00:00Z), not '%s'", g->before);
        goto out;
    }
    clock_iso(ms, cut, sizeof cut);
    if ((rc = admin_setup(a, NEED_WRITE)) != ADM_OK)
        goto out;
    if (maint_purge(a->d, cut, g->dataset, dry, &n, err, sizeof err) < 0)
        rc = admin_fail(a, "%s", err);
    else
        printf("%s %lld evaluation%s created before %s\n", dry ? "would purge" : "purged",
               (long long)n, n == 1 ? "" : "s", cut);
out:
    return rc;
}

/* ---- export, backup, check ---- */

static int cmd_export(admin *a, const args *g)
{
    export_opts o = { EXPORT_JSONL, g->dataset, g->status, !!(g->flags & O_WITH_SCORES) };
    char err[512];
    size_t n;
    int rc = ADM_USAGE;

    if (g->format && !strcmp(g->format, "csv"))
        o.format = EXPORT_CSV;
    if (o.with_scores && o.format == EXPORT_CSV)
        rc = admin_bad_usage(a, "%s", "--with-scores is for JSONL; the CSV always has the scores");
    else if ((rc = admin_setup(a, NEED_READ)) == ADM_OK &&
             export_rows(a->d, stdout, &o, &n, err, sizeof err) < 0)
        rc = admin_fail(a, "%s", err);
    return rc;
}

static int cmd_backup(admin *a, const args *g)
{
    const char *path = g->ops[0];
    char err[512];
    db *copy = NULL;
    int rc, pages;

    if ((rc = admin_setup(a, NEED_READ)) != ADM_OK)
        goto out;
    if (export_backup(a->d, path, !!(g->flags & O_FORCE), &pages, err, sizeof err) < 0) {
        rc = admin_fail(a, "%s", err);
        goto out;
    }
    printf("copied %d pages to %s\n", pages, path);
    if (!(copy = db_open(path, a->cf->busy_timeout_ms, DB_READONLY, err, sizeof err))) {
        rc = admin_fail(a, "%s", err);
        goto out;
    }
    if (maint_pragma_check(copy, "PRAGMA integrity_check", "integrity_check", stdout) != 1)
        rc = admin_fail(a, "the copy %s failed its integrity check", path);
out:
    db_close(copy);
    return rc;
}

static int cmd_check(admin *a, const args *g)
{
    int rc;

    if ((rc = admin_setup(a, NEED_RAW)) == ADM_OK) {
        printf("%-16s %s\n", "database", a->cf->db_path);
        rc = maint_check(a->d, stdout) == 1 ? ADM_OK : ADM_FAIL;
        if (aggregate_check(a->d, stdout) != 1)
            rc = ADM_FAIL;
    }
    return rc;
}

/* ---- labels, agreement ---- */

/* The effective configuration, from conf.c's own table of keys. Of the
 * API key only the file's path is shown, never what it holds; tokens are
 * kept as hashes. */
static int cmd_config(admin *a, const args *g)
{
    char name[96], value[CONF_PATH_MAX * CONF_MAX_URLS + 64];
    size_t i;
    int rc;

    if ((rc = admin_setup(a, NEED_CONF)) != ADM_OK)
        goto out;
    for (i = 0; conf_key(a->cf, i, name, sizeof name, value, sizeof value) == 0; i++) {
        if (!g->n_ops) {
            printf("%s = %s\n", name, value);
        } else if (!strcasecmp(g->ops[0], name)) {
            printf("%s\n", value);
            goto out;
        }
    }
    if (g->n_ops)
        rc = admin_bad_usage(a, "no configuration key is called '%s' ('ragrade admin config' lists them "
                       "as section.key)", g->ops[0]);
out:
    return rc;
}

/* ---- dispatch ---- */

static int cmd_help(admin *a, const args *g)
{
    int rc = ADM_OK;

    if (!g->n_ops)
        fputs(global_help, stdout);
    else if (find_cmd(g->ops[0]))
        rc = help(g->ops[0], ADM_OK);
    else
        rc = admin_bad_usage(a, "no admin command is called '%s'", g->ops[0]);
    return rc;
}

static const struct cmd cmds[] = {
    { "stats", cmd_stats, O_DATASET | O_RUN | O_JSON, 0, 0, "stats [--dataset D] [--run R] [--json]",
      "Counts per status, the oldest queued row and its age, tokens used, and per metric\n"
      "(over done rows) n, scored, nulls, mean with its 95 % interval, min and max.\n\n"
      "  --dataset D   only rows of dataset D\n"
      "  --run R       only rows of run R\n"
      "  --json        the summary as JSON (as GET /api/summary, plus oldest_queued)\n" },
    { "list", cmd_list, O_STATUS | O_DATASET | O_RUN | O_LIMIT | O_BEFORE | O_JSON, 0, 0,
      "list [--status S] [--dataset D] [--run R] [--limit N] [--before ID] [--json]",
      "The newest rows first as a table: id, status, attempts, created, dataset, run, question.\n\n"
      "  --status S    queued, running, done or failed\n"
      "  --dataset D   only rows of dataset D\n"
      "  --run R       only rows of run R\n"
      "  --limit N     at most N rows (default 20)\n"
      "  --before ID   rows with ids below ID (the next page; printed on stderr when more)\n"
      "  --json        the page as JSON, as GET /api/eval returns it\n" },
    { "show", cmd_show, 0, 1, 1, "show ID",
      "One row as pretty JSON: inputs, status, timings, tokens, scores and reasons.\n"
      "Exit status 1 when no row has this id.\n" },
    { "requeue", cmd_requeue, O_FAILED | O_DATASET, 0, 1, "requeue ID | --failed | --dataset D",
      "Put rows back in the queue with attempts 0, no backoff and no last_error; their\n"
      "previous scores are removed. Running rows are never touched.\n\n"
      "  ID            one row, queued, done or failed (a running row is refused: exit 1)\n"
      "  --failed      every failed row\n"
      "  --dataset D   every done and failed row of dataset D (with --failed: failed only)\n" },
    { "cancel", cmd_cancel, 0, 1, 1, "cancel ID",
      "Fail a queued row with last_error 'cancelled by admin'. A running, done or failed\n"
      "row is refused with exit status 1.\n" },
    { "delete", cmd_delete, 0, 1, 1, "delete ID",
      "Delete a queued, done or failed row with its scores, as DELETE /api/eval/{id}\n"
      "does. A running row is refused with exit status 1.\n" },
    { "purge", cmd_purge, O_BEFORE | O_DATASET | O_DRY_RUN, 0, 0,
      "purge --before DATE [--dataset D] [--dry-run]",
      "Delete done and failed rows created before DATE, with their scores, in batches.\n"
      "Queued and running rows are kept. Prints how many rows went.\n\n"
      "  --before DATE  ISO 8601 date or date and time, UTC unless it says otherwise:\n"
      "                 2026-01-31, 2026-01-31T12:00:00Z, 2026-01-31T14:00+02:00\n"
      "  --dataset D    only rows of dataset D\n"
      "  --dry-run      count the rows, delete nothing\n" },
    { "export", cmd_export, O_FORMAT | O_DATASET | O_STATUS | O_WITH_SCORES, 0, 0,
      "export [--format jsonl|csv] [--dataset D] [--status S] [--with-scores]",
      "Every matching row to stdout, oldest first, from one consistent snapshot.\n\n"
      "  --format jsonl  (default) one JSON object per line with id, question, answer,\n"
      "                  contexts, ground_truth, reference_contexts, metrics, dataset:\n"
      "                  POST /api/eval and 'ragrade eval' accept these lines back\n"
      "  --format csv    RFC 4180 (CRLF, quoted when needed) with the row's columns and one\n"
      "                  column per metric score (empty: no score)\n"
      "  --dataset D     only rows of dataset D\n"
      "  --status S      only rows in status S\n"
      "  --with-scores   JSONL: add status, scores and human labels ({metric: [{labeler,\n"
      "                  value, sampled}]}); such lines are NOT accepted back\n" },
    { "labels", cmd_labels, O_FORMAT | O_DATASET | O_HISTORY, 1, 2,
      "labels import FILE | labels export [--format jsonl|csv] [--dataset D] [--history]",
      "import FILE (- for stdin): human labels from JSONL (objects with evaluation_id, metric,\n"
      "value, labeler, and optionally note, sampled) or CSV (a header naming those columns),\n"
      "checked against each metric's scale; all or nothing. A label replaces the labeler's\n"
      "current one for the row's metric, which is kept as history.\n"
      "export: the current labels (--history: every label) as JSONL or CSV that import reads\n"
      "back, oldest first.\n" },
    { "agreement", cmd_agreement, O_METRIC | O_DATASET | O_RUN | O_JSON, 0, 0,
      "agreement --metric M [--dataset D] [--run R] [--json]",
      "How far the judge agrees with the human labels over rows with both (as GET\n"
      "/api/agreement): for binary metrics accuracy, Cohen's kappa with its 95 % interval and\n"
      "the confusion matrix [judge][human]; for scores Spearman's rho, Kendall's tau-b and the\n"
      "mean absolute error; with 30 or more sampled labels the judge's corrected mean.\n" },
    { "backup", cmd_backup, O_FORCE, 1, 1, "backup [--force] FILE",
      "Copy the database to FILE with SQLite's online backup (the server keeps running),\n"
      "then run an integrity check on the copy. FILE must not exist unless --force.\n" },
    { "reaggregate", cmd_reaggregate, 0, 0, 0, "reaggregate",
      "Recompute the summary aggregates (aggregate_datasets, aggregate_scores) from the\n"
      "rows, in one write transaction, then check them. Needed only after writes from\n"
      "outside ragrade that bypassed its triggers' connection settings; 'check' says.\n" },
    { "check", cmd_check, 0, 0, 0, "check",
      "PRAGMA integrity_check, quick_check and foreign_key_check, the schema version\n"
      "against this ragrade's, and the journal mode (wal). Exit 0 when all are ok, 1 if not.\n" },
    { "config", cmd_config, 0, 0, 1, "config [KEY]",
      "The effective configuration (defaults, --config FILE, then RAGRADE_* variables) as\n"
      "section.key = value lines, or only the value of KEY (e.g. limits.max_body). Sizes are\n"
      "in bytes. The API key is never printed, only judge.api_key_file's path.\n" },
    { "help", cmd_help, 0, 0, 1, "help [COMMAND]",
      "This list of commands, or one command's help.\n" },
};

static const struct cmd *find_cmd(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmds[i].name, name))
            return &cmds[i];
    return NULL;
}

/* --config and --db may come anywhere before a "--"; everything else, with
 * the subcommand's name first, goes to the subcommand's parser. */
int admin_main(conf *cf, int argc, char **argv)
{
    admin a = { cf, NULL, NULL, NULL, NULL };
    const struct cmd *c = NULL;
    char **sub = calloc((size_t)argc + 2, sizeof *sub), name[64];
    int rc = ADM_USAGE, n = 1, i, want_help = 0, rest = 0;
    args g;

    if (!sub) {
        fprintf(stderr, "ragrade admin: out of memory\n");
        rc = ADM_FAIL;
        goto out;
    }
    for (i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char **slot = rest ? NULL
            : !strcmp(s, "--config") || !strcmp(s, "-c") || !strncmp(s, "--config=", 9)
            ? &a.config_path
            : !strcmp(s, "--db") || !strncmp(s, "--db=", 5) ? &a.db_path : NULL;

        if (slot && s[1] == '-' && strchr(s, '=')) {
            *slot = strchr(s, '=') + 1;
        } else if (slot && i + 1 < argc) {
            *slot = argv[++i];
        } else if (slot) {
            fprintf(stderr, "ragrade admin: %s needs a value\n", s);
            goto out;
        } else if (c) {
            rest |= !strcmp(s, "--");
            sub[n++] = argv[i];
        } else if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            want_help = 1;
        } else if (*s == '-') {
            fprintf(stderr, "ragrade admin: unknown option '%s' before the command (ragrade admin "
                    "--help lists the commands and options)\n", s);
            goto out;
        } else if (!(c = find_cmd(s))) {
            fprintf(stderr, "ragrade admin: no admin command is called '%s' (ragrade admin --help "
                    "lists them)\n", s);
            goto out;
        }
    }
    if (!c) {
        fputs(global_help, want_help ? stdout : stderr);
        rc = want_help ? ADM_OK : ADM_USAGE;
        goto out;
    }
    if (want_help)
        sub[n++] = "--help";
    snprintf(name, sizeof name, "ragrade admin %s", c->name);
    sub[0] = name;
    a.name = c->name;
    if ((rc = parse_args(&a, c, n, sub, &g)) == ADM_OK)
        rc = c->run(&a, &g);
    else if (rc < 0)
        rc = ADM_OK;              /* --help */
    if (fflush(stdout) != 0 && rc == ADM_OK) {
        fprintf(stderr, "ragrade admin %s: writing the output: %s\n", c->name, strerror(errno));
        rc = ADM_FAIL;
    }
out:
    db_close(a.d);
    free(sub);
    return rc;
}
