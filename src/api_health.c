/* api_health.c - GET /api/health: the judge's and its profiles' state over
 * the workers (from the scoreboard), the queue's counts, and each reason the
 * service is degraded or unavailable. Moved out of api.c, whose route table calls it. */
#include "api_health.h"
#include "clock.h"
#include "judge.h"
#include "log.h"
#include "prom.h"
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every metric a row may name: the judge's, then (for an LLM judge) the
 * criteria, after bringing them up to date. */
static json_object *metric_names(const api_ctx *a, critstore *cs)
{
    json_object *m = judge_metrics_json(a->cf, 0);
    const crit_snapshot *snap;
    char err[256];
    size_t i;

    if (!strcmp(a->cf->backend, "builtin"))
        return m;
    if (critstore_refresh(cs, a->reg, NULL, err, sizeof err) < 0)
        log_warn("criteria: %s", err);
    snap = crit_registry_acquire(a->reg);
    for (i = 0; i < snap->n; i++)
        json_object_array_add(m, json_object_new_string(snap->v[i].name));
    crit_registry_release(a->reg, snap);
    return m;
}

/* The judge's state over the workers (the most hopeful one: ready,
 * initializing, failed, uninitialized) and its error; the live workers. */
static int judge_best(const api_ctx *a, char *best_err, size_t len, int *workers)
{
    static const int rank[] = { 0, 2, 3, 1 };
    char err[BOARD_ERROR_MAX];
    int i, best = -1, st;

    *workers = 0;
    for (i = 0; i < board_nslots(a->b); i++) {
        board_slot *s = board_slot_at(a->b, i);

        if (!board_load(&s->pid))
            continue;
        (*workers)++;
        st = board_get_judge(s, err, sizeof err);
        if (st >= 0 && st <= 3 && (best < 0 || rank[st] > rank[best])) {
            best = st;
            snprintf(best_err, len, "%s", err);
        }
    }
    return best < 0 ? JUDGE_UNINITIALIZED : best;
}

/* Every judge profile ([judge NAME]) with its backend, model and state
 * over the workers (the most hopeful, as judge_best) and that state's
 * error. */
static json_object *profiles_json(const api_ctx *a)
{
    static const int rank[] = { 0, 2, 3, 1 };
    json_object *list = json_object_new_array(), *p;
    char err[BOARD_ERROR_MAX], best_err[BOARD_ERROR_MAX], msg[256];
    conf *pc = malloc(sizeof *pc);
    int i, k, st, best;

    for (i = 0; pc && i < a->cf->n_profiles; i++) {
        best = -1;
        best_err[0] = '\0';
        for (k = 0; k < board_nslots(a->b); k++) {
            board_slot *s = board_slot_at(a->b, k);

            if (!board_load(&s->pid))
                continue;
            st = board_get_profile(s, i, err, sizeof err);
            if (st >= 0 && st <= 3 && (best < 0 || rank[st] > rank[best])) {
                best = st;
                snprintf(best_err, sizeof best_err, "%s", err);
            }
        }
        p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(a->cf->profile_names[i]));
        if (conf_profile(a->cf, i, pc, msg, sizeof msg) == 0) {
            json_object_object_add(p, "backend", json_object_new_string(pc->backend));
            json_object_object_add(p, "model", json_object_new_string(pc->model));
            json_object_object_add(p, "max_concurrency", json_object_new_int(pc->max_concurrency));
        }
        json_object_object_add(p, "state", json_object_new_string(
                                   prom_judge_state(best < 0 ? JUDGE_UNINITIALIZED : best)));
        json_object_object_add(p, "error", best_err[0] ? json_object_new_string(best_err) : NULL);
        json_object_array_add(list, p);
    }
    free(pc);
    return list;
}

static void problem(json_object *list, const char *code, const char *msg)
{
    json_object *p = json_object_new_object();

    json_object_object_add(p, "code", json_object_new_string(code));
    json_object_object_add(p, "message", json_object_new_string(msg));
    json_object_array_add(list, p);
}

/* Can rows be stored? The last commits' outcome (board_note_write); while
 * it says failed, probe with one small write at most once a second, so
 * that health sees the disk freed even when no submit comes. 1 if not. */
static int write_problem(const api_ctx *a, db *rd, json_object *list)
{
    char msg[200], iso[32];
    int64_t since, now = clock_wall_ms();
    int rc = board_write_state(a->b, &since);

    if (rc && now - since >= 1000) {
        board_note_write(a->b, db_write_probe(rd), now);
        rc = board_write_state(a->b, &since);
    }
    if (!rc)
        return 0;
    clock_iso(since, iso, sizeof iso);
    snprintf(msg, sizeof msg, "the database cannot be written (%s) since %s: submits answer 503",
             rc == -ENOSPC ? "the disk is full" : rc == -EROFS ? "it is read-only" : "an I/O error", iso);
    problem(list, rc == -ENOSPC ? "disk_full" : rc == -EROFS ? "database_read_only" : "database_io_error", msg);
    return 1;
}

/* GET /api/health: "ok"; "degraded" (200) when the judge has failed or
 * stalls while rows wait; "unavailable" (503) when no row can be accepted
 * (the database cannot be written or read, no worker). Each reason is in
 * problems; error is the first one's message. */
void api_health(const api_ctx *a, db *rd, critstore *cs, http_req *r)
{
    json_object *o = json_object_new_object(), *j = json_object_new_object(), *q = NULL;
    json_object *list = json_object_new_array(), *v, *ing;
    char err[BOARD_ERROR_MAX] = "", msg[BOARD_ERROR_MAX + 64];
    int workers, best = judge_best(a, err, sizeof err, &workers), down = 0;
    int64_t waiting = 0, stalled = board_stalled_since(a->b), now = clock_wall_ms();

    json_object_object_add(j, "backend", json_object_new_string(a->cf->backend));
    json_object_object_add(j, "model", a->cf->model[0] ? json_object_new_string(a->cf->model) : NULL);
    json_object_object_add(j, "state", json_object_new_string(prom_judge_state(best)));
    json_object_object_add(j, "error", err[0] ? json_object_new_string(err) : NULL);
    json_object_object_add(j, "metrics", metric_names(a, cs));
    json_object_object_add(j, "default_metrics", judge_metrics_json(a->cf, 1));
    ing = json_object_new_object();       /* the page links a row's trace_id through trace_url */
    json_object_object_add(ing, "enabled", json_object_new_boolean(a->cf->ingest_enabled));
    json_object_object_add(ing, "trace_url", a->cf->ingest_trace_url[0]
                           ? json_object_new_string(a->cf->ingest_trace_url) : NULL);
    json_object_object_add(o, "ingest", ing);
    json_object_object_add(j, "profiles", profiles_json(a));
    if (report_counts(rd, NULL, &q) < 0) {
        problem(list, "database_unreadable", "the database cannot be read");
        down = 1;
    }
    down |= write_problem(a, rd, list);
    if (!workers) {
        problem(list, "no_workers", "no worker process is running");
        down = 1;
    }
    if (best == JUDGE_FAILED) {
        snprintf(msg, sizeof msg, "the judge has failed: %s", err[0] ? err : "(no error given)");
        problem(list, "judge_failed", msg);
    }
    if (q && json_object_object_get_ex(q, "queued", &v))
        waiting += json_object_get_int64(v);
    if (q && json_object_object_get_ex(q, "running", &v))
        waiting += json_object_get_int64(v);
    json_object_object_add(j, "stalled_since", NULL);
    if (stalled && waiting > 0 && now - stalled >= a->cf->stall_ms) {
        char iso[32];

        clock_iso(stalled, iso, sizeof iso);
        json_object_object_add(j, "stalled_since", json_object_new_string(iso));
        snprintf(msg, sizeof msg, "the judge makes no progress: %lld rows wait and none has finished since %s"
                 " while evaluations are in flight", (long long)waiting, iso);
        problem(list, "judge_stalled", msg);
    }
    json_object_object_add(o, "status", json_object_new_string(down ? "unavailable"
                                                               : json_object_array_length(list) ? "degraded" : "ok"));
    v = json_object_array_length(list) ? json_object_array_get_idx(list, 0) : NULL;
    json_object_object_add(o, "error", v ? json_object_get(json_object_object_get(v, "message")) : NULL);
    json_object_object_add(o, "problems", list);
    json_object_object_add(o, "judge", j);
    json_object_object_add(o, "queue", q);
    json_object_object_add(o, "workers", json_object_new_int(workers));
    json_object_object_add(o, "max_concurrency", json_object_new_int(a->cf->max_concurrency));
    http_send_json(r, down ? 503 : 200, o, NULL);
}
