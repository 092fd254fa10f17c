/* trace.c - one trace's spans to one evaluation row: sampling from the
 * trace id, [ingest] filters (POSIX regcomp), dataset and run from a label
 * or an attribute, and the question, contexts and answer read from the
 * OpenInference, OpenLLMetry and OpenTelemetry GenAI attributes. The row is
 * validated by row_from_json, exactly as a row posted to /api/eval. */
#include "trace.h"

#include <errno.h>
#include <json-c/json.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FILTERS_MAX 16
#define JSON_DEPTH 16
#define INDEX_MAX 100000        /* highest N read from key.N.suffix */

enum scope { SC_RESOURCE, SC_SPAN };
enum cls { C_OTHER, C_CHAIN, C_LLM, C_RETRIEVER };

struct filter {
    enum scope scope;
    char key[256];
    int is_regex;
    char value[512];
    regex_t re;                 /* compiled when is_regex */
};

/* A dataset or run source: a literal, or an attribute of the root span or
 * of its resource. */
struct source {
    int kind;                   /* 0 literal, 1 resource:KEY, 2 span:KEY */
    char text[256];
};

struct trace_rules {
    double rate;
    struct source dataset, run;
    char metrics[512];
    struct filter filters[FILTERS_MAX];
    size_t n_filters;
};

static const char *const outcome_names[TRACE_N] = {
    "row", "filtered", "no_question", "no_answer", "invalid",
};

const char *trace_outcome_name(int o)
{
    return o >= 0 && o < TRACE_N ? outcome_names[o] : "unknown";
}

/* ---- rules ---- */

static void parse_source(struct source *s, const char *text)
{
    s->kind = !strncmp(text, "resource:", 9) ? 1 : !strncmp(text, "span:", 5) ? 2 : 0;
    snprintf(s->text, sizeof s->text, "%s", text + (s->kind == 1 ? 9 : s->kind == 2 ? 5 : 0));
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

/* One "scope:KEY=VALUE" or "scope:KEY~REGEX" clause into f. 0 or -EINVAL. */
static int parse_filter(struct filter *f, char *clause, char *err, size_t errlen)
{
    char *key, *op;
    int rc;

    if (!strncmp(clause, "resource:", 9)) {
        f->scope = SC_RESOURCE;
        key = clause + 9;
    } else if (!strncmp(clause, "span:", 5)) {
        f->scope = SC_SPAN;
        key = clause + 5;
    } else {
        snprintf(err, errlen, "ingest.filters: '%s' does not start with resource: or span:", clause);
        return -EINVAL;
    }
    op = key + strcspn(key, "=~");
    if (!*op || op == key || (size_t)(op - key) >= sizeof f->key ||
        strlen(op + 1) >= sizeof f->value) {
        snprintf(err, errlen, "ingest.filters: want scope:KEY=VALUE or scope:KEY~REGEX, not '%s'",
                 clause);
        return -EINVAL;
    }
    f->is_regex = *op == '~';
    *op = '\0';
    snprintf(f->key, sizeof f->key, "%s", trim(key));
    snprintf(f->value, sizeof f->value, "%s", op + 1);
    if (f->is_regex && (rc = regcomp(&f->re, f->value, REG_EXTENDED | REG_NOSUB)) != 0) {
        char msg[128];

        regerror(rc, &f->re, msg, sizeof msg);
        snprintf(err, errlen, "ingest.filters: bad regular expression '%s': %s", f->value, msg);
        f->is_regex = 0;
        return -EINVAL;
    }
    return 0;
}

trace_rules *trace_rules_new(const conf *cf, char *err, size_t errlen)
{
    trace_rules *tr = calloc(1, sizeof *tr);
    char buf[sizeof cf->ingest_filters], *save = NULL, *c;

    if (!tr) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    tr->rate = cf->ingest_sample_rate;
    parse_source(&tr->dataset, cf->ingest_dataset);
    parse_source(&tr->run, cf->ingest_run);
    snprintf(tr->metrics, sizeof tr->metrics, "%s", cf->ingest_metrics);
    snprintf(buf, sizeof buf, "%s", cf->ingest_filters);
    for (c = strtok_r(buf, ";", &save); c; c = strtok_r(NULL, ";", &save)) {
        c = trim(c);
        if (!*c)
            continue;
        if (tr->n_filters == FILTERS_MAX) {
            snprintf(err, errlen, "ingest.filters: at most %d", FILTERS_MAX);
            goto fail;
        }
        if (parse_filter(&tr->filters[tr->n_filters], c, err, errlen) < 0)
            goto fail;
        tr->n_filters++;
    }
    return tr;
fail:
    trace_rules_free(tr);
    return NULL;
}

void trace_rules_free(trace_rules *tr)
{
    size_t i;

    if (!tr)
        return;
    for (i = 0; i < tr->n_filters; i++)
        if (tr->filters[i].is_regex)
            regfree(&tr->filters[i].re);
    free(tr);
}

/* ---- sampling ---- */

int trace_sample(double rate, const char *id)
{
    uint64_t r = 0, threshold;
    size_t i;

    if (!id || strlen(id) != 32)
        return 0;
    for (i = 18; i < 32; i++) {         /* the low 7 bytes: 14 hex digits */
        char c = id[i];

        if (c >= '0' && c <= '9')
            r = r << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            r = r << 4 | (uint64_t)(c - 'a' + 10);
        else
            return 0;
    }
    if (rate >= 1.0)
        return 1;
    if (!(rate > 0.0))
        return 0;
    threshold = (uint64_t)((1.0 - rate) * (double)(UINT64_C(1) << 56));
    return r >= threshold;
}

int trace_sampled(const trace_rules *tr, const char *trace_id)
{
    return trace_sample(tr->rate, trace_id);
}

/* ---- reading attributes ---- */

/* Values of prefix.N.suffix (N a decimal index) in a, by N ascending: fills
 * idx[] and val[] (at most max) and returns how many. */
static size_t indexed(const otlp_attrs *a, const char *prefix, const char *suffix, long *idx,
                      const char **val, size_t max)
{
    size_t i, j, n = 0, pl = strlen(prefix);
    char *end;
    long k;

    for (i = 0; i < a->n && n < max; i++) {
        const char *key = a->v[i].key;

        if (strncmp(key, prefix, pl) || key[pl] != '.' || key[pl + 1] < '0' || key[pl + 1] > '9')
            continue;
        k = strtol(key + pl + 1, &end, 10);
        if (k > INDEX_MAX || *end != '.' || strcmp(end + 1, suffix))
            continue;
        for (j = n; j > 0 && idx[j - 1] > k; j--) {   /* insertion: few items */
            idx[j] = idx[j - 1];
            val[j] = val[j - 1];
        }
        idx[j] = k;
        val[j] = a->v[i].value;
        n++;
    }
    return n;
}

/* The content of the last (user) or first (!user) message in an indexed
 * message list: prefix.N.<content> with prefix.N.<role>. */
static const char *message(const otlp_attrs *a, const char *prefix, const char *content,
                           const char *role, int user)
{
    long idx[64];
    const char *val[64], *r, *found = NULL;
    char key[320];
    size_t n = indexed(a, prefix, content, idx, val, 64), i;

    for (i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s.%ld.%s", prefix, idx[i], role);
        r = otlp_attr(a, key);
        if (user && r && !strcmp(r, "user"))
            found = val[i];
        else if (!user && (!r || !strcmp(r, "assistant")))
            return val[i];
    }
    return found;
}

static json_object *parse_json(const char *s)
{
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    json_object *j = NULL;

    if (tok && s && (*s == '{' || *s == '[' || *s == '"')) {
        j = json_tokener_parse_ex(tok, s, (int)strlen(s));
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(j);
            j = NULL;
        }
    }
    if (tok)
        json_tokener_free(tok);
    return j;
}

static const char *const in_keys[] = { "question", "query", "user_input", "input", "prompt",
                                       "text", "content", "message", NULL };
static const char *const out_keys[] = { "answer", "response", "output", "result", "text",
                                        "content", NULL };
static const char *const nest_keys[] = { "inputs", "kwargs", "outputs", "input", "output",
                                         "data", NULL };

/* The first string under keys in JSON value j, looking into the usual
 * wrappers ({"inputs": ...}, {"kwargs": ...}, {"args": [...]}). */
static const char *dig(json_object *j, const char *const *keys, int depth)
{
    json_object *v;
    const char *s;
    size_t i;

    if (json_object_is_type(j, json_type_string))
        return json_object_get_string(j);
    if (depth > 3 || !json_object_is_type(j, json_type_object))
        return NULL;
    for (i = 0; keys[i]; i++)
        if (json_object_object_get_ex(j, keys[i], &v) && json_object_is_type(v, json_type_string))
            return json_object_get_string(v);
    for (i = 0; nest_keys[i]; i++)
        if (json_object_object_get_ex(j, nest_keys[i], &v) && (s = dig(v, keys, depth + 1)))
            return s;
    if (json_object_object_get_ex(j, "args", &v) && json_object_is_type(v, json_type_array) &&
        json_object_array_length(v) > 0)
        return dig(json_object_array_get_idx(v, 0), keys, depth + 1);
    return NULL;
}

/* A text attribute that may hold JSON: the string found in it, or the text
 * itself if it is not JSON. malloc'd, or NULL. */
static char *unwrap(const char *text, const char *const *keys)
{
    json_object *j;
    const char *s;
    char *r;

    if (!text || !*text)
        return NULL;
    j = parse_json(text);
    if (!j)
        return strdup(text);
    s = dig(j, keys, 0);
    r = s && *s ? strdup(s) : NULL;
    json_object_put(j);
    return r;
}

/* GenAI gen_ai.input.messages / gen_ai.output.messages (JSON): the text
 * parts of the last user message (user) or the first message (!user). */
static char *genai_messages(const char *text, int user)
{
    json_object *j = parse_json(text), *m, *role, *parts, *p, *c;
    char *r = NULL;
    size_t i, k, n;

    n = json_object_is_type(j, json_type_array) ? json_object_array_length(j) : 0;
    for (i = 0; i < n; i++) {
        m = json_object_array_get_idx(j, user ? n - 1 - i : i);
        if (user && !(json_object_object_get_ex(m, "role", &role) &&
                      !strcmp(json_object_get_string(role), "user")))
            continue;
        if (!json_object_object_get_ex(m, "parts", &parts) ||
            !json_object_is_type(parts, json_type_array))
            continue;
        for (k = 0; k < json_object_array_length(parts) && !r; k++) {
            p = json_object_array_get_idx(parts, k);
            if (json_object_object_get_ex(p, "content", &c) && json_object_is_type(c, json_type_string))
                r = strdup(json_object_get_string(c));
        }
        break;
    }
    json_object_put(j);
    return r;
}

/* A span's input (question) or output (answer), malloc'd, or NULL. */
static char *span_text(const otlp_span *s, int input)
{
    const otlp_attrs *a = &s->attrs;
    const char *const *keys = input ? in_keys : out_keys;
    const char *v;
    char *r = NULL;

    if ((v = otlp_attr(a, input ? "input.value" : "output.value")) && (r = unwrap(v, keys)))
        return r;
    if ((v = otlp_attr(a, input ? "traceloop.entity.input" : "traceloop.entity.output")) &&
        (r = unwrap(v, keys)))
        return r;
    if ((v = otlp_attr(a, input ? "gen_ai.input.messages" : "gen_ai.output.messages")) &&
        (r = genai_messages(v, input)))
        return r;
    v = input ? message(a, "llm.input_messages", "message.content", "message.role", 1)
              : message(a, "llm.output_messages", "message.content", "message.role", 0);
    if (!v)
        v = input ? message(a, "gen_ai.prompt", "content", "role", 1)
                  : message(a, "gen_ai.completion", "content", "role", 0);
    return v && *v ? strdup(v) : NULL;
}

static enum cls classify(const otlp_span *s)
{
    const char *oi = otlp_attr(&s->attrs, "openinference.span.kind");
    const char *tl = otlp_attr(&s->attrs, "traceloop.span.kind");
    const char *op = otlp_attr(&s->attrs, "gen_ai.operation.name");

    if ((oi && !strcasecmp(oi, "RETRIEVER")) || (op && !strcmp(op, "retrieval")) ||
        otlp_attr(&s->attrs, "retrieval.documents.0.document.content") ||
        (tl && !strcmp(tl, "task") && ((s->name && strstr(s->name, "retriev")) ||
                                        ((tl = otlp_attr(&s->attrs, "traceloop.entity.name")) &&
                                         strstr(tl, "retriev")))))
        return C_RETRIEVER;
    if ((oi && !strcasecmp(oi, "LLM")) ||
        (op && (!strcmp(op, "chat") || !strcmp(op, "text_completion") ||
                !strcmp(op, "generate_content"))))
        return C_LLM;
    if ((oi && (!strcasecmp(oi, "CHAIN") || !strcasecmp(oi, "AGENT"))) ||
        (tl && (!strcmp(tl, "workflow") || !strcmp(tl, "agent"))) ||
        (op && (!strcmp(op, "invoke_agent") || !strcmp(op, "invoke_workflow"))))
        return C_CHAIN;
    return C_OTHER;
}

/* ---- contexts ---- */

/* Growing list of context strings (owned), capped at max. */
struct ctxs {
    char **v;
    size_t n, max;
};

static int ctx_add(struct ctxs *c, const char *text, size_t len)
{
    char **v;

    if (c->n >= c->max)
        return 0;                   /* the top max by rank are kept */
    v = realloc(c->v, (c->n + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    c->v = v;
    v[c->n] = malloc(len + 1);
    if (!v[c->n])
        return -ENOMEM;
    memcpy(v[c->n], text, len);
    v[c->n++][len] = '\0';
    return 0;
}

/* One document of a JSON list: a string, or an object's text member. */
static const char *doc_text(json_object *d)
{
    static const char *const keys[] = { "content", "page_content", "pageContent", "text",
                                        "document", NULL };
    json_object *v;
    size_t i;

    if (json_object_is_type(d, json_type_string))
        return json_object_get_string(d);
    for (i = 0; keys[i]; i++)
        if (json_object_object_get_ex(d, keys[i], &v) && json_object_is_type(v, json_type_string))
            return json_object_get_string(v);
    if (json_object_object_get_ex(d, "node", &v))      /* LlamaIndex NodeWithScore */
        return doc_text(v);
    return NULL;
}

/* Documents from a JSON attribute: a list, or an object holding one. */
static int json_docs(struct ctxs *c, const char *text)
{
    static const char *const lists[] = { "documents", "nodes", "source_nodes", "results",
                                         "result", "output", NULL };
    json_object *j = parse_json(text), *arr = j, *v;
    const char *t;
    size_t i;
    int rc = 0;

    for (i = 0; lists[i] && json_object_is_type(j, json_type_object); i++)
        if (json_object_object_get_ex(j, lists[i], &v) && json_object_is_type(v, json_type_array)) {
            arr = v;
            break;
        }
    for (i = 0; json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr) &&
                rc == 0; i++)
        if ((t = doc_text(json_object_array_get_idx(arr, i))))
            rc = ctx_add(c, t, strlen(t));
    json_object_put(j);
    return rc;
}

/* A retriever span's documents in rank order. */
static int span_docs(struct ctxs *c, const otlp_span *s)
{
    long idx[256];
    const char *val[256], *v;
    size_t n, i;
    int rc = 0;

    n = indexed(&s->attrs, "retrieval.documents", "document.content", idx, val, 256);
    for (i = 0; i < n && rc == 0; i++)
        rc = ctx_add(c, val[i], strlen(val[i]));
    if (n)
        return rc;
    if ((v = otlp_attr(&s->attrs, "gen_ai.retrieval.documents")))
        return json_docs(c, v);
    if ((v = otlp_attr(&s->attrs, "traceloop.entity.output")))
        return json_docs(c, v);
    return 0;
}

/* ---- assembly ---- */

static int by_start(const void *a, const void *b)
{
    const otlp_span *x = *(const otlp_span *const *)a, *y = *(const otlp_span *const *)b;

    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return strcmp(x->span_id, y->span_id);
}

/* The root: no parent, or a parent not among the spans; the earliest. */
static const otlp_span *find_root(const otlp_span *const *v, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        if (!v[i]->parent_id[0])
            return v[i];
    }
    for (i = 0; i < n; i++) {
        for (j = 0; j < n && strcmp(v[j]->span_id, v[i]->parent_id); j++)
            ;
        if (j == n)
            return v[i];
    }
    return n ? v[0] : NULL;
}

static int filter_match(const struct filter *f, const char *value)
{
    if (!value)
        return 0;
    return f->is_regex ? regexec(&f->re, value, 0, NULL, 0) == 0 : !strcmp(f->value, value);
}

/* 1 if every filter matches: resource filters on the root's resource, span
 * filters on some span of the trace. */
static int filters_pass(const trace_rules *tr, const otlp_span *root, const otlp_span *const *v,
                        size_t n, char *why, size_t whylen)
{
    size_t i, k;
    int ok;

    for (i = 0; i < tr->n_filters; i++) {
        const struct filter *f = &tr->filters[i];

        if (f->scope == SC_RESOURCE)
            ok = filter_match(f, otlp_attr(root->resource, f->key));
        else
            for (ok = 0, k = 0; k < n && !ok; k++)
                ok = filter_match(f, otlp_attr(&v[k]->attrs, f->key));
        if (!ok) {
            snprintf(why, whylen, "filter on %s %s does not match",
                     f->scope == SC_RESOURCE ? "resource" : "span", f->key);
            return 0;
        }
    }
    return 1;
}

static const char *source_value(const struct source *s, const otlp_span *root)
{
    if (s->kind == 1)
        return otlp_attr(root->resource, s->text);
    if (s->kind == 2)
        return otlp_attr(&root->attrs, s->text);
    return s->text[0] ? s->text : NULL;
}

/* The span the question comes from: the root if it has an input, else the
 * first CHAIN-like span with one, else the first LLM span with one. */
static const otlp_span *question_span(const otlp_span *root, const otlp_span *const *v, size_t n,
                                      char **question)
{
    static const enum cls order[] = { C_CHAIN, C_LLM };
    size_t i, k;

    if ((*question = span_text(root, 1)))
        return root;
    for (k = 0; k < 2; k++)
        for (i = 0; i < n; i++)
            if (classify(v[i]) == order[k] && (*question = span_text(v[i], 1)))
                return v[i];
    return NULL;
}

/* The answer: the question span's output, else the root's, else the last
 * LLM span's. */
static char *answer_of(const otlp_span *qs, const otlp_span *root, const otlp_span *const *v,
                       size_t n)
{
    char *a = span_text(qs, 0);
    size_t i;

    if (!a && qs != root)
        a = span_text(root, 0);
    for (i = n; !a && i > 0; i--)
        if (classify(v[i - 1]) == C_LLM)
            a = span_text(v[i - 1], 0);
    return a;
}

/* Fill a row object for row_from_json; takes q, a and c's strings. */
static json_object *row_object(const trace_rules *tr, const otlp_span *root, const char *q,
                               const char *a, const struct ctxs *c)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array(), *m;
    const char *ds = source_value(&tr->dataset, root);
    char buf[sizeof tr->metrics], *save = NULL, *t;
    size_t i;

    if (!o || !arr) {
        json_object_put(o);
        json_object_put(arr);
        return NULL;
    }
    json_object_object_add(o, "question", json_object_new_string(q));
    json_object_object_add(o, "answer", json_object_new_string(a));
    for (i = 0; i < c->n; i++)
        json_object_array_add(arr, json_object_new_string(c->v[i]));
    json_object_object_add(o, "contexts", arr);
    if (ds)
        json_object_object_add(o, "dataset", json_object_new_string(ds));
    if (tr->metrics[0] && (m = json_object_new_array())) {
        snprintf(buf, sizeof buf, "%s", tr->metrics);
        for (t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
            json_object_array_add(m, json_object_new_string(t));
        json_object_object_add(o, "metrics", m);
    }
    return o;
}

int trace_assemble(const trace_rules *tr, const conf *cf, row_metric_known_fn known,
                   const otlp_span *spans, size_t n, trace_row *out, char *why, size_t whylen)
{
    const otlp_span **v = NULL, *root, *qs;
    struct ctxs c = { NULL, 0, (size_t)cf->max_contexts };
    char *q = NULL, *a = NULL;
    const char *run;
    json_object *o = NULL;
    row_error e;
    size_t i;
    int rc = 0;

    memset(out, 0, sizeof *out);
    why[0] = '\0';
    v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++)
        v[i] = &spans[i];
    qsort(v, n, sizeof *v, by_start);
    root = find_root(v, n);
    if (!root || !filters_pass(tr, root, v, n, why, whylen)) {
        rc = root ? TRACE_FILTERED : TRACE_NO_QUESTION;
        goto out;
    }
    if (!(qs = question_span(root, v, n, &q))) {
        snprintf(why, whylen, "no span has an input (input.value, traceloop.entity.input, "
                              "gen_ai.prompt, ...)");
        rc = TRACE_NO_QUESTION;
        goto out;
    }
    if (!(a = answer_of(qs, root, v, n))) {
        snprintf(why, whylen, "no span has an output");
        rc = TRACE_NO_ANSWER;
        goto out;
    }
    for (i = 0; i < n && rc == 0; i++)
        if (classify(v[i]) == C_RETRIEVER)
            rc = span_docs(&c, v[i]);
    if (rc < 0 || !(o = row_object(tr, root, q, a, &c))) {
        rc = -ENOMEM;
        goto out;
    }
    if (row_from_json(&out->r, o, cf, known, "", &e) < 0) {
        row_clear(&out->r);
        snprintf(why, whylen, "%s%s%s", e.field, e.field[0] ? ": " : "", e.message);
        rc = TRACE_INVALID;
        goto out;
    }
    run = source_value(&tr->run, root);
    if (run && !(out->run = strdup(run))) {
        trace_row_clear(out);
        rc = -ENOMEM;
        goto out;
    }
    snprintf(out->trace_id, sizeof out->trace_id, "%s", root->trace_id);
    snprintf(out->span_id, sizeof out->span_id, "%s", qs->span_id);
    rc = TRACE_ROW;
out:
    json_object_put(o);
    row_strings_free(c.v, c.n);
    free(q);
    free(a);
    free(v);
    return rc;
}

void trace_row_clear(trace_row *t)
{
    if (!t)
        return;
    row_clear(&t->r);
    free(t->run);
    t->run = NULL;
}
