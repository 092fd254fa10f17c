/* llmwire.c - request bodies and reply parsers for the OpenAI-compatible
 * and Ollama APIs. Each shape is built or read in one place per API, so a
 * new request field or reply field is one hunk here; nothing here knows
 * about retries, URLs or sockets (llm.c) or about metrics (llmjudge.c). */
#include "llmwire.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int llmwire_api_of(const char *backend)
{
    if (strcmp(backend, "openai") == 0)
        return LLMWIRE_OPENAI;
    if (strcmp(backend, "ollama") == 0)
        return LLMWIRE_OLLAMA;
    return -1;
}

const char *llmwire_path_chat(enum llmwire_api api)
{
    return api == LLMWIRE_OLLAMA ? "/api/chat" : "/v1/chat/completions";
}

const char *llmwire_path_embed(enum llmwire_api api)
{
    return api == LLMWIRE_OLLAMA ? "/api/embed" : "/v1/embeddings";
}

const char *llmwire_path_models(enum llmwire_api api)
{
    return api == LLMWIRE_OLLAMA ? "/api/tags" : "/v1/models";
}

static char *dup_json(json_object *o)
{
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE);

    return s ? strdup(s) : NULL;
}

/* Ollama: {model, messages, stream: false, format: schema, options:
 * {temperature, seed}}. */
static void ollama_chat(json_object *b, const llmwire_chat_req *r)
{
    json_object *o = json_object_new_object();

    json_object_object_add(b, "stream", json_object_new_boolean(0));
    json_object_object_add(b, "format", json_object_get(r->schema));
    json_object_object_add(o, "temperature", json_object_new_double(r->temperature));
    json_object_object_add(o, "seed", json_object_new_int(r->seed));
    json_object_object_add(b, "options", o);
}

/* OpenAI: {model, messages, temperature, seed, response_format:
 * {type: json_schema, json_schema: {name, schema, strict: true}}}. */
static void openai_chat(json_object *b, const llmwire_chat_req *r)
{
    json_object *o = json_object_new_object(), *js = json_object_new_object();

    json_object_object_add(b, "temperature", json_object_new_double(r->temperature));
    json_object_object_add(b, "seed", json_object_new_int(r->seed));
    json_object_object_add(js, "name", json_object_new_string(r->schema_name));
    json_object_object_add(js, "schema", json_object_get(r->schema));
    json_object_object_add(js, "strict", json_object_new_boolean(1));
    json_object_object_add(o, "type", json_object_new_string("json_schema"));
    json_object_object_add(o, "json_schema", js);
    json_object_object_add(b, "response_format", o);
}

char *llmwire_chat_body(enum llmwire_api api, const llmwire_chat_req *r)
{
    json_object *b = json_object_new_object();
    char *s = NULL;

    if (!b)
        goto out;
    json_object_object_add(b, "model", json_object_new_string(r->model));
    json_object_object_add(b, "messages", json_object_get(r->messages));
    if (api == LLMWIRE_OLLAMA)
        ollama_chat(b, r);
    else
        openai_chat(b, r);
    s = dup_json(b);
out:
    json_object_put(b);
    return s;
}

char *llmwire_embed_body(enum llmwire_api api, const char *model, json_object *input)
{
    json_object *b = json_object_new_object();
    char *s = NULL;

    (void)api;                    /* both take {model, input: [...]} */
    if (!b)
        goto out;
    json_object_object_add(b, "model", json_object_new_string(model));
    json_object_object_add(b, "input", json_object_get(input));
    s = dup_json(b);
out:
    json_object_put(b);
    return s;
}

static int64_t get_count(json_object *o, const char *key)
{
    json_object *v;
    int64_t n = 0;

    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))
        n = json_object_get_int64(v);
    return n > 0 ? n : 0;
}

/* Ollama: {message, done_reason, prompt_eval_count, eval_count}. */
static json_object *ollama_reply(json_object *j, llmwire_chat *out)
{
    json_object *m = NULL, *v;

    json_object_object_get_ex(j, "message", &m);
    if (json_object_object_get_ex(j, "done_reason", &v) && json_object_is_type(v, json_type_string))
        out->truncated = strcmp(json_object_get_string(v), "length") == 0;
    out->prompt_tokens = get_count(j, "prompt_eval_count");
    out->completion_tokens = get_count(j, "eval_count");
    return m;
}

/* OpenAI: {choices: [{message, finish_reason}], usage: {prompt_tokens,
 * completion_tokens}}. */
static json_object *openai_reply(json_object *j, llmwire_chat *out)
{
    json_object *m = NULL, *ch, *c0 = NULL, *v, *u = NULL;

    if (json_object_object_get_ex(j, "choices", &ch) && json_object_is_type(ch, json_type_array) &&
        json_object_array_length(ch) > 0)
        c0 = json_object_array_get_idx(ch, 0);
    if (c0)
        json_object_object_get_ex(c0, "message", &m);
    if (c0 && json_object_object_get_ex(c0, "finish_reason", &v) &&
        json_object_is_type(v, json_type_string))
        out->truncated = strcmp(json_object_get_string(v), "length") == 0;
    json_object_object_get_ex(j, "usage", &u);
    out->prompt_tokens = get_count(u, "prompt_tokens");
    out->completion_tokens = get_count(u, "completion_tokens");
    return m;
}

int llmwire_parse_chat(enum llmwire_api api, const char *body, llmwire_chat *out, char *err,
                       size_t errlen)
{
    json_object *j = json_tokener_parse(body), *m, *v;
    const char *why = NULL;
    int rc = -EINVAL;

    memset(out, 0, sizeof *out);
    if (!j || !json_object_is_type(j, json_type_object)) {
        why = "the reply is not a JSON object";
        goto out;
    }
    m = api == LLMWIRE_OLLAMA ? ollama_reply(j, out) : openai_reply(j, out);
    if (!m || !json_object_is_type(m, json_type_object)) {
        why = "the reply has no message";
        goto out;
    }
    if (json_object_object_get_ex(m, "refusal", &v) && json_object_is_type(v, json_type_string) &&
        !(out->refusal = strdup(json_object_get_string(v))))
        goto oom;
    v = NULL;
    json_object_object_get_ex(m, "content", &v);
    if (!(out->content = strdup(v && json_object_is_type(v, json_type_string) ?
                                json_object_get_string(v) : "")))
        goto oom;
    rc = 0;
    goto out;
oom:
    why = "out of memory";
out:
    if (rc < 0) {
        snprintf(err, errlen, "%s", why);
        llmwire_chat_clear(out);
    }
    json_object_put(j);
    return rc;
}

void llmwire_chat_clear(llmwire_chat *c)
{
    free(c->content);
    free(c->refusal);
    c->content = c->refusal = NULL;
}

/* A vector as a new array of doubles, or NULL if not all finite numbers. */
static json_object *vector(json_object *v, size_t *dim)
{
    json_object *out = NULL, *x;
    size_t i, n;
    double d;

    if (!v || !json_object_is_type(v, json_type_array) || !(n = json_object_array_length(v)))
        goto fail;
    if (!(out = json_object_new_array_ext((int)n)))
        goto fail;
    for (i = 0; i < n; i++) {
        x = json_object_array_get_idx(v, i);
        if (!json_object_is_type(x, json_type_double) && !json_object_is_type(x, json_type_int))
            goto fail;
        d = json_object_get_double(x);
        if (!isfinite(d))
            goto fail;
        json_object_array_add(out, json_object_new_double(d));
    }
    *dim = n;
    return out;
fail:
    json_object_put(out);
    return NULL;
}

json_object *llmwire_parse_embed(enum llmwire_api api, const char *body, size_t n, char *err,
                                 size_t errlen)
{
    json_object *j = json_tokener_parse(body), *list = NULL, *out = NULL, *ret = NULL, *e, *v;
    size_t i, dim = 0, d;
    int64_t idx;

    if (!j || !json_object_object_get_ex(j, api == LLMWIRE_OLLAMA ? "embeddings" : "data", &list) ||
        !json_object_is_type(list, json_type_array) || json_object_array_length(list) != n) {
        snprintf(err, errlen, "the embedding reply does not hold %zu vectors", n);
        goto out;
    }
    if (!(out = json_object_new_array_ext((int)n)))
        goto out;
    for (i = 0; i < n; i++)
        json_object_array_add(out, NULL);
    for (i = 0; i < n; i++) {
        json_object *ix, *vec = NULL;

        e = json_object_array_get_idx(list, i);
        v = e;
        idx = (int64_t)i;
        if (api != LLMWIRE_OLLAMA) {            /* {index, embedding}, ordered by index */
            v = NULL;
            json_object_object_get_ex(e, "embedding", &v);
            if (json_object_object_get_ex(e, "index", &ix))
                idx = json_object_get_int64(ix);
        }
        if (idx < 0 || (size_t)idx >= n || json_object_array_get_idx(out, (size_t)idx) ||
            !(vec = vector(v, &d)) || (dim && d != dim)) {
            json_object_put(vec);
            snprintf(err, errlen, "embedding %zu is not a list of finite numbers of one length", i);
            goto out;
        }
        dim = d;
        json_object_array_put_idx(out, (size_t)idx, vec);
    }
    ret = out;
    out = NULL;
out:
    json_object_put(out);
    json_object_put(j);
    return ret;
}

int llmwire_models_has(enum llmwire_api api, const char *body, const char *model)
{
    json_object *j = json_tokener_parse(body), *list, *e, *v;
    size_t i, n, ml = strlen(model);
    const char *name;
    int rc = -EINVAL;

    if (!j || !json_object_object_get_ex(j, api == LLMWIRE_OLLAMA ? "models" : "data", &list) ||
        !json_object_is_type(list, json_type_array))
        goto out;
    rc = 0;
    n = json_object_array_length(list);
    for (i = 0; i < n && !rc; i++) {
        e = json_object_array_get_idx(list, i);
        if (!json_object_object_get_ex(e, api == LLMWIRE_OLLAMA ? "name" : "id", &v) &&
            !json_object_object_get_ex(e, "model", &v))
            continue;
        name = json_object_get_string(v);
        rc = strcmp(name, model) == 0 ||
             (api == LLMWIRE_OLLAMA && strncmp(name, model, ml) == 0 && strcmp(name + ml, ":latest") == 0);
    }
out:
    json_object_put(j);
    return rc;
}

/* The endpoint's own message: {"error": {"message": ...}} or {"error": "..."}. */
void llmwire_error_message(const char *body, char *out, size_t outlen)
{
    json_object *j = NULL, *e, *m;
    const char *s = NULL;

    out[0] = '\0';
    if (!body || !*body)
        goto out;
    j = json_tokener_parse(body);
    if (j && json_object_object_get_ex(j, "error", &e)) {
        if (json_object_is_type(e, json_type_string))
            s = json_object_get_string(e);
        else if (json_object_object_get_ex(e, "message", &m))
            s = json_object_get_string(m);
    } else if (j && json_object_object_get_ex(j, "message", &m)) {
        s = json_object_get_string(m);
    }
    if (!s)
        s = body;
    snprintf(out, outlen, "%.300s", s);
out:
    json_object_put(j);
}

