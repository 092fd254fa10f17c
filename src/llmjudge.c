/* llmjudge.c - ragas's LLM metrics (and LlamaIndex's correctness) as
 * per-row state machines over llm.c. An evaluation issues its calls one at
 * a time, so calls in flight never exceed evaluations in flight; replies
 * are validated against the prompt's schema and re-asked with a repair
 * prompt when they do not fit; the formulas are in ragas.c. Replies may be
 * cached in SQLite, keyed by the SHA-256 of backend, path and request body
 * (model, messages with the prompt, schema, temperature and seed). */
#include "llmjudge_int.h"
#include "cache.h"
#include "llmkeep.h"
#include "clock.h"
#include "db.h"
#include "llm.h"
#include "llmwire.h"
#include "log.h"
#include "metrics.h"
#include "prompts.h"
#include "ragas.h"
#include "sha256.h"
#include "utf8.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const defaults[] = {
    "faithfulness", "answer_relevancy", "context_precision", "context_recall", NULL,
};

#define MAX_TOKENS_CAP 32768      /* a cut reply's retry doubles the budget up to this */
#define REPAIR_ECHO 2048          /* bytes of a bad reply quoted back in a repair */


static void drive(struct eval *ev, json_object *rep);
static void gate_give(struct eval *ev);
static void resume(struct eval *ev);

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
    json_object_put(ev->vecs);
    for (i = 0; i < ev->samples_cap; i++)
        crit_sample_clear(&ev->samples[i]);
    free(ev->samples);
    free(ev->crits);
    free(ev->via);
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
        llm_cancel(ev->is_embed ? ev->at->emb_http : ev->at->http, ev->req);
        gate_give(ev);
        eval_free(ev);
    }
    llm_cancel(lj->init_http, lj->init_req);
    while (lj->n_prof > 0)        /* siblings of http: freed before it */
        llmjudge_free(lj->prof[--lj->n_prof]);
    if (lj->emb_http != lj->http)
        llm_free(lj->emb_http);
    llm_free(lj->http);
    metrics_ctx_free(lj->mx);
    free(lj);
}

const char *llmjudge_name(const llmjudge *lj) { return lj->name; }

int llmjudge_metric_known(const char *name) { return ragas_kind(name) >= 0; }

const char *llmjudge_metric_name(int k) { return ragas_name(k); }

const char *const *llmjudge_default_metrics(void) { return defaults; }

void llmjudge_set_criteria(llmjudge *lj, crit_registry *reg) { lj->reg = reg; }

llm_opts lj_opts(const llmjudge *lj, int timeout_ms, int64_t deadline)
{
    llm_opts o = { timeout_ms, lj->cf.max_retries, lj->cf.backoff_base_ms, lj->cf.backoff_max_ms,
                   deadline };

    return o;
}

/* The generation settings of a chat call: ragrade's temperature and seed
 * unless judge.temperature / judge.seed say none or a value; the output
 * budget max_tokens (0: judge.max_tokens) under judge.max_tokens_field. */
void lj_settings(const llmjudge *lj, llmwire_chat_req *r, double temperature, int seed,
                 int max_tokens)
{
    r->temperature = lj->temp_mode == SAMPLE_FIXED ? lj->temp_fixed : temperature;
    r->no_temperature = lj->temp_mode == SAMPLE_NONE;
    r->seed = lj->seed_mode == SAMPLE_FIXED ? lj->seed_fixed + (seed - SEED) : seed;
    r->no_seed = lj->seed_mode == SAMPLE_NONE;
    r->max_tokens = max_tokens > 0 ? max_tokens : lj->cf.max_tokens;
    r->max_tokens_field = lj->cf.max_tokens_field;
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

/* Report the row and free it. status < 0: no scores; -EAGAIN keeps the
 * ones it has for the retry. */
static void finish(struct eval *ev, int status, const char *err, int retry_after_ms)
{
    size_t i;

    unlink_eval(ev);
    if (status == -EAGAIN && ev->lj->keep_db)
        llmkeep_save(ev->lj->keep_db, ev->lj->name, ev);
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

/* The embedding slice to send: judge.embedding_batch inputs from emb_off
 * (one at a time once an input was too large for the server's batch), as
 * a new array. */
static json_object *slice(struct eval *ev)
{
    size_t n = json_object_array_length(ev->input), i;
    json_object *a;

    if (!ev->emb_n) {
        ev->emb_n = ev->emb_alone ? 1 : (size_t)ev->lj->cf.embedding_batch;
        if (ev->emb_n > n - ev->emb_off)
            ev->emb_n = n - ev->emb_off;
    }
    if (!(a = json_object_new_array_ext((int)ev->emb_n)))
        return NULL;
    for (i = 0; i < ev->emb_n; i++)
        json_object_array_add(a, json_object_get(json_object_array_get_idx(ev->input,
                                                                           ev->emb_off + i)));
    return a;
}

static char *call_body(struct eval *ev)
{
    llmjudge *lj = ev->at;
    llmwire_chat_req req = { 0 };
    json_object *in;
    char *body = NULL;

    if (ev->is_embed) {
        if ((in = slice(ev)) != NULL)
            body = llmwire_embed_body(lj->api, lj_embedding_model(lj), in);
        json_object_put(in);
        return body;
    }
    req.model = lj->cf.model;
    req.messages = ev->messages;
    req.schema_name = ev->crit ? crit_schema_name(ev->crit) : prompts_name(ev->pk);
    lj_settings(lj, &req, ev->temperature, ev->seed, ev->max_tokens);
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

/* A cached reply for the call in ev (a new reference), or NULL. */
static json_object *cached(struct eval *ev, const char *t)
{
    json_object *v = NULL;
    char err[256];

    if (!ev->is_embed) {
        if (validate(ev, t, &v, err, sizeof err) < 0)
            v = NULL;
    } else if ((v = json_tokener_parse(t)) != NULL &&
               (!json_object_is_type(v, json_type_array) ||
                json_object_array_length(v) != ev->emb_n)) {
        json_object_put(v);
        v = NULL;
    }
    return v;
}

/* Send the call set up in ev. On the first attempt, look in the cache
 * first: *hit is then the cached reply (a new reference) and nothing is
 * sent. 0 or -ENOMEM. */
void llmjudge_set_gate(llmjudge *lj, llmjudge_gate_fn fn, void *arg)
{
    lj->gate = fn;
    lj->gate_arg = arg;
}

/* A call through profile p may start: within its max_concurrency calls in
 * flight, here and (with a gate) across the pool. */
int lj_gate_take(llmjudge *p)
{
    llmjudge *r = p->root;

    if (r->gate ? r->gate(r->gate_arg, p->idx, 1, p->cf.max_concurrency) < 0
                : p->calls >= p->cf.max_concurrency)
        return -EBUSY;
    p->calls++;
    return 0;
}

/* Give back the room of one call to profile p. */
void lj_gate_put(llmjudge *p)
{
    p->calls--;
    if (p->root->gate)
        p->root->gate(p->root->gate_arg, p->idx, 0, 0);
}

/* The call ev held on its profile ended (or never went). */
static void gate_give(struct eval *ev)
{
    llmjudge *p = ev->held;

    if (!p)
        return;
    ev->held = NULL;
    lj_gate_put(p);
}

static int send_call(struct eval *ev, json_object **hit)
{
    llmjudge *lj = ev->at = ev->via[ev->cur] ? ev->via[ev->cur] : ev->lj;  /* its profile's */
    const char *path = ev->is_embed ? llmwire_path_embed(lj->api) : llmwire_path_chat(lj->api);
    llm_opts o = lj_opts(lj, lj->cf.request_timeout_ms, ev->deadline);
    char *body = call_body(ev), *keyed = NULL, *t = NULL;
    size_t n;
    int rc = -ENOMEM;

    *hit = NULL;
    if (!body)
        goto out;
    if (!ev->key[0] && lj->cache_db) {
        /* A profile's replies are its own: its name leads the key. */
        n = strlen(lj->pname) + 1 + strlen(lj->cf.backend) + strlen(path) + strlen(body) + 3;
        if (!(keyed = malloc(n)))
            goto out;
        snprintf(keyed, n, "%s%s%s\n%s\n%s", lj->pname, lj->pname[0] ? "\n" : "", lj->cf.backend,
                 path, body);
        sha256_hex(keyed, n - 1, ev->key);
        if (cache_get(lj->cache_db, ev->key, &t) == 0 && t) {
            *hit = cached(ev, t);
            free(t);
        }
        if (*hit) {
            rc = 0;
            goto out;
        }
    }
    if (lj->root && !ev->held) {
        if (lj_gate_take(lj) < 0) {  /* waits for room: llmjudge_run sends it */
            ev->parked = 1;
            rc = 0;
            goto out;
        }
        ev->held = lj;
    }
    if ((ev->req = llm_submit(ev->is_embed ? lj->emb_http : lj->http, "POST", path, body, &o,
                              on_reply, ev)))
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

/* The vectors of one embedding slice arrived (v taken): all of the call's
 * vectors (a new reference) once the last slice is in, else NULL with the
 * next slice set up. */
static json_object *embed_part(struct eval *ev, json_object *v)
{
    json_object *all = NULL;
    size_t i, n = json_object_array_length(v);

    if (!ev->vecs)
        ev->vecs = json_object_new_array();
    for (i = 0; i < n; i++)
        json_object_array_add(ev->vecs, json_object_get(json_object_array_get_idx(v, i)));
    json_object_put(v);
    ev->emb_off += ev->emb_n;
    ev->emb_n = 0;
    ev->key[0] = '\0';            /* the next slice has a cache key of its own */
    if (ev->emb_off >= json_object_array_length(ev->input)) {
        all = ev->vecs;
        ev->vecs = NULL;
    }
    return all;
}

/* Send the call set up in ev, or take it from the cache (an embedding
 * slice by slice): 0 with *rep NULL while a request is in flight, or *rep
 * the whole reply (a new reference) when the cache held it; -ENOMEM. */
static int go(struct eval *ev, json_object **rep)
{
    json_object *hit;

    *rep = NULL;
    for (;;) {
        if (send_call(ev, &hit) < 0)
            return -ENOMEM;
        if (!hit)
            return 0;
        if (!ev->is_embed) {
            *rep = hit;
            return 0;
        }
        if ((*rep = embed_part(ev, hit)) != NULL)
            return 0;
    }
}

/* Run the evaluation until it waits for a reply or is done. rep (owned)
 * is the reply to the last call, or NULL. */
static void drive(struct eval *ev, json_object *rep)
{
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
        if (go(ev, &rep) < 0) {
            finish(ev, -ENOMEM, "out of memory", 0);
            return;
        }
        if (!rep)
            return;
    }
}

/* Send the call set up again in ev; go on at once with a cached reply. */
static void resume(struct eval *ev)
{
    json_object *rep;

    if (go(ev, &rep) < 0)
        finish(ev, -ENOMEM, "out of memory", 0);
    else if (rep)
        drive(ev, rep);
}

/* The reply did not fit: ask again with a repair prompt, or give up on
 * the metric. Every repair starts from the first attempt's messages, with
 * at most REPAIR_ECHO bytes of the bad reply: the conversation never
 * grows past the first messages and one exchange. */
static void repair(struct eval *ev, const char *content, const char *problem)
{
    json_object *m;
    char *msg, why[400];
    size_t n = content ? strlen(content) : 0, len = json_object_array_length(ev->messages);

    if (ev->repairs >= ev->at->cf.max_repairs) {
        snprintf(why, sizeof why, "no valid reply after %d repair%s: %s", ev->repairs,
                 ev->repairs == 1 ? "" : "s", problem);
        give_up(ev, why);
        return;
    }
    ev->repairs++;
    if (len > ev->n_first)
        json_object_array_del_idx(ev->messages, ev->n_first, len - ev->n_first);
    if (n > REPAIR_ECHO)
        n = utf8_prefix(content, REPAIR_ECHO);
    m = ragas_obj("role", json_object_new_string("assistant"), "content",
                  json_object_new_string_len(content ? content : "", (int)n), NULL, NULL);
    json_object_array_add(ev->messages, m);
    msg = ev->crit ? crit_repair(ev->crit, problem) : prompts_repair(ev->pk, problem);
    m = ragas_obj("role", json_object_new_string("user"), "content",
                  json_object_new_string(msg ? msg : problem), NULL, NULL);
    json_object_array_add(ev->messages, m);
    free(msg);
    resume(ev);                   /* the key is set: no cache lookup */
}

/* A reply cut at the output budget: once, the same messages again with
 * twice the budget (up to MAX_TOKENS_CAP), never the cut text; cut again,
 * the metric is null. */
static void cut_off(struct eval *ev)
{
    int mt = ev->max_tokens > 0 ? ev->max_tokens : ev->at->cf.max_tokens;
    char why[300];

    if (ev->cut++ > 0 || mt >= MAX_TOKENS_CAP) {
        snprintf(why, sizeof why, "the reply was cut at the output limit (max_tokens %d)%s; "
                 "raise judge.max_tokens or the server's own limit", mt,
                 ev->cut > 1 ? " again after a retry with a doubled budget" : "");
        give_up(ev, why);
        return;
    }
    ev->max_tokens = mt > MAX_TOKENS_CAP / 2 ? MAX_TOKENS_CAP : mt * 2;
    resume(ev);
}

/* A call failed for good. The metric is null when the endpoint refused
 * this request (400, 404, 413, 422, 501 and other 4xx but 401/403; an
 * input too large; a reply over the cap); an embedding batch that was
 * too large is first sent one input at a time. The row goes back to the
 * queue, keeping nothing but the reply cache, when the endpoint as a whole
 * is in trouble: 401/403, or retries spent on connection errors, 408, 429
 * and 5xx. */
static void failed(struct eval *ev, const llm_reply *rep)
{
    long h = rep->http_status;
    int too_large = rep->status == -EIO && llmwire_too_large(rep->error);
    char why[600];

    if (rep->status == -ETIMEDOUT) {
        snprintf(why, sizeof why, "deadline (last error: %s)", rep->error);
        null_rest(ev, rep->error[0] ? why : "deadline");
        drive(ev, NULL);
    } else if (too_large && ev->is_embed && ev->emb_n > 1) {
        ev->emb_alone = 1;
        ev->emb_n = 0;
        ev->key[0] = '\0';
        resume(ev);
    } else if (rep->status == -EMSGSIZE || too_large ||
               (rep->status == -EIO && h >= 400 && h != 401 && h != 403 &&
                (h < 500 || h == 501))) {
        give_up(ev, rep->error);                    /* this metric only */
    } else if (rep->status == -EIO && h == 0) {
        finish(ev, -EIO, rep->error, 0);            /* a bad URL: nothing to retry */
    } else {
        finish(ev, -EAGAIN, rep->error, rep->retry_after_ms);
    }
}

static void on_reply(void *arg, const llm_reply *rep)
{
    struct eval *ev = arg;
    json_object *v = NULL;
    llmwire_chat c = { 0 };
    char err[400], why[600];
    const char *text;

    ev->req = NULL;
    gate_give(ev);
    if (rep->status < 0) {
        failed(ev, rep);
    } else if (ev->is_embed) {
        if (!(v = llmwire_parse_embed(ev->at->api, rep->body, ev->emb_n, err, sizeof err))) {
            ragas_set_null(ev, ev->cur, err);
            drive(ev, NULL);
        } else {
            remember(ev, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), 0, 0);
            if ((v = embed_part(ev, v)) != NULL)
                drive(ev, v);
            else
                resume(ev);
        }
    } else if (llmwire_parse_chat(ev->at->api, rep->body, &c, err, sizeof err) < 0) {
        repair(ev, NULL, err);
    } else {
        ev->res.prompt_tokens += c.prompt_tokens;
        ev->res.completion_tokens += c.completion_tokens;
        text = c.content;
        if (c.refusal) {
            snprintf(why, sizeof why, "the model refused: %.300s", c.refusal);
            repair(ev, text, why);
        } else if (c.truncated) {
            cut_off(ev);
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

/* The judge that grades LLM metric i (name; c its criterion or NULL):
 * the profile the row names, else its criterion's, else the one
 * judge.metric_judges gives the metric, else the default. A profile not
 * configured (any more) or not ready makes the metric null with why. */
static void route(struct eval *ev, size_t i, const char *name, const criterion *c, const row *r)
{
    llmjudge *lj = ev->lj, *p;
    const char *pn = r->judge, *by = "the row";
    char buf[CONF_PROFILE_NAME], why[800], err[512];
    int k;

    if (!pn && c && c->judge[0]) {
        pn = c->judge;
        by = "the criterion";
    }
    if (!pn) {
        pn = conf_metric_judge(&lj->cf, name, buf, sizeof buf);
        by = "judge.metric_judges";
    }
    ev->via[i] = lj;
    if (!pn)
        return;
    if ((k = conf_profile_index(&lj->cf, pn)) < 0 || k >= lj->n_prof) {
        snprintf(why, sizeof why, "%s names the judge profile '%s', which is not configured "
                 "(no [judge %s] section)", by, pn, pn);
        ragas_set_null(ev, i, why);
        return;
    }
    p = ev->via[i] = lj->prof[k];
    if (p->state != JUDGE_READY) {
        llmjudge_state(p, err, sizeof err);
        snprintf(why, sizeof why, "the judge profile %s is not ready: %s", pn,
                 err[0] ? err : "initialising");
        ragas_set_null(ev, i, why);
    }
}

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
        else
            route(ev, i, name, c, r);
    } else if (k >= 0) {
        if ((why = ragas_missing(k, r)) != NULL)
            ragas_set_null(ev, i, why);
        else
            route(ev, i, name, NULL, r);
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
        !(ev->via = calloc(n + 1, sizeof *ev->via)) ||
        !(ev->contexts = calloc(r->n_contexts + 1, sizeof *ev->contexts)))
        goto out;
    ev->lj = ev->at = lj;
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
    if (lj->keep_db)
        llmkeep_restore(lj->keep_db, lj->name, ev);
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

/* Drive every call (the profiles' clients are siblings of http); a failed
 * profile is probed again after judge.backoff_max_ms. */
int llmjudge_run(llmjudge *lj, int timeout_ms)
{
    int64_t now = clock_mono_ms();
    int i;

    struct eval *ev, *next;

    for (i = 0; i < lj->n_prof; i++)
        if ((lj->prof[i]->state == JUDGE_FAILED && now >= lj->prof[i]->retry_at) ||
            lj->prof[i]->init_wanted)
            lj_start_one(lj->prof[i]);
    for (ev = lj->evals; ev; ev = next) {   /* calls that wait for their profile's room */
        next = ev->next;
        if (ev->parked) {
            ev->parked = 0;
            resume(ev);
        }
    }
    return llm_run(lj->http, timeout_ms);
}

void llmjudge_wakeup(llmjudge *lj) { llm_wakeup(lj->http); }

void llmjudge_cancel_all(llmjudge *lj)
{
    struct eval *list = lj->evals, *ev;

    lj->evals = NULL;             /* rows submitted by the callbacks are not cancelled */
    while ((ev = list) != NULL) {
        list = ev->next;
        ev->prev = ev->next = NULL;
        llm_cancel(ev->is_embed ? ev->at->emb_http : ev->at->http, ev->req);
        ev->req = NULL;
        gate_give(ev);
        finish(ev, -ECANCELED, "cancelled", 0);
    }
}
