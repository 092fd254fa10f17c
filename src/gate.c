/* gate.c - `ragrade compare` and `ragrade gate` over the JSONL result files
 * of `ragrade eval`: read both runs, compare them (compare.c), print a
 * table or JSON, and for the gate decide the exit code and write the JUnit
 * and markdown reports CI systems show. */
#include "gate.h"
#include "db.h"
#include "runs.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (64L << 20)
#define MAX_DROPS COMPARE_MAX_METRICS

/* ---- reading `ragrade eval` output ---- */

static const char *str_field(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* One output line into r; -EINVAL with err filled when it is not one. */
static int read_line(compare_run *r, json_object *o, long lineno, const char *name, char *err,
                     size_t errlen)
{
    json_object *v, *scores, *versions = NULL, *ver;
    char key[128];
    int64_t id = lineno;
    long at;
    int rc;

    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "%s:%ld: not a JSON object", name, lineno);
        return -EINVAL;
    }
    if (json_object_object_get_ex(o, "error", &v))
        return 0;                 /* a row that failed: nothing to compare */
    if (json_object_object_get_ex(o, "line", &v) && json_object_is_type(v, json_type_int))
        id = json_object_get_int64(v);
    if (!json_object_object_get_ex(o, "scores", &scores) || !json_object_is_type(scores, json_type_object)) {
        snprintf(err, errlen, "%s:%ld: no \"scores\" object: is this `ragrade eval` output?", name, lineno);
        return -EINVAL;
    }
    if ((at = compare_run_add_row(r, str_field(o, "item"), str_field(o, "question"), id)) < 0)
        return (int)at;
    json_object_object_get_ex(o, "versions", &versions);
    json_object_object_foreach(scores, metric, val) {
        double x = NAN;

        /* A criterion's versions are compared apart: "name@version". */
        snprintf(key, sizeof key, "%.63s", metric);
        if (versions && json_object_object_get_ex(versions, metric, &ver) &&
            json_object_is_type(ver, json_type_string))
            snprintf(key, sizeof key, "%.63s@%.32s", metric, json_object_get_string(ver));

        if (val && !json_object_is_type(val, json_type_double) && !json_object_is_type(val, json_type_int)) {
            snprintf(err, errlen, "%s:%ld: scores.%.64s is not a number or null", name, lineno, metric);
            return -EINVAL;
        }
        if (val)
            x = json_object_get_double(val);
        if ((rc = compare_run_set(r, (size_t)at, key, x)) < 0) {
            snprintf(err, errlen, "%s:%ld: too many metrics, or a metric name too long", name, lineno);
            return rc;
        }
    }
    return 0;
}

int gate_read_jsonl(compare_run *r, FILE *in, const char *name, char *err, size_t errlen)
{
    json_tokener *tok = json_tokener_new();
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = -ENOMEM;

    if (!tok)
        goto out;
    rc = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        json_object *o;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        json_tokener_reset(tok);
        o = len > MAX_LINE ? NULL : json_tokener_parse_ex(tok, line, (int)len);
        if (o && json_tokener_get_parse_end(tok) < (size_t)len) {
            json_object_put(o);
            o = NULL;
        }
        if (!o) {
            snprintf(err, errlen, "%s:%ld: %s", name, lineno, len > MAX_LINE ? "line too long" : "not valid JSON");
            rc = -EINVAL;
            goto out;
        }
        rc = read_line(r, o, lineno, name, err, errlen);
        json_object_put(o);
        if (rc < 0)
            goto out;
    }
    if (ferror(in)) {
        rc = -EIO;
        snprintf(err, errlen, "%s: read error", name);
    }
out:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", name);
    free(line);
    if (tok)
        json_tokener_free(tok);
    return rc;
}

static int load_file(const char *path, compare_run *r, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    int rc;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return GATE_NOINPUT;
    }
    free(r->name);
    r->name = strdup(path);
    rc = gate_read_jsonl(r, f, path, err, errlen);
    if (f != stdin)
        fclose(f);
    return rc < 0 ? GATE_DATAERR : 0;
}

/* Both runs from the database, read-only (the server may be running). */
static int load_db(const gate_source *s, compare_run *base, compare_run *cand, char *err,
                   size_t errlen)
{
    const char *bds = s->baseline_dataset ? s->baseline_dataset : s->dataset;
    const char *cds = s->candidate_dataset ? s->candidate_dataset : s->dataset;
    char why[512];
    db *d;
    int rc;

    if (!(d = db_open(s->db, 5000, DB_READONLY, why, sizeof why))) {
        snprintf(err, errlen, "%s", why);
        return GATE_NOINPUT;
    }
    if ((rc = runs_load(d, bds, s->baseline, base, why, sizeof why)) == 0)
        rc = runs_load(d, cds, s->candidate, cand, why, sizeof why);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s%s", s->db, why, rc == -EIO ? " (is its schema current? ragrade migrate)" : "");
    db_close(d);
    return rc == -ENOENT || rc == -ESRCH ? GATE_USAGE : rc < 0 ? GATE_DATAERR : 0;
}

int gate_load(const gate_source *s, compare_run *base, compare_run *cand, char *err, size_t errlen)
{
    int rc;

    compare_run_init(base, NULL);
    compare_run_init(cand, NULL);
    if (s->db)
        return load_db(s, base, cand, err, errlen);
    if (!strcmp(s->base_file, "-") && !strcmp(s->cand_file, "-")) {
        snprintf(err, errlen, "only one of the files can be standard input");
        return GATE_USAGE;
    }
    if ((rc = load_file(s->base_file, base, err, errlen)))
        return rc;
    return load_file(s->cand_file, cand, err, errlen);
}

/* ---- options ---- */

struct opts {
    const char *cmd;
    gate_source src;
    compare_opts co;
    char *metric_list;            /* --metrics copy, split in place */
    const char *metrics[COMPARE_MAX_METRICS];
    size_t n_drops;
    char drop_name[MAX_DROPS][COMPARE_METRIC_LEN];
    double drop[MAX_DROPS];
    long min_pairs;
    int json;
    const char *junit, *markdown;
};

#define HELP (-1)                 /* parse(): --help was printed, exit 0 */

static void usage(FILE *f)
{
    fprintf(f, "usage: ragrade compare SOURCE [--metrics m1,m2] [--alpha A] [--min-delta X] [--json]\n"
            "       ragrade gate SOURCE [--max-drop METRIC=X]... [--alpha A]\n"
            "                    [--metrics m1,m2] [--min-pairs N] [--junit FILE] [--markdown FILE]\n"
            "SOURCE: BASELINE.jsonl CANDIDATE.jsonl (ragrade eval output)\n"
            "     or --db FILE --dataset D --baseline RUN --candidate RUN\n"
            "        (--baseline-dataset D1 --candidate-dataset D2: one dataset per run)\n"
            "exit: 0 pass, 1 regression, 2 unknown (gate); 64 usage, 65 bad file, 66 cannot open\n");
}

static int usage_error(const struct opts *o, const char *msg, const char *arg)
{
    fprintf(stderr, "ragrade %s: ", o->cmd);
    fprintf(stderr, msg, arg ? arg : "");
    fputc('\n', stderr);
    usage(stderr);
    return GATE_USAGE;
}

static int number(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int split_metrics(struct opts *o, const char *list)
{
    char *p, *save = NULL;

    free(o->metric_list);
    if (!(o->metric_list = strdup(list)))
        return -1;
    o->co.n_metrics = 0;
    for (p = strtok_r(o->metric_list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (o->co.n_metrics == COMPARE_MAX_METRICS || strlen(p) >= COMPARE_METRIC_LEN)
            return -1;
        o->metrics[o->co.n_metrics++] = p;
    }
    o->co.metrics = o->metrics;
    return o->co.n_metrics ? 0 : -1;
}

static int add_drop(struct opts *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : 0;

    if (!eq || len == 0 || len >= COMPARE_METRIC_LEN || o->n_drops == MAX_DROPS ||
        number(eq + 1, 0, INFINITY, &o->drop[o->n_drops]) < 0)
        return -1;
    memcpy(o->drop_name[o->n_drops], arg, len);
    o->drop_name[o->n_drops++][len] = '\0';
    return 0;
}

static void source_option(gate_source *s, int c, const char *arg)
{
    if (c == 'D')
        s->db = arg;
    else if (c == 'S')
        s->dataset = arg;
    else if (c == 'B')
        s->baseline = arg;
    else if (c == 'C')
        s->candidate = arg;
    else if (c == 'b')
        s->baseline_dataset = arg;
    else
        s->candidate_dataset = arg;
}

/* --db: each side needs a dataset, and a run unless it names its own
 * dataset; no file operands. */
static int check_db_source(const struct opts *o, int operands)
{
    const gate_source *s = &o->src;

    if (operands)
        return usage_error(o, "%swant no files with --db", NULL);
    if ((!s->baseline_dataset || !s->candidate_dataset) && !s->dataset)
        return usage_error(o, "%s--db needs --dataset D (or --baseline-dataset and --candidate-dataset)", NULL);
    if (!s->baseline && !s->baseline_dataset)
        return usage_error(o, "%s--db needs --baseline RUN (or --baseline-dataset D)", NULL);
    if (!s->candidate && !s->candidate_dataset)
        return usage_error(o, "%s--db needs --candidate RUN (or --candidate-dataset D)", NULL);
    return 0;
}

/* A side's name in reports: its file, its run, or its dataset. */
static const char *side_label(const gate_source *s, int cand)
{
    if (!s->db)
        return cand ? s->cand_file : s->base_file;
    if (cand)
        return s->candidate ? s->candidate : s->candidate_dataset;
    return s->baseline ? s->baseline : s->baseline_dataset;
}

static int parse(struct opts *o, int argc, char **argv, int gate)
{
    static const struct option lo[] = {
        { "metrics", required_argument, NULL, 'm' }, { "alpha", required_argument, NULL, 'a' },
        { "min-delta", required_argument, NULL, 'd' }, { "json", no_argument, NULL, 'j' },
        { "max-drop", required_argument, NULL, 'x' }, { "min-pairs", required_argument, NULL, 'p' },
        { "junit", required_argument, NULL, 'u' }, { "markdown", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' }, { "db", required_argument, NULL, 'D' },
        { "dataset", required_argument, NULL, 'S' }, { "baseline", required_argument, NULL, 'B' },
        { "candidate", required_argument, NULL, 'C' },
        { "baseline-dataset", required_argument, NULL, 'b' },
        { "candidate-dataset", required_argument, NULL, 'c' }, { NULL, 0, NULL, 0 },
    };
    double v;
    int c;

    o->cmd = argv[0];
    compare_opts_default(&o->co);
    o->min_pairs = 10;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'm' && split_metrics(o, optarg) < 0)
            return usage_error(o, "--metrics: want a comma-separated list of metric names, not '%s'", optarg);
        if (c == 'a' && number(optarg, 1e-12, 0.5, &o->co.alpha) < 0)
            return usage_error(o, "--alpha: want a number above 0 and at most 0.5, not '%s'", optarg);
        if (c == 'd' && number(optarg, 0, INFINITY, &o->co.min_delta) < 0)
            return usage_error(o, "--min-delta: want a number >= 0, not '%s'", optarg);
        if (c == 'p' && (number(optarg, 1, 1e9, &v) < 0 || v != floor(v)))
            return usage_error(o, "--min-pairs: want a whole number >= 1, not '%s'", optarg);
        if (c == 'p')
            o->min_pairs = (long)v;
        if (c == 'x' && add_drop(o, optarg) < 0)
            return usage_error(o, "--max-drop: want METRIC=X with X >= 0, not '%s'", optarg);
        if (c == 'j')
            o->json = 1;
        if (c == 'u')
            o->junit = optarg;
        if (c == 'k')
            o->markdown = optarg;
        if (c == 'D' || c == 'S' || c == 'B' || c == 'C' || c == 'b' || c == 'c')
            source_option(&o->src, c, optarg);
        if (c == 'h') {
            usage(stdout);
            return HELP;
        }
        if (c == '?' || c == ':' ||
            (!gate && (c == 'x' || c == 'p' || c == 'u' || c == 'k')) || (gate && c == 'j'))
            return usage_error(o, "unknown option or missing value near '%s'", argv[optind - 1]);
    }
    if (o->src.db)
        return check_db_source(o, argc - optind);
    if (o->src.dataset || o->src.baseline || o->src.candidate || o->src.baseline_dataset ||
        o->src.candidate_dataset)
        return usage_error(o, "%s--dataset, --baseline and --candidate go with --db FILE", NULL);
    if (argc - optind != 2)
        return usage_error(o, "%swant two files: BASELINE.jsonl CANDIDATE.jsonl", NULL);
    o->src.base_file = argv[optind];
    o->src.cand_file = argv[optind + 1];
    return 0;
}

/* ---- the gate's decision per metric ---- */

enum { ST_OK = 0, ST_REGRESSION, ST_UNKNOWN };

struct decision {
    int state;
    double max_drop;
    char reason[320];
};

static double max_drop_for(const struct opts *o, const char *metric)
{
    size_t i;

    for (i = 0; i < o->n_drops; i++)
        if (!strcmp(o->drop_name[i], metric))
            return o->drop[i];
    return 0;
}

static void decide(const struct opts *o, const compare_metric *m, struct decision *d)
{
    memset(d, 0, sizeof *d);
    d->max_drop = max_drop_for(o, m->name);
    if (!m->in_base || !m->in_cand) {
        d->state = ST_UNKNOWN;
        snprintf(d->reason, sizeof d->reason, "no score for %s in the %s", m->name,
                 !m->in_base && !m->in_cand ? "baseline nor the candidate" : !m->in_base ? "baseline" : "candidate");
    } else if ((long)m->pairs < o->min_pairs) {
        d->state = ST_UNKNOWN;
        snprintf(d->reason, sizeof d->reason, "only %zu pairs for %s (at least %ld needed)", m->pairs,
                 m->name, o->min_pairs);
    } else if (stats_verdict(m->st.delta, m->p_holm, o->co.alpha, d->max_drop) == STATS_WORSE) {
        d->state = ST_REGRESSION;
        snprintf(d->reason, sizeof d->reason,
                 "%s dropped: delta %+.4f, 95%% CI [%+.4f, %+.4f], p = %.3g (Holm %.3g), allowed drop %.4g, %zu pairs",
                 m->name, m->st.delta, m->st.lo, m->st.hi, m->st.p, m->p_holm, d->max_drop, m->pairs);
    }
}

/* ---- output ---- */

static const char *fmt(char *buf, size_t len, const char *f, double x)
{
    if (isnan(x))
        return "-";
    snprintf(buf, len, f, x);
    return buf;
}

static void print_items(FILE *f, const char *what, const compare_item *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        fprintf(f, "    %s %-32.32s  baseline #%lld %.4f  candidate #%lld %.4f  (%+.4f)\n", what,
                v[i].item ? v[i].item : v[i].question, (long long)v[i].base_id, v[i].base,
                (long long)v[i].cand_id, v[i].cand, v[i].diff);
}

static void print_table(FILE *f, const compare_result *res, int items)
{
    char b[6][32];
    size_t i;

    fprintf(f, "%-36s %6s %6s %6s %9s %9s %9s %21s %9s %9s  %s\n", "metric", "pairs", "only_b",
            "only_c", "baseline", "candidate", "delta", "95% CI", "p", "p_holm", "verdict");
    for (i = 0; i < res->n_metrics; i++) {
        const compare_metric *m = &res->metric[i];
        char ci[48];

        if (isnan(m->st.lo))
            snprintf(ci, sizeof ci, "-");
        else
            snprintf(ci, sizeof ci, "[%+.4f, %+.4f]", m->st.lo, m->st.hi);
        fprintf(f, "%-36s %6zu %6zu %6zu %9s %9s %9s %21s %9s %9s  %s\n", m->name, m->pairs,
                m->only_baseline, m->only_candidate, fmt(b[0], 32, "%.4f", m->st.base_mean),
                fmt(b[1], 32, "%.4f", m->st.cand_mean), fmt(b[2], 32, "%+.4f", m->st.delta), ci,
                fmt(b[3], 32, "%.3g", m->st.p), fmt(b[4], 32, "%.3g", m->p_holm),
                stats_verdict_name(m->verdict));
        if (items) {
            print_items(f, "drop", m->drops, m->n_drops);
            print_items(f, "gain", m->gains, m->n_gains);
        }
    }
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static int write_junit(const char *path, const compare_result *res, const struct decision *d)
{
    FILE *f = fopen(path, "w");
    size_t i, fail = 0, skip = 0;

    if (!f)
        return -errno;
    for (i = 0; i < res->n_metrics; i++) {
        fail += d[i].state == ST_REGRESSION;
        skip += d[i].state == ST_UNKNOWN;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"ragrade gate\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n"
            "  <testsuite name=\"ragrade gate\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" errors=\"0\">\n",
            res->n_metrics, fail, skip, res->n_metrics, fail, skip);
    for (i = 0; i < res->n_metrics; i++) {
        fputs("    <testcase classname=\"ragrade.gate\" name=\"", f);
        xml_text(f, res->metric[i].name);
        fputs("\">", f);
        if (d[i].state != ST_OK) {
            fputs(d[i].state == ST_REGRESSION ? "<failure type=\"regression\" message=\"" : "<skipped message=\"", f);
            xml_text(f, d[i].reason);
            fputs("\"/>", f);
        }
        fputs("</testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    return fclose(f) ? -errno : 0;
}

static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++)
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s == '\n' ? ' ' : *s, f);
}

static int write_markdown(const char *path, const compare_result *res, const struct decision *d,
                          const struct opts *o, int code)
{
    static const char *const state[] = { "ok", "**regression**", "unknown" };
    FILE *f = fopen(path, "w");
    char b[6][32];
    size_t i;

    if (!f)
        return -errno;
    fprintf(f, "### ragrade gate: %s\n\n", code == GATE_PASS ? "pass" : code == GATE_REGRESSION
            ? "regression" : "unknown");
    fprintf(f, "Baseline `%s`, candidate `%s`; alpha %.3g, Holm-adjusted across %zu metrics.\n\n",
            side_label(&o->src, 0), side_label(&o->src, 1), o->co.alpha, res->n_metrics);
    fputs("| metric | pairs | baseline | candidate | delta | 95 % CI | p | p (Holm) | verdict | gate |\n"
          "|---|--:|--:|--:|--:|---|--:|--:|---|---|\n", f);
    for (i = 0; i < res->n_metrics; i++) {
        const compare_metric *m = &res->metric[i];

        fputs("| ", f);
        md_cell(f, m->name);
        fprintf(f, " | %zu | %s | %s | %s | ", m->pairs, fmt(b[0], 32, "%.4f", m->st.base_mean),
                fmt(b[1], 32, "%.4f", m->st.cand_mean), fmt(b[2], 32, "%+.4f", m->st.delta));
        if (isnan(m->st.lo))
            fputs("-", f);
        else
            fprintf(f, "[%+.4f, %+.4f]", m->st.lo, m->st.hi);
        fprintf(f, " | %s | %s | %s | %s", fmt(b[3], 32, "%.3g", m->st.p), fmt(b[4], 32, "%.3g", m->p_holm),
                stats_verdict_name(m->verdict), state[d[i].state]);
        if (d[i].state == ST_UNKNOWN) {
            fputs(": ", f);
            md_cell(f, d[i].reason);
        }
        fputs(" |\n", f);
    }
    return fclose(f) ? -errno : 0;
}

/* ---- the commands ---- */

/* Metrics named by --max-drop must be compared even when --metrics or
 * both runs leave them out (then the gate cannot say: unknown). */
static void add_drop_metrics(struct opts *o, const compare_run *b, const compare_run *c)
{
    size_t i, k;

    if (!o->co.metrics) {         /* the union of the runs, then the drops */
        for (i = 0; i < b->n_metrics + c->n_metrics && o->co.n_metrics < COMPARE_MAX_METRICS; i++) {
            const char *name = i < b->n_metrics ? b->metric[i] : c->metric[i - b->n_metrics];

            for (k = 0; k < o->co.n_metrics && strcmp(o->metrics[k], name); k++)
                ;
            if (k == o->co.n_metrics)
                o->metrics[o->co.n_metrics++] = name;
        }
        o->co.metrics = o->metrics;
    }
    for (i = 0; i < o->n_drops; i++) {
        for (k = 0; k < o->co.n_metrics && strcmp(o->metrics[k], o->drop_name[i]); k++)
            ;
        if (k == o->co.n_metrics && k < COMPARE_MAX_METRICS)
            o->metrics[o->co.n_metrics++] = o->drop_name[i];
    }
}

/* Parse, load and compare; on success res is filled (caller frees). */
static int run_compare(struct opts *o, int argc, char **argv, int gate, compare_run *b,
                       compare_run *c, compare_result *res)
{
    char err[512];
    int rc;

    compare_run_init(b, NULL);
    compare_run_init(c, NULL);
    memset(res, 0, sizeof *res);
    if ((rc = parse(o, argc, argv, gate)))
        return rc;
    if ((rc = gate_load(&o->src, b, c, err, sizeof err))) {
        fprintf(stderr, "ragrade %s: %s\n", o->cmd, err);
        return rc;
    }
    if (gate && o->n_drops)
        add_drop_metrics(o, b, c);
    if (compare_runs(b, c, &o->co, res, err, sizeof err) < 0) {
        fprintf(stderr, "ragrade %s: %s\n", o->cmd, err);
        return GATE_DATAERR;
    }
    if (res->base_unkeyed || res->cand_unkeyed)
        fprintf(stderr, "ragrade %s: %zu baseline and %zu candidate rows have neither item nor question "
                "and were left out\n", o->cmd, res->base_unkeyed, res->cand_unkeyed);
    if (res->base_dups || res->cand_dups)
        fprintf(stderr, "ragrade %s: repeated items (baseline %zu, candidate %zu): the last of each counts\n",
                o->cmd, res->base_dups, res->cand_dups);
    return 0;
}

int gate_compare_main(int argc, char **argv)
{
    struct opts o;
    compare_run b, c;
    compare_result res;
    json_object *j;
    int rc;

    memset(&o, 0, sizeof o);
    if ((rc = run_compare(&o, argc, argv, 0, &b, &c, &res)))
        goto out;
    if (o.json) {
        j = compare_result_json(&res, &o.co);
        json_object_object_add(j, "baseline", json_object_new_string(side_label(&o.src, 0)));
        json_object_object_add(j, "candidate", json_object_new_string(side_label(&o.src, 1)));
        printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
    } else {
        printf("baseline %s (%zu rows), candidate %s (%zu rows); alpha %.3g, min delta %.3g\n\n",
               side_label(&o.src, 0), res.base_rows, side_label(&o.src, 1), res.cand_rows, o.co.alpha,
               o.co.min_delta);
        print_table(stdout, &res, 1);
    }
    rc = fflush(stdout) ? GATE_DATAERR : 0;
out:
    compare_result_free(&res);
    compare_run_free(&b);
    compare_run_free(&c);
    free(o.metric_list);
    return rc == HELP ? 0 : rc;
}

static int decide_all(struct opts *o, const compare_result *res, struct decision *d)
{
    size_t i;
    int code = GATE_PASS;

    for (i = 0; i < res->n_metrics; i++) {
        decide(o, &res->metric[i], &d[i]);
        if (d[i].state == ST_REGRESSION) {
            fprintf(stderr, "ragrade gate: REGRESSION: %s\n", d[i].reason);
            code = GATE_REGRESSION;
        } else if (d[i].state == ST_UNKNOWN) {
            fprintf(stderr, "ragrade gate: unknown: %s\n", d[i].reason);
            if (code == GATE_PASS)
                code = GATE_UNKNOWN;
        }
    }
    if (res->n_metrics == 0) {
        fprintf(stderr, "ragrade gate: unknown: no metric to compare\n");
        code = GATE_UNKNOWN;
    }
    return code;
}

int gate_main(int argc, char **argv)
{
    struct opts o;
    struct decision *d = NULL;
    compare_run b, c;
    compare_result res;
    int rc;

    memset(&o, 0, sizeof o);
    if ((rc = run_compare(&o, argc, argv, 1, &b, &c, &res)))
        goto out;
    if (!(d = calloc(res.n_metrics + 1, sizeof *d))) {
        fprintf(stderr, "ragrade gate: out of memory\n");
        rc = GATE_DATAERR;
        goto out;
    }
    rc = decide_all(&o, &res, d);
    print_table(stdout, &res, 0);
    if (o.junit && write_junit(o.junit, &res, d) < 0) {
        fprintf(stderr, "ragrade gate: --junit %s: %s\n", o.junit, strerror(errno));
        rc = GATE_CANTCREAT;
    }
    if (o.markdown && write_markdown(o.markdown, &res, d, &o, rc) < 0) {
        fprintf(stderr, "ragrade gate: --markdown %s: %s\n", o.markdown, strerror(errno));
        rc = GATE_CANTCREAT;
    }
    fprintf(stderr, "ragrade gate: %s\n", rc == GATE_PASS ? "pass" : rc == GATE_REGRESSION ? "REGRESSION"
            : rc == GATE_UNKNOWN ? "unknown" : "failed to write a report");
out:
    free(d);
    compare_result_free(&res);
    compare_run_free(&b);
    compare_run_free(&c);
    free(o.metric_list);
    return rc == HELP ? 0 : rc;
}
