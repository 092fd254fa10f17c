/* judge.c - the judge's public face: the built-in judge (the non-LLM
 * metrics, computed at once, no network) or, for the openai and ollama
 * backends, a forward to llmjudge.c. Built-in evaluations finish inside
 * judge_submit(); judge_run() then only waits for a wakeup or the timeout. */
#include "judge.h"
#include "llmjudge.h"
#include "metrics.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct judge {
    const conf *cf;
    llmjudge *llm;                /* NULL for the built-in judge */
    metrics_ctx *m;               /* built-in: loaded by judge_start_init */
    metrics_opts opts;
    int state;
    int wake_fd;                  /* built-in: eventfd for judge_wakeup */
    char name[160];
    char error[256];
};

judge *judge_new(const conf *cf, struct db *cache, char *err, size_t errlen)
{
    judge *j = calloc(1, sizeof *j);

    if (!j) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    j->cf = cf;
    j->wake_fd = -1;
    j->opts.jaro_winkler = cf->similarity_jaro_winkler;
    if (strcmp(cf->backend, "builtin") != 0) {
        if (!(j->llm = llmjudge_new(cf, cache, err, errlen)))
            goto fail;
        snprintf(j->name, sizeof j->name, "%s", llmjudge_name(j->llm));
    } else {
        if ((j->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
            snprintf(err, errlen, "eventfd: %s", strerror(errno));
            goto fail;
        }
        snprintf(j->name, sizeof j->name, "builtin");
    }
    return j;
fail:
    judge_free(j);
    return NULL;
}

void judge_free(judge *j)
{
    if (!j)
        return;
    llmjudge_free(j->llm);
    metrics_ctx_free(j->m);
    if (j->wake_fd >= 0)
        close(j->wake_fd);
    free(j);
}

const char *judge_name(const judge *j) { return j->name; }

int judge_metric_known(const conf *cf, const char *name)
{
    if (metrics_is_builtin(name))
        return 1;
    return strcmp(cf->backend, "builtin") != 0 && llmjudge_metric_known(name);
}

int judge_metric_or_criterion(void *reg, const conf *cf, const char *name)
{
    const crit_snapshot *snap;
    int known;

    if (judge_metric_known(cf, name))
        return 1;
    if (!reg || !strcmp(cf->backend, "builtin"))
        return 0;
    snap = crit_registry_acquire(reg);
    known = crit_find(snap, name) != NULL;
    crit_registry_release(reg, snap);
    return known;
}

void judge_set_criteria(judge *j, crit_registry *reg)
{
    if (j->llm)
        llmjudge_set_criteria(j->llm, reg);
}

json_object *judge_metrics_json(const conf *cf, int defaults_only)
{
    int llm = strcmp(cf->backend, "builtin") != 0;
    const char *const *v = defaults_only ? (llm ? llmjudge_default_metrics() : metrics_builtin_defaults)
                                         : metrics_builtin_names;
    json_object *a = json_object_new_array();
    const char *name;
    int i;

    for (i = 0; v[i]; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    for (i = 0; llm && !defaults_only && (name = llmjudge_metric_name(i)); i++)
        json_object_array_add(a, json_object_new_string(name));
    return a;
}

int judge_start_init(judge *j)
{
    int rc = 0;

    if (j->llm)
        return llmjudge_start_init(j->llm);
    if (!j->m && !(j->m = metrics_ctx_new())) {
        j->state = JUDGE_FAILED;
        snprintf(j->error, sizeof j->error, "cannot load the built-in metrics (out of memory?)");
        rc = -ENOMEM;
        goto out;
    }
    j->state = JUDGE_READY;
    j->error[0] = '\0';
out:
    return rc;
}

int judge_state(const judge *j, char *err, size_t errlen)
{
    if (j->llm)
        return llmjudge_state(j->llm, err, errlen);
    if (err && errlen)
        snprintf(err, errlen, "%s", j->error);
    return j->state;
}

/* The built-in judge: every metric the row names (or the defaults). */
static int builtin_eval(judge *j, const row *r, judge_done_fn done, void *arg)
{
    const char *const *names = metrics_builtin_defaults;
    judge_score scores[ROW_MAX_METRICS];
    judge_result res;
    metric_result mr;
    size_t i, n = 0;
    int rc = 0;

    memset(&res, 0, sizeof res);
    res.id = r->id;
    if (r->metrics) {
        names = NULL;
        n = r->n_metrics;
    } else {
        while (names[n])
            n++;
    }
    if (n > sizeof scores / sizeof scores[0])
        n = sizeof scores / sizeof scores[0];
    for (i = 0; i < n; i++) {
        const char *name = names ? names[i] : r->metrics[i];
        judge_score *s = &scores[i];

        memset(s, 0, sizeof *s);
        snprintf(s->metric, sizeof s->metric, "%s", name);
        if (metrics_compute(j->m, &j->opts, name, r, &mr) < 0) {
            s->is_null = 1;
            s->reason = strdup("this metric needs an LLM judge (judge.backend = openai or ollama)");
        } else {
            s->is_null = mr.is_null || mr.score != mr.score;
            s->score = s->is_null ? 0 : mr.score;
            s->reason = mr.reason[0] ? strdup(mr.reason) : NULL;
        }
    }
    res.scores = scores;
    res.n_scores = n;
    done(arg, &res);
    for (i = 0; i < n; i++)
        free(scores[i].reason);
    return rc;
}

int judge_submit(judge *j, const row *r, judge_done_fn done, void *arg)
{
    if (j->llm)
        return llmjudge_submit(j->llm, r, done, arg);
    if (j->state != JUDGE_READY)
        return -EBUSY;
    return builtin_eval(j, r, done, arg);
}

int judge_inflight(const judge *j)
{
    return j->llm ? llmjudge_inflight(j->llm) : 0;
}

int judge_run(judge *j, int timeout_ms)
{
    struct pollfd p;
    uint64_t v;

    if (j->llm)
        return llmjudge_run(j->llm, timeout_ms);
    p.fd = j->wake_fd;
    p.events = POLLIN;
    if (poll(&p, 1, timeout_ms) > 0 && read(j->wake_fd, &v, sizeof v) < 0) {
        /* EAGAIN: another reader took it */
    }
    return 0;
}

void judge_wakeup(judge *j)
{
    uint64_t one = 1;

    if (j->llm) {
        llmjudge_wakeup(j->llm);
    } else if (write(j->wake_fd, &one, sizeof one) < 0) {
        /* the counter is full: a wakeup is pending anyway */
    }
}

void judge_cancel_all(judge *j)
{
    if (j->llm)
        llmjudge_cancel_all(j->llm);
}
