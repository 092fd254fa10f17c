/* offline.c - `ragrade eval`: rows from a JSONL file through the judge,
 * scores to stdout in input order, a summary to stderr. The judge runs on
 * this thread exactly as on the scheduler's, with up to
 * judge.max_concurrency rows in flight for the LLM judges, and the same
 * reply cache: judge_cache in the configured database (judge.cache; off
 * with --no-cache). */
#include "offline.h"
#include "criteria.h"
#include "db.h"
#include "judge.h"
#include "log.h"
#include "row.h"
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (64L << 20)

/* Per-metric totals for the summary. */
struct total {
    char metric[ROW_METRIC_NAME];
    double *v;                    /* the scores, for the interval (owned) */
    long n, cap, nulls;
};

struct run {
    const conf *cf;
    FILE *out;
    json_object **slots;          /* results waiting to be printed, by seq % window */
    json_object **heads;          /* line, run, item, question of rows in the judge, by seq % window */
    int window;
    long next_print, next_seq;
    long rows, errors;
    struct total totals[ROW_MAX_METRICS];
    int ntotals;
};

static void add_total(struct run *r, const judge_score *s)
{
    int i;

    for (i = 0; i < r->ntotals && strcmp(r->totals[i].metric, s->metric); i++)
        ;
    if (i == r->ntotals) {
        if (r->ntotals == ROW_MAX_METRICS)
            return;
        snprintf(r->totals[r->ntotals++].metric, sizeof r->totals[0].metric, "%s", s->metric);
    }
    if (s->is_null) {
        r->totals[i].nulls++;
    } else {
        struct total *t = &r->totals[i];

        if (t->n == t->cap) {
            double *nv = realloc(t->v, (size_t)(t->cap ? t->cap * 2 : 64) * sizeof *nv);

            if (!nv)
                return;
            t->v = nv;
            t->cap = t->cap ? t->cap * 2 : 64;
        }
        t->v[t->n++] = s->score;
    }
}

static void print_ready(struct run *r)
{
    json_object **slot;

    while (r->next_print < r->next_seq && *(slot = &r->slots[r->next_print % r->window])) {
        fprintf(r->out, "%s\n", json_object_to_json_string_ext(*slot, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(*slot);
        *slot = NULL;
        r->next_print++;
    }
    fflush(r->out);
}

/* judge_done_fn: res->id is the line's sequence number. */
static void on_done(void *arg, const judge_result *res)
{
    struct run *r = arg;
    json_object *o = r->heads[res->id % r->window], *scores, *reasons, *versions = NULL;
    size_t i;

    r->heads[res->id % r->window] = NULL;
    if (!o) {
        o = json_object_new_object();
        json_object_object_add(o, "line", json_object_new_int64(res->id));
    }
    if (res->status < 0) {
        r->errors++;
        json_object_object_add(o, "error", json_object_new_string(res->error));
    } else {
        scores = json_object_new_object();
        reasons = json_object_new_object();
        for (i = 0; i < res->n_scores; i++) {
            const judge_score *s = &res->scores[i];

            json_object_object_add(scores, s->metric, s->is_null ? NULL : json_object_new_double(s->score));
            json_object_object_add(reasons, s->metric, s->reason ? json_object_new_string(s->reason) : NULL);
            add_total(r, s);
            if (s->version[0]) {
                if (!versions)
                    versions = json_object_new_object();
                json_object_object_add(versions, s->metric, json_object_new_string(s->version));
            }
        }
        if (versions)
            json_object_object_add(o, "versions", versions);
        json_object_object_add(o, "scores", scores);
        json_object_object_add(o, "reasons", reasons);
        json_object_object_add(o, "prompt_tokens", json_object_new_int64(res->prompt_tokens));
        json_object_object_add(o, "completion_tokens", json_object_new_int64(res->completion_tokens));
    }
    r->slots[res->id % r->window] = o;
}

/* The start of a row's output line: what `ragrade compare` pairs by. */
static json_object *head(long seq, const row *rw)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "line", json_object_new_int64(seq));
    if (rw->run)
        json_object_object_add(o, "run", json_object_new_string(rw->run));
    if (rw->item)
        json_object_object_add(o, "item", json_object_new_string(rw->item));
    json_object_object_add(o, "question", json_object_new_string(rw->question));
    return o;
}

static void bad_line(struct run *r, long seq, const row_error *e)
{
    json_object *o = json_object_new_object(), *err = json_object_new_object();

    json_object_object_add(err, "message", json_object_new_string(e->message));
    json_object_object_add(err, "field", e->field[0] ? json_object_new_string(e->field) : NULL);
    json_object_object_add(o, "line", json_object_new_int64(seq));
    json_object_object_add(o, "error", err);
    r->slots[seq % r->window] = o;
    r->errors++;
}

/* One metric's line of the summary: the mean with its 95 % interval. */
static void print_total(FILE *f, const struct total *t)
{
    stats_summary s;
    stats_rng g;

    stats_rng_seed(&g, STATS_SEED);
    if (t->n == 0 || stats_summarize(t->v, (size_t)t->n, &g, &s) < 0)
        fprintf(f, "  %-42s mean - n %ld nulls %ld\n", t->metric, t->n, t->nulls);
    else if (s.method == STATS_NONE)
        fprintf(f, "  %-42s mean %.4f n %ld nulls %ld\n", t->metric, s.mean, t->n, t->nulls);
    else
        fprintf(f, "  %-42s mean %.4f ci95 [%.4f, %.4f] se %.4f (%s) n %ld nulls %ld\n", t->metric,
                s.mean, s.lo, s.hi, s.se, stats_method_name(s.method), t->n, t->nulls);
}

static void run_free(struct run *r)
{
    int i;

    for (i = 0; r->slots && i < r->window; i++)
        json_object_put(r->slots[i]), json_object_put(r->heads ? r->heads[i] : NULL);
    free(r->slots);
    free(r->heads);
    for (i = 0; i < r->ntotals; i++)
        free(r->totals[i].v);
}

/* Drive the judge until at most `left` rows are in flight. */
static int drain(judge *j, struct run *r, int left)
{
    char msg[256];
    int state;

    while (judge_inflight(j) > left) {
        judge_run(j, 1000);
        print_ready(r);
    }
    state = judge_state(j, msg, sizeof msg);
    return state == JUDGE_FAILED ? -EIO : 0;
}

/* Parses one non-empty input line as the next row and submits it, or reports it as a bad line. */
static void eval_line(judge *j, struct run *r, crit_registry *reg, char *line, ssize_t len)
{
    json_object *o;
    long seq;
    row rw;
    row_error e;

    seq = r->next_seq++;
    r->rows++;
    o = NULL;
    if (len > MAX_LINE || !(o = json_tokener_parse(line))) {
        memset(&e, 0, sizeof e);
        snprintf(e.message, sizeof e.message, len > MAX_LINE ? "the line is too long" : "the line is not valid JSON");
        bad_line(r, seq, &e);
    } else if (row_from_json_arg(&rw, o, r->cf, judge_metric_or_criterion, reg, "", &e) < 0) {
        bad_line(r, seq, &e);
        row_clear(&rw);
    } else {
        rw.id = seq;
        r->heads[seq % r->window] = head(seq, &rw);
        if (judge_submit(j, &rw, on_done, r) < 0) {
            json_object_put(r->heads[seq % r->window]);
            r->heads[seq % r->window] = NULL;
            snprintf(e.message, sizeof e.message, "the judge is not ready");
            e.field[0] = '\0';
            bad_line(r, seq, &e);
        }
        row_clear(&rw);
    }
    json_object_put(o);
    print_ready(r);
}

int offline_eval(const conf *cf, const char *config_path, FILE *in, FILE *out, FILE *errf)
{
    struct run r;
    crit_registry *reg = NULL;
    criterion *cv = NULL;
    size_t ncv = 0;
    judge *j = NULL;
    db *cache = NULL;
    char *line = NULL, msg[256];
    size_t cap = 0;
    ssize_t len;
    int code = 2, i, state;

    memset(&r, 0, sizeof r);
    r.cf = cf;
    r.out = out;
    r.window = cf->max_concurrency + 1;
    r.next_print = r.next_seq = 1;
    if (!(r.slots = calloc((size_t)r.window, sizeof *r.slots)) ||
        !(r.heads = calloc((size_t)r.window, sizeof *r.heads)))
        goto out;
    /* An LLM judge's replies are cached as the server caches them; a
     * database that cannot be opened costs the cache, not the run. */
    if (cf->cache && strcmp(cf->backend, "builtin") &&
        !(cache = db_open(cf->db_path, cf->busy_timeout_ms, 0, msg, sizeof msg)))
        fprintf(errf, "ragrade eval: no reply cache: %s\n", msg);
    if (!(j = judge_new(cf, cache, msg, sizeof msg))) {
        fprintf(errf, "ragrade eval: %s\n", msg);
        goto out;
    }
    /* The [criterion NAME] sections of the same file, as the server reads them. */
    if (crit_load_config(config_path, &cv, &ncv, msg, sizeof msg) < 0) {
        fprintf(errf, "ragrade eval: %s\n", msg);
        goto out;
    }
    if (!(reg = crit_registry_new(cv, ncv))) {
        fprintf(errf, "ragrade eval: out of memory\n");
        goto out;
    }
    judge_set_criteria(j, reg);
    judge_start_init(j);
    while ((state = judge_state(j, msg, sizeof msg)) == JUDGE_INITIALIZING || state == JUDGE_UNINITIALIZED)
        judge_run(j, 1000);
    if (state != JUDGE_READY) {
        fprintf(errf, "ragrade eval: the judge %s could not start: %s\n", judge_name(j), msg);
        goto out;
    }
    while ((len = getline(&line, &cap, in)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (drain(j, &r, cf->max_concurrency - 1) < 0)
            break;
        while (r.next_seq - r.next_print >= r.window - 1) {   /* keep the reorder window */
            judge_run(j, 1000);
            print_ready(&r);
        }
        eval_line(j, &r, reg, line, len);
    }
    drain(j, &r, 0);
    print_ready(&r);
    fprintf(errf, "ragrade eval: %ld rows, %ld errors, judge %s\n", r.rows, r.errors, judge_name(j));
    for (i = 0; i < r.ntotals; i++)
        print_total(errf, &r.totals[i]);
    code = r.errors ? 1 : 0;
out:
    run_free(&r);
    free(line);
    judge_free(j);
    crit_registry_free(reg);
    db_close(cache);
    return code;
}
