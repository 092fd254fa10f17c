/* llmjudge.c - ragas's LLM metrics (and LlamaIndex's correctness) as
 * per-row state machines over llm.c. An evaluation issues its calls one at
 * a time, so calls in flight never exceed evaluations in flight; replies
 * are validated against the prompt's schema and re-asked with a repair
 * prompt when they do not fit; the formulas are in ragas.c. Replies may be
 * cached in SQLite, keyed by the SHA-256 of backend, path and request body
 * (model, messages with the prompt, schema, temperature and seed). */
#include "llmjudge.h"
#include "cache.h"
#include "clock.h"
#include "db.h"
#include "llm.h"
#include "llmwire.h"
#include "log.h"
#include "metrics.h"
#include "prompts.h"
#include "ragas.h"
#include "sha256.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const defaults[] = {
    "faithfulness", "answer_relevancy", "context_precision", "context_recall", NULL,
};



struct llmjudge {
    conf cf;
    enum llmwire_api api;
    char name[160];
    llm *http;
    db *cache_db;                 /* the reply cache's connection (borrowed); NULL: no cache */
    metrics_ctx *mx;
    int state;
    char error[512];
    int64_t init_deadline;
    llm_req *init_req;
    struct eval *evals;
    int n_evals;
    crit_registry *reg;           /* the criteria (borrowed); NULL: none */
};

static void drive(struct eval *ev, json_object *rep);

/* ---- construction ---- */

static int read_key(const conf *cf, char *key, size_t keylen, char *err, size_t errlen)
{
    const char *env = getenv("RAGRADE_API_KEY");
    FILE *f = NULL;
    size_t n;
    int rc = 0;

    key[0] = '\0';
    if (cf->api_key_file[0]) {
        if (!(f = fopen(cf->api_key_file, "r"))) {
            snprintf(err, errlen, "judge.api_key_file %s: cannot read", cf->api_key_file);
            rc = -ENOENT;
            goto out;
        }
        n = fread(key, 1, keylen - 1, f);
        key[n] = '\0';
    } else if (env) {
        snprintf(key, keylen, "%s", env);
    }
    key[strcspn(key, "\r\n")] = '\0';
    while ((n = strlen(key)) && (key[n - 1] == ' ' || key[n - 1] == '\t'))
        key[n - 1] = '\0';
out:
    if (f)
        fclose(f);
    return rc;
}

llmjudge *llmjudge_new(const conf *cf, db *cache, char *err, size_t errlen)
{
    llmjudge *lj = NULL, *ret = NULL;
    const char *urls[CONF_MAX_URLS];
    char key[1024];
    int i;

    if (!(lj = calloc(1, sizeof *lj))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    lj->cf = *cf;
    if (llmwire_api_of(cf->backend) < 0) {
        snprintf(err, errlen, "judge.backend %s is not an LLM backend", cf->backend);
        goto out;
    }
    if (!cf->model[0]) {
        snprintf(err, errlen, "judge.model: the %s backend needs a model", cf->backend);
        goto out;
    }
    lj->api = (enum llmwire_api)llmwire_api_of(cf->backend);
    snprintf(lj->name, sizeof lj->name, "%s/%s", cf->backend, cf->model);
    for (i = 0; i < cf->n_urls && i < CONF_MAX_URLS; i++)
        urls[i] = cf->urls[i];
    if (read_key(cf, key, sizeof key, err, errlen) < 0)
        goto out;
    lj->http = llm_new(urls, cf->n_urls, key, err, errlen);
    explicit_bzero(key, sizeof key);
    if (!lj->http)
        goto out;
    if (!(lj->mx = metrics_ctx_new())) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (cf->cache)
        lj->cache_db = cache;     /* judge_cache is in the schema (sql/002) */
    lj->state = JUDGE_UNINITIALIZED;
    ret = lj;
    lj = NULL;
out:
    llmjudge_free(lj);
    return ret;
}

static void eval_free(struct eval *ev)
{
    size_t i;

    if (!ev)
        return;
    free(ev->question);
    free(ev->answer);
    free(ev->ground_truth);
    for (i = 0; i < ev->n_contexts; i++)
        free(ev->contexts[i]);
    free(ev->contexts);
    for (i = 0; ev->res.scores && i < ev->res.n_scores; i++)
        free(ev->res.scores[i].reason);
    free(ev->res.scores);
    free(ev->kind);
    json_object_put(ev->acc);
    json_object_put(ev->messages);
    json_object_put(ev->input);
    for (i = 0; i < ev->samples_cap; i++)
        crit_sample_clear(&ev->samples[i]);
    free(ev->samples);
    free(ev->crits);
    if (ev->snap)
        crit_registry_release(ev->reg, ev->snap);
    free(ev);
}

void llmjudge_free(llmjudge *lj)
{
    struct eval *ev;

    if (!lj)
        return;
    while ((ev = lj->evals) != NULL) {   /* abandoned: no callbacks */
        lj->evals = ev->next;
        llm_cancel(lj->http, ev->req);
        eval_free(ev);
    }
    llm_cancel(lj->http, lj->init_req);
    llm_free(lj->http);
    metrics_ctx_free(lj->mx);
    free(lj);
}

const char *llmjudge_name(const llmjudge *lj) { return lj->name; }

int llmjudge_metric_known(const char *name) { return ragas_kind(name) >= 0; }

const char *llmjudge_metric_name(int k) { return ragas_name(k); }

const char *const *llmjudge_default_metrics(void) { return defaults; }

void llmjudge_set_criteria(llmjudge *lj, crit_registry *reg) { lj->reg = reg; }

static llm_opts opts(const llmjudge *lj, int timeout_ms, int64_t deadline)
{
    llm_opts o = { timeout_ms, lj->cf.max_retries, lj->cf.backoff_base_ms, lj->cf.backoff_max_ms,
                   deadline };

    return o;
}

/* ---- lazy initialisation: list the models, then one tiny chat call ---- */

static void init_fail(llmjudge *lj, const char *what, const char *why)
{
    lj->state = JUDGE_FAILED;
    snprintf(lj->error, sizeof lj->error, "%s: %.400s", what, why);
}

static void on_probe(void *arg, const llm_reply *rep)
{
    llmjudge *lj = arg;
    llmwire_chat c;
    char err[128];

    lj->init_req = NULL;
    if (rep->status < 0) {
        init_fail(lj, "loading the model", rep->error[0] ? rep->error : "deadline");
    } else if (llmwire_parse_chat(lj->api, rep->body, &c, err, sizeof err) < 0) {
        init_fail(lj, "loading the model", err);
    } else {
        llmwire_chat_clear(&c);
        lj->state = JUDGE_READY;
        lj->error[0] = '\0';
    }
}

static void on_models(void *arg, const llm_reply *rep)
{
    llmjudge *lj = arg;
    json_object *msgs = NULL, *m, *schema = NULL, *in = NULL;
    char *prompt = NULL, *body = NULL, msg[300];
    llm_opts o = opts(lj, lj->cf.init_timeout_ms, lj->init_deadline);
    const char *emb = lj->cf.embedding_model;
    llmwire_chat_req req = { 0 };
    int has;

    lj->init_req = NULL;
    if (rep->status < 0) {
        init_fail(lj, "listing the models", rep->error[0] ? rep->error : "deadline");
        goto out;
    }
    has = llmwire_models_has(lj->api, rep->body, lj->cf.model);
    if (has > 0 && emb[0] && strcmp(emb, lj->cf.model))
        has = llmwire_models_has(lj->api, rep->body, emb);
    else
        emb = lj->cf.model;
    if (has <= 0) {
        snprintf(msg, sizeof msg, "%s", has < 0 ? "the reply is not a model list" : "");
        if (has == 0)
            snprintf(msg, sizeof msg, "the endpoint does not list the model %s", emb);
        init_fail(lj, "listing the models", msg);
        goto out;
    }
    msgs = json_object_new_array();
    m = json_object_new_object();
    in = json_object_new_object();
    schema = prompts_schema(PROMPT_PROBE);
    prompt = prompts_render(PROMPT_PROBE, in);
    json_object_object_add(m, "role", json_object_new_string("user"));
    json_object_object_add(m, "content", json_object_new_string(prompt ? prompt : ""));
    json_object_array_add(msgs, m);
    req.model = lj->cf.model;
    req.messages = msgs;
    req.schema_name = prompts_name(PROMPT_PROBE);
    req.schema = schema;
    req.temperature = 0.0;
    req.seed = SEED;
    body = llmwire_chat_body(lj->api, &req);
    if (!prompt || !body ||
        !(lj->init_req = llm_submit(lj->http, "POST", llmwire_path_chat(lj->api), body, &o,
                                    on_probe, lj)))
        init_fail(lj, "loading the model", "out of memory");
out:
    free(prompt);
    free(body);
    json_object_put(msgs);
    json_object_put(schema);
    json_object_put(in);
}

int llmjudge_start_init(llmjudge *lj)
{
    llm_opts o;
    int rc = 0;

    if (lj->state == JUDGE_INITIALIZING || lj->state == JUDGE_READY)
        goto out;
    lj->init_deadline = clock_mono_ms() + lj->cf.init_timeout_ms;
    o = opts(lj, lj->cf.init_timeout_ms, lj->init_deadline);
    lj->init_req = llm_submit(lj->http, "GET", llmwire_path_models(lj->api), NULL, &o, on_models,
                              lj);
    if (!lj->init_req) {
        init_fail(lj, "starting", "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    lj->state = JUDGE_INITIALIZING;
    lj->error[0] = '\0';
out:
    return rc;
}

int llmjudge_state(const llmjudge *lj, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", lj->error);
    return lj->state;
}

/* ---- results ---- */

static void unlink_eval(struct eval *ev)
{
    llmjudge *lj = ev->lj;
    if (ev->prev)
        ev->prev->next = ev->next;
    else if (lj->evals == ev)     /* not when cancel_all detached it */
        lj->evals = ev->next;
    if (ev->next)
        ev->next->prev = ev->prev;
    lj->n_evals--;
}

/* Report the row and free it. status < 0: no scores. */
static void finish(struct eval *ev, int status, const char *err, int retry_after_ms)
{
    size_t i;

    unlink_eval(ev);
    for (i = 0; i < ev->res.n_scores; i++)
        if (!ev->res.scores[i].is_null && !isfinite(ev->res.scores[i].score))
            ragas_set_null(ev, i, "the score is not a finite number");
    ev->res.status = status;
    ev->res.retry_after_ms = retry_after_ms;
    snprintf(ev->res.error, sizeof ev->res.error, "%s", err ? err : "");
    if (status < 0) {
        for (i = 0; i < ev->res.n_scores; i++)
            free(ev->res.scores[i].reason);
        free(ev->res.scores);
        ev->res.scores = NULL;
        ev->res.n_scores = 0;
    }
    ev->done(ev->arg, &ev->res);
    eval_free(ev);
}

/* ---- the driver ---- */

static void null_rest(struct eval *ev, const char *why)
{
    size_t i;

    for (i = ev->cur; i < ev->res.n_scores; i++)
        if (ev->kind[i] != M_DONE)
            ragas_set_null(ev, i, why);
}

static const char *embedding_model(const llmjudge *lj)
{
    return lj->cf.embedding_model[0] ? lj->cf.embedding_model : lj->cf.model;
}

static char *call_body(struct eval *ev)
{
    llmjudge *lj = ev->lj;
    llmwire_chat_req req = { 0 };
    char *body = NULL;

    if (ev->is_embed)
        return llmwire_embed_body(lj->api, embedding_model(lj), ev->input);
    req.model = lj->cf.model;
    req.messages = ev->messages;
    req.schema_name = ev->crit ? crit_schema_name(ev->crit) : prompts_name(ev->pk);
    req.temperature = ev->temperature;
    req.seed = ev->seed;
    if ((req.schema = ev->crit ? crit_schema(ev->crit) : prompts_schema(ev->pk)) != NULL)
        body = llmwire_chat_body(lj->api, &req);
    json_object_put(req.schema);
    return body;
}

static void on_reply(void *arg, const llm_reply *rep);

/* Check reply text against the call's schema: a prompt's (prompts.h) or a
 * criterion's; *out a new object. 0 or -EINVAL with err. */
static int validate(struct eval *ev, const char *text, json_object **out, char *err,
                    size_t errlen)
{
    crit_sample x;
    int rc;

    *out = NULL;
    if (!ev->crit)
        return prompts_validate(ev->pk, text, ev->n_items, out, err, errlen);
    memset(&x, 0, sizeof x);
    if ((rc = crit_parse_reply(ev->crit, text, &x, err, errlen)) == 0 &&
        !(*out = ragas_crit_reply(&x)))
        rc = -ENOMEM;
    crit_sample_clear(&x);
    return rc;
}

/* The call failed for good: a tolerant step gets rep NULL (fail_why says
 * why); otherwise the metric is null. Then the row goes on. */
static void give_up(struct eval *ev, const char *why)
{
    if (ev->tolerate)
        snprintf(ev->fail_why, sizeof ev->fail_why, "%.*s", (int)sizeof ev->fail_why - 1, why);
    else
        ragas_set_null(ev, ev->cur, why);
    drive(ev, NULL);
}

/* Send the call set up in ev. On the first attempt, look in the cache
 * first: *hit is then the cached reply (a new reference) and nothing is
 * sent. 0 or -ENOMEM. */
static int send_call(struct eval *ev, json_object **hit)
{
    llmjudge *lj = ev->lj;
    const char *path = ev->is_embed ? llmwire_path_embed(lj->api) : llmwire_path_chat(lj->api);
    llm_opts o = opts(lj, lj->cf.request_timeout_ms, ev->deadline);
    char *body = call_body(ev), *keyed = NULL, *t = NULL, err[256];
    size_t n;
    int rc = -ENOMEM;

    *hit = NULL;
    if (!body)
        goto out;
    if (hit && !ev->key[0] && lj->cache_db) {
        n = strlen(lj->cf.backend) + strlen(path) + strlen(body) + 3;
        if (!(keyed = malloc(n)))
            goto out;
        snprintf(keyed, n, "%s\n%s\n%s", lj->cf.backend, path, body);
        sha256_hex(keyed, n - 1, ev->key);
        if (cache_get(lj->cache_db, ev->key, &t) == 0 && t) {
            if (ev->is_embed)
                *hit = json_tokener_parse(t);
            else if (validate(ev, t, hit, err, sizeof err) < 0)
                *hit = NULL;
            free(t);
        }
        if (*hit) {
            rc = 0;
            goto out;
        }
    }
    if ((ev->req = llm_submit(lj->http, "POST", path, body, &o, on_reply, ev)))
        rc = 0;
out:
    free(keyed);
    free(body);
    return rc;
}

static void remember(struct eval *ev, const char *reply, int64_t ptok, int64_t ctok)
{
    llmjudge *lj = ev->lj;
    int rc;

    if (!lj->cache_db || !ev->key[0])
        return;
    if ((rc = cache_put(lj->cache_db, ev->key, reply, ptok, ctok)) < 0)
        log_debug("judge cache: %s", db_errmsg(lj->cache_db));
}

/* Run the evaluation until it waits for a reply or is done. rep (owned)
 * is the reply to the last call, or NULL. */
static void drive(struct eval *ev, json_object *rep)
{
    json_object *hit;

    for (;;) {
        while (ev->cur < ev->res.n_scores && ev->kind[ev->cur] == M_DONE) {
            ev->cur++;
            ev->step = NULL;
            json_object_put(ev->acc);
            ev->acc = NULL;
            json_object_put(rep);
            rep = NULL;
        }
        if (ev->cur >= ev->res.n_scores) {
            finish(ev, 0, NULL, 0);
            return;
        }
        if (ragas_step(ev, rep) == RAGAS_DONE) {
            json_object_put(rep);
            rep = NULL;
            continue;
        }
        json_object_put(rep);
        rep = NULL;
        if (clock_mono_ms() >= ev->deadline) {
            null_rest(ev, "deadline");
            continue;
        }
        if (send_call(ev, &hit) < 0) {
            finish(ev, -ENOMEM, "out of memory", 0);
            return;
        }
        if (!hit)
            return;
        rep = hit;
    }
}

/* The reply did not fit: ask again with a repair prompt, or give up on
 * the metric. */
static void repair(struct eval *ev, const char *content, const char *problem)
{
    json_object *m, *hit;
    char *msg, why[400];

    if (ev->repairs >= ev->lj->cf.max_repairs) {
        snprintf(why, sizeof why, "no valid reply after %d repair%s: %s", ev->repairs,
                 ev->repairs == 1 ? "" : "s", problem);
        give_up(ev, why);
        return;
    }
    ev->repairs++;
    m = ragas_obj("role", json_object_new_string("assistant"), "content",
                  json_object_new_string(content ? content : ""), NULL, NULL);
    json_object_array_add(ev->messages, m);
    msg = ev->crit ? crit_repair(ev->crit, problem) : prompts_repair(ev->pk, problem);
    m = ragas_obj("role", json_object_new_string("user"), "content",
                  json_object_new_string(msg ? msg : problem), NULL, NULL);
    json_object_array_add(ev->messages, m);
    free(msg);
    if (send_call(ev, &hit) < 0)  /* the key is set: no cache lookup */
        finish(ev, -ENOMEM, "out of memory", 0);
}

static void on_reply(void *arg, const llm_reply *rep)
{
    struct eval *ev = arg;
    json_object *v = NULL;
    llmwire_chat c = { 0 };
    char err[400], why[600];
    const char *text;

    ev->req = NULL;
    if (rep->status == -ETIMEDOUT) {
        snprintf(why, sizeof why, "deadline (last error: %s)", rep->error);
        null_rest(ev, rep->error[0] ? why : "deadline");
        drive(ev, NULL);
    } else if (rep->status == -EAGAIN) {
        finish(ev, -EAGAIN, rep->error, rep->retry_after_ms);
    } else if (rep->status == -EMSGSIZE || rep->http_status == 400 || rep->http_status == 413 ||
               rep->http_status == 422) {
        give_up(ev, rep->error);                    /* this prompt only */
    } else if (rep->status < 0) {
        finish(ev, rep->status, rep->error, 0);
    } else if (ev->is_embed) {
        if (!(v = llmwire_parse_embed(ev->lj->api, rep->body, json_object_array_length(ev->input),
                                  err, sizeof err))) {
            ragas_set_null(ev, ev->cur, err);
            drive(ev, NULL);
        } else {
            remember(ev, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), 0, 0);
            drive(ev, v);
        }
    } else if (llmwire_parse_chat(ev->lj->api, rep->body, &c, err, sizeof err) < 0) {
        repair(ev, NULL, err);
    } else {
        ev->res.prompt_tokens += c.prompt_tokens;
        ev->res.completion_tokens += c.completion_tokens;
        text = c.content;
        if (c.refusal) {
            snprintf(why, sizeof why, "the model refused: %.300s", c.refusal);
            repair(ev, text, why);
        } else if (c.truncated) {
            repair(ev, text, "the output was cut off at the length limit; be more concise");
        } else if (validate(ev, text, &v, err, sizeof err) < 0) {
            repair(ev, text, err);
        } else {
            remember(ev, text, c.prompt_tokens, c.completion_tokens);
            drive(ev, v);
        }
        llmwire_chat_clear(&c);
    }
}

/* ---- the public face ---- */

static int add_metric(struct eval *ev, size_t i, const char *name, const row *r)
{
    llmjudge *lj = ev->lj;
    metrics_opts mo = { lj->cf.similarity_jaro_winkler };
    metric_result mr;
    const criterion *c = NULL;
    const char *why;
    int k;

    snprintf(ev->res.scores[i].metric, sizeof ev->res.scores[i].metric, "%s", name);
    k = ragas_kind(name);
    if (k < 0 && !metrics_is_builtin(name) && ev->snap && (c = crit_find(ev->snap, name)))
        k = M_CRIT;
    ev->kind[i] = k >= 0 ? k : M_DONE;
    if (c) {
        ev->crits[i] = c;
        snprintf(ev->res.scores[i].version, sizeof ev->res.scores[i].version, "%s", c->version);
        if ((why = crit_missing(c, r)) != NULL)
            ragas_set_null(ev, i, why);
        else if (c->judge[0])     /* never graded silently by another judge than it names */
            ragas_set_null(ev, i, "the criterion names a judge profile, and this ragrade has "
                                  "only the default judge ([judge NAME] profiles are not "
                                  "supported yet)");
    } else if (k >= 0) {
        if ((why = ragas_missing(k, r)) != NULL)
            ragas_set_null(ev, i, why);
    } else if (metrics_is_builtin(name)) {
        memset(&mr, 0, sizeof mr);
        if (metrics_compute(lj->mx, &mo, name, r, &mr) < 0 || mr.is_null) {
            ragas_set_null(ev, i, mr.reason[0] ? mr.reason : "not computable");
        } else {
            ev->cur = i;
            ragas_set_score(ev, mr.score, NULL);
        }
    } else {
        ragas_set_null(ev, i, !ev->snap ? "unknown metric"
                              : "unknown metric: no criterion has this name now (deleted after "
                                "the row was submitted)");
    }
    return ev->res.scores[i].reason || !ev->res.scores[i].is_null ? 0 : -ENOMEM;
}

int llmjudge_submit(llmjudge *lj, const row *r, judge_done_fn done, void *arg)
{
    const char *names[ROW_MAX_METRICS], *const *dn = defaults;
    char defs[sizeof lj->cf.default_metrics], *p, *save = NULL;
    struct eval *ev = NULL;
    size_t i, n = 0;
    int rc = -EBUSY;

    if (lj->state != JUDGE_READY || lj->n_evals >= lj->cf.max_concurrency)
        goto out;
    rc = -ENOMEM;
    if (r->metrics) {
        for (; n < r->n_metrics && n < ROW_MAX_METRICS; n++)
            names[n] = r->metrics[n];
    } else if (lj->cf.default_metrics[0]) {
        snprintf(defs, sizeof defs, "%s", lj->cf.default_metrics);
        for (p = strtok_r(defs, ", ", &save); p && n < ROW_MAX_METRICS; p = strtok_r(NULL, ", ", &save))
            names[n++] = p;
    } else {
        for (; *dn; dn++)
            names[n++] = *dn;
    }
    if (!(ev = calloc(1, sizeof *ev)) ||
        !(ev->res.scores = calloc(n + 1, sizeof *ev->res.scores)) ||
        !(ev->kind = calloc(n + 1, sizeof *ev->kind)) ||
        !(ev->crits = calloc(n + 1, sizeof *ev->crits)) ||
        !(ev->contexts = calloc(r->n_contexts + 1, sizeof *ev->contexts)))
        goto out;
    ev->lj = lj;
    if ((ev->reg = lj->reg) != NULL)
        ev->snap = crit_registry_acquire(lj->reg);   /* kept for the whole row */
    ev->res.id = r->id;
    ev->res.n_scores = n;
    ev->done = done;
    ev->arg = arg;
    ev->deadline = clock_mono_ms() + lj->cf.row_deadline_ms;
    if ((r->question && !(ev->question = strdup(r->question))) ||
        (r->answer && !(ev->answer = strdup(r->answer))) ||
        (r->ground_truth && !(ev->ground_truth = strdup(r->ground_truth))))
        goto out;
    for (; ev->n_contexts < r->n_contexts; ev->n_contexts++)
        if (!(ev->contexts[ev->n_contexts] = strdup(r->contexts[ev->n_contexts])))
            goto out;
    for (i = 0; i < n; i++)
        if (add_metric(ev, i, names[i], r) < 0)
            goto out;
    ev->cur = 0;
    ev->next = lj->evals;
    if (lj->evals)
        lj->evals->prev = ev;
    lj->evals = ev;
    lj->n_evals++;
    drive(ev, NULL);              /* may finish at once (no LLM metric, cache hits) */
    ev = NULL;
    rc = 0;
out:
    eval_free(ev);
    return rc;
}

int llmjudge_inflight(const llmjudge *lj) { return lj->n_evals; }

int llmjudge_run(llmjudge *lj, int timeout_ms) { return llm_run(lj->http, timeout_ms); }

void llmjudge_wakeup(llmjudge *lj) { llm_wakeup(lj->http); }

void llmjudge_cancel_all(llmjudge *lj)
{
    struct eval *list = lj->evals, *ev;

    lj->evals = NULL;             /* rows submitted by the callbacks are not cancelled */
    while ((ev = list) != NULL) {
        list = ev->next;
        ev->prev = ev->next = NULL;
        llm_cancel(lj->http, ev->req);
        ev->req = NULL;
        finish(ev, -ECANCELED, "cancelled", 0);
    }
}
