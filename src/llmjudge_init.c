/* llmjudge_init.c - building a judge and its [judge NAME] profiles from
 * the config (keys, sampling, clients), and their lazy initialisation: the
 * model listings and the probe call, with each profile's ready/failed state. */
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

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- construction ---- */

/* The key from file (the key named name) or else the environment
 * variable env; "" when neither. */
static int read_key(const char *file, const char *name, const char *env_name, char *key,
                    size_t keylen, char *err, size_t errlen)
{
    const char *env = getenv(env_name);
    FILE *f = NULL;
    size_t n;
    int rc = 0;

    key[0] = '\0';
    if (file[0]) {
        if (!(f = fopen(file, "r"))) {
            snprintf(err, errlen, "judge.%s %s: cannot read", name, file);
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

/* judge.temperature / judge.seed: "" (ragrade's), "none" or a number. */
static int sample_mode(const char *v, const char *name, int whole, double *out, char *err,
                       size_t errlen)
{
    char *end;

    if (!v[0] || !strcmp(v, "default"))
        return SAMPLE_OWN;
    if (!strcmp(v, "none"))
        return SAMPLE_NONE;
    *out = strtod(v, &end);
    if (end == v || *end || !isfinite(*out) || *out < 0 || (whole && (*out != floor(*out) ||
                                                                      *out > 2147483647.0))) {
        snprintf(err, errlen, "judge.%s: want none, default or a %snumber, not '%s'", name,
                 whole ? "whole " : "", v);
        return -EINVAL;
    }
    return SAMPLE_FIXED;
}

/* The chat client, and the embedding one when judge.embedding_url names
 * other endpoints (its key: judge.embedding_key_file, else
 * RAGRADE_EMBEDDING_API_KEY, else the chat key). */
static int clients(llmjudge *lj, const conf *cf, llm *hub, char *err, size_t errlen)
{
    const char *urls[CONF_MAX_URLS];
    char key[1024];
    int i, rc = -EINVAL;

    for (i = 0; i < cf->n_urls && i < CONF_MAX_URLS; i++)
        urls[i] = cf->urls[i];
    if (read_key(cf->api_key_file, "api_key_file", "RAGRADE_API_KEY", key, sizeof key, err,
                 errlen) < 0 ||
        !(lj->http = hub ? llm_new_sibling(hub, urls, cf->n_urls, key, err, errlen)
                         : llm_new(urls, cf->n_urls, key, err, errlen)))
        goto out;
    lj->emb_http = lj->http;
    if (cf->n_embedding_urls > 0) {
        for (i = 0; i < cf->n_embedding_urls && i < CONF_MAX_URLS; i++)
            urls[i] = cf->embedding_urls[i];
        if ((cf->embedding_key_file[0] || getenv("RAGRADE_EMBEDDING_API_KEY")) &&
            read_key(cf->embedding_key_file, "embedding_key_file", "RAGRADE_EMBEDDING_API_KEY",
                     key, sizeof key, err, errlen) < 0)
            goto out;
        if (!(lj->emb_http = llm_new_sibling(hub ? hub : lj->http, urls, cf->n_embedding_urls,
                                             key, err, errlen)))
            goto out;
    }
    rc = 0;
out:
    explicit_bzero(key, sizeof key);
    return rc;
}

/* One judge for cf: the default (hub NULL) or a profile whose clients are
 * siblings of hub. */
static llmjudge *build(const conf *cf, db *cache, llm *hub, char *err, size_t errlen)
{
    llmjudge *lj = NULL, *ret = NULL;
    double d = 0;

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
    if (strcmp(cf->max_tokens_field, "max_tokens") && strcmp(cf->max_tokens_field,
                                                             "max_completion_tokens")) {
        snprintf(err, errlen, "judge.max_tokens_field: want max_tokens or max_completion_tokens");
        goto out;
    }
    if ((lj->temp_mode = sample_mode(cf->temperature, "temperature", 0, &lj->temp_fixed, err,
                                     errlen)) < 0 ||
        (lj->seed_mode = sample_mode(cf->seed, "seed", 1, &d, err, errlen)) < 0)
        goto out;
    lj->seed_fixed = (int)d;
    if (clients(lj, cf, hub, err, errlen) < 0)
        goto out;
    if (!(lj->mx = metrics_ctx_new())) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (cf->cache)
        lj->cache_db = cache;     /* judge_cache is in the schema (sql/002) */
    lj->keep_db = cache;
    lj->state = JUDGE_UNINITIALIZED;
    ret = lj;
    lj = NULL;
out:
    llmjudge_free(lj);
    return ret;
}

llmjudge *llmjudge_new(const conf *cf, db *cache, char *err, size_t errlen)
{
    llmjudge *lj = build(cf, cache, NULL, err, errlen), *p;
    conf *pc = NULL;
    char msg[400];
    int i;

    if (!lj || cf->n_profiles == 0)
        return lj;
    if (!(pc = malloc(sizeof *pc))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (i = 0; i < cf->n_profiles; i++) {
        if (conf_profile(cf, i, pc, err, errlen) < 0)
            goto fail;
        if (!(p = build(pc, cache, lj->http, msg, sizeof msg))) {
            snprintf(err, errlen, "judge profile %s: %s", cf->profile_names[i], msg);
            goto fail;
        }
        snprintf(p->pname, sizeof p->pname, "%s", cf->profile_names[i]);
        snprintf(p->name, sizeof p->name, "%s/%s", pc->backend, pc->model);
        p->root = lj;
        p->idx = lj->n_prof;
        lj->prof[lj->n_prof++] = p;
    }
    free(pc);
    return lj;
fail:
    free(pc);
    llmjudge_free(lj);
    return NULL;
}

/* ---- lazy initialisation: list the models (chat, then embeddings when
 * they have endpoints of their own; unless judge.check_models = no), then
 * one tiny chat call whose reply must be the JSON its schema asks for ---- */

/* A profile's init ended: the room it held goes back. */
static void init_give(llmjudge *lj)
{
    if (lj->init_held) {
        lj->init_held = 0;
        lj_gate_put(lj);
    }
}

static void init_fail(llmjudge *lj, const char *what, const char *why)
{
    init_give(lj);
    lj->state = JUDGE_FAILED;
    lj->settled = 1;
    lj->retry_at = clock_mono_ms() + lj->cf.backoff_max_ms;
    snprintf(lj->error, sizeof lj->error, "%s: %.400s", what, why);
}

/* Start an init request on client c; 0, or fails the init on OOM. */
static int init_submit(llmjudge *lj, llm *c, const char *method, const char *path,
                       const char *body, llm_done_fn done)
{
    llm_opts o = lj_opts(lj, lj->cf.init_timeout_ms, lj->init_deadline);

    lj->init_http = c;
    if (!(lj->init_req = llm_submit(c, method, path, body, &o, done, lj))) {
        init_fail(lj, "starting", "out of memory");
        return -ENOMEM;
    }
    return 0;
}

static void on_probe(void *arg, const llm_reply *rep)
{
    llmjudge *lj = arg;
    llmwire_chat c = { 0 };
    json_object *v = NULL;
    char err[300], why[512];

    lj->init_req = NULL;
    if (rep->status < 0) {
        init_fail(lj, "loading the model", rep->error[0] ? rep->error : "deadline");
    } else if (llmwire_parse_chat(lj->api, rep->body, &c, err, sizeof err) < 0) {
        init_fail(lj, "loading the model", err);
    } else if (c.truncated) {
        snprintf(why, sizeof why, "the probe's reply was cut at the output limit (max_tokens %d); "
                 "raise judge.max_tokens", lj->cf.max_tokens);
        init_fail(lj, "loading the model", why);
    } else if (prompts_validate(PROMPT_PROBE, c.content, -1, &v, err, sizeof err) < 0) {
        snprintf(why, sizeof why, "the endpoint does not follow the JSON schema of the request "
                 "(response_format or format ignored?); the probe's reply: %.300s", err);
        init_fail(lj, "checking structured output", why);
    } else {
        init_give(lj);
        lj->state = JUDGE_READY;
        lj->settled = 1;
        lj->error[0] = '\0';
    }
    json_object_put(v);
    llmwire_chat_clear(&c);
}

static void send_probe(llmjudge *lj)
{
    json_object *msgs = json_object_new_array(), *schema = prompts_schema(PROMPT_PROBE);
    json_object *in = json_object_new_object();
    char *prompt = prompts_render(PROMPT_PROBE, in), *body = NULL;
    llmwire_chat_req req = { 0 };

    json_object_array_add(msgs, ragas_obj("role", json_object_new_string("user"), "content",
                                          json_object_new_string(prompt ? prompt : ""), NULL,
                                          NULL));
    req.model = lj->cf.model;
    req.messages = msgs;
    req.schema_name = prompts_name(PROMPT_PROBE);
    req.schema = schema;
    lj_settings(lj, &req, 0.0, SEED, 0);
    body = llmwire_chat_body(lj->api, &req);
    if (!prompt || !body)
        init_fail(lj, "loading the model", "out of memory");
    else
        init_submit(lj, lj->http, "POST", llmwire_path_chat(lj->api), body, on_probe);
    free(prompt);
    free(body);
    json_object_put(msgs);
    json_object_put(schema);
    json_object_put(in);
}

/* Whether the model list in rep names model (the key that set it: key);
 * fails the init when not. */
static int listed(llmjudge *lj, const llm_reply *rep, const char *model, const char *key)
{
    char msg[400];
    int has;

    if (rep->status < 0) {
        init_fail(lj, "listing the models", rep->error[0] ? rep->error : "deadline");
        return 0;
    }
    if ((has = llmwire_models_has(lj->api, rep->body, model)) > 0)
        return 1;
    if (has < 0)
        snprintf(msg, sizeof msg, "the reply of %s is not a model list",
                 llmwire_path_models(lj->api));
    else
        snprintf(msg, sizeof msg, "the endpoint does not list the model %s (%s) by id or alias; "
                 "judge.check_models = no skips this check for gateways that list none", model,
                 key);
    init_fail(lj, "listing the models", msg);
    return 0;
}

const char *lj_embedding_model(const llmjudge *lj)
{
    return lj->cf.embedding_model[0] ? lj->cf.embedding_model : lj->cf.model;
}

static void on_emb_models(void *arg, const llm_reply *rep)
{
    llmjudge *lj = arg;

    lj->init_req = NULL;
    if (listed(lj, rep, lj_embedding_model(lj), "judge.embedding_model"))
        send_probe(lj);
}

static void on_models(void *arg, const llm_reply *rep)
{
    llmjudge *lj = arg;

    lj->init_req = NULL;
    if (!listed(lj, rep, lj->cf.model, "judge.model"))
        return;
    if (lj->emb_http != lj->http)
        init_submit(lj, lj->emb_http, "GET", llmwire_path_models(lj->api), NULL, on_emb_models);
    else if (!lj->cf.embedding_model[0] || listed(lj, rep, lj->cf.embedding_model,
                                                  "judge.embedding_model"))
        send_probe(lj);
}


/* The default judge's init also starts its profiles' (those not ready or
 * initialising); each is probed on its own endpoint. */
int llmjudge_start_init(llmjudge *lj)
{
    int i;

    for (i = 0; i < lj->n_prof; i++)
        if (lj->prof[i]->state != JUDGE_READY && lj->prof[i]->state != JUDGE_INITIALIZING)
            lj_start_one(lj->prof[i]);
    return lj_start_one(lj);
}

int lj_start_one(llmjudge *lj)
{
    int rc = 0;

    if (lj->state == JUDGE_INITIALIZING || lj->state == JUDGE_READY)
        goto out;
    /* A profile's init calls count in its bound, as its rows' calls do:
     * until there is room, it waits (llmjudge_run starts it). */
    lj->init_wanted = 0;
    if (lj->root) {
        if (lj_gate_take(lj) < 0) {
            lj->init_wanted = 1;
            goto out;
        }
        lj->init_held = 1;
    }
    lj->init_deadline = clock_mono_ms() + lj->cf.init_timeout_ms;
    lj->state = JUDGE_INITIALIZING;
    lj->error[0] = '\0';
    if (lj->cf.check_models)
        rc = init_submit(lj, lj->http, "GET", llmwire_path_models(lj->api), NULL, on_models);
    else
        send_probe(lj);
    if (lj->state == JUDGE_FAILED && !rc)
        rc = -ENOMEM;
out:
    return rc;
}

/* The default judge's state; while it is ready but a profile's first
 * init has not ended, initialising (rows then wait rather than find
 * their profile not ready). A profile that failed does not fail the
 * judge: only the metrics that use it are null. */
int llmjudge_state(const llmjudge *lj, char *err, size_t errlen)
{
    int i;

    if (err && errlen)
        snprintf(err, errlen, "%s", lj->error);
    for (i = 0; lj->state == JUDGE_READY && i < lj->n_prof; i++)
        if (!lj->prof[i]->settled)
            return JUDGE_INITIALIZING;
    return lj->state;
}

int llmjudge_profiles(const llmjudge *lj) { return lj->n_prof; }

int llmjudge_profile_state(const llmjudge *lj, int i, const char **name, char *err, size_t errlen)
{
    if (i < 0 || i >= lj->n_prof)
        return -ENOENT;
    *name = lj->prof[i]->pname;
    return llmjudge_state(lj->prof[i], err, errlen);
}
