/* otlp_json.c - the OTLP JSON encoding of an ExportTraceServiceRequest
 * (json-c): lowerCamelCase member names (the proto names are accepted too),
 * trace and span ids in hex, 64-bit integers as decimal strings or numbers,
 * enums as integers. Same caps and span checks as the protobuf decoder, via
 * otlp_impl.h. */
#include "otlp.h"
#include "otlp_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON ---- */

/* A member by its OTLP JSON name (lowerCamelCase) or its proto name. */
static json_object *member(json_object *o, const char *camel, const char *snake)
{
    json_object *v = NULL;

    if (!json_object_is_type(o, json_type_object))
        return NULL;
    if (json_object_object_get_ex(o, camel, &v) && !json_object_is_type(v, json_type_null))
        return v;
    if (snake && json_object_object_get_ex(o, snake, &v) && !json_object_is_type(v, json_type_null))
        return v;
    return NULL;
}

/* An array member; NULL when absent; *bad set when present but not an array. */
static json_object *array_member(json_object *o, const char *camel, const char *snake, int *bad)
{
    json_object *v = member(o, camel, snake);

    if (v && !json_object_is_type(v, json_type_array)) {
        *bad = 1;
        return NULL;
    }
    return v;
}

/* A uint64 given as a decimal string (OTLP JSON's int64 rule) or a number. */
static uint64_t json_u64(json_object *v)
{
    const char *s;
    char *end;
    unsigned long long u;

    if (!v)
        return 0;
    if (json_object_is_type(v, json_type_string)) {
        s = json_object_get_string(v);
        errno = 0;
        u = strtoull(s, &end, 10);
        return errno || end == s || *end || *s == '-' ? 0 : (uint64_t)u;
    }
    if (json_object_is_type(v, json_type_int))
        return (uint64_t)json_object_get_uint64(v);
    return 0;
}

/* A scalar AnyValue in JSON ({"stringValue": ...} etc.) as text. */
static const char *js_scalar(json_object *v, char *buf, size_t cap, size_t *n)
{
    json_object *x;

    if ((x = member(v, "stringValue", "string_value")) && json_object_is_type(x, json_type_string)) {
        *n = (size_t)json_object_get_string_len(x);
        return json_object_get_string(x);
    }
    if ((x = member(v, "boolValue", "bool_value"))) {
        *n = (size_t)snprintf(buf, cap, "%s", json_object_get_boolean(x) ? "true" : "false");
        return buf;
    }
    if ((x = member(v, "intValue", "int_value"))) {
        *n = (size_t)snprintf(buf, cap, "%" PRId64,
                              json_object_is_type(x, json_type_string)
                                  ? (int64_t)strtoll(json_object_get_string(x), NULL, 10)
                                  : json_object_get_int64(x));
        return buf;
    }
    if ((x = member(v, "doubleValue", "double_value"))) {
        *n = (size_t)snprintf(buf, cap, "%.17g", json_object_get_double(x));
        return buf;
    }
    return NULL;
}

static char *js_array(json_object *arr)
{
    json_object *vals = member(arr, "values", NULL), *j = json_object_new_array();
    char num[64], *text = NULL;
    const char *s;
    size_t i, n;

    for (i = 0; j && json_object_is_type(vals, json_type_array) &&
                i < json_object_array_length(vals) && i < ARRAY_ITEMS_MAX; i++) {
        s = js_scalar(json_object_array_get_idx(vals, i), num, sizeof num, &n);
        if (s)
            json_object_array_add(j, json_object_new_string_len(s, (int)n));
    }
    if (j)
        text = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(j);
    return text;
}

static int js_attrs(otlp_attrs *a, json_object *list, const otlp_limits *lim, const char **why)
{
    char num[64], *arr;
    const char *s, *key;
    json_object *kv, *k, *v, *x;
    size_t i, len;
    int rc = 0;

    if (!json_object_is_type(list, json_type_array))
        return 0;
    for (i = 0; i < json_object_array_length(list) && rc == 0; i++) {
        kv = json_object_array_get_idx(list, i);
        k = member(kv, "key", NULL);
        v = member(kv, "value", NULL);
        if (!k || !v || !json_object_is_type(k, json_type_string))
            continue;
        key = json_object_get_string(k);
        if ((x = member(v, "arrayValue", "array_value"))) {
            arr = js_array(x);
            if (arr)
                rc = otlp_kv_add(a, key, (size_t)json_object_get_string_len(k), arr, strlen(arr),
                            lim, why);
            free(arr);
            continue;
        }
        s = js_scalar(v, num, sizeof num, &len);
        if (s)
            rc = otlp_kv_add(a, key, (size_t)json_object_get_string_len(k), s, len, lim, why);
    }
    return rc;
}

static int js_id(char *out, json_object *v, size_t want)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return -EINVAL;
    return otlp_id_hex(out, json_object_get_string(v), (size_t)json_object_get_string_len(v), want);
}

static int js_span(otlp_batch *b, json_object *js, const otlp_attrs *res, const otlp_limits *lim)
{
    otlp_span *s = &b->spans[b->n_spans];
    json_object *parent = member(js, "parentSpanId", "parent_span_id"), *name, *kind;
    const char *why = NULL;
    int rc;

    memset(s, 0, sizeof *s);
    if (js_id(s->trace_id, member(js, "traceId", "trace_id"), 16) < 0 ||
        js_id(s->span_id, member(js, "spanId", "span_id"), 8) < 0) {
        otlp_refuse(b, "a span has an invalid traceId or spanId (16 and 8 bytes in hex)");
        return 0;
    }
    if (parent && json_object_get_string_len(parent) > 0 && js_id(s->parent_id, parent, 8) < 0) {
        otlp_refuse(b, "a span has an invalid parentSpanId");
        return 0;
    }
    name = member(js, "name", NULL);
    if (name && (size_t)json_object_get_string_len(name) > lim->max_value) {
        otlp_refuse(b, "a span name is over the size limit");
        return 0;
    }
    s->name = strdup(name && json_object_is_type(name, json_type_string)
                         ? json_object_get_string(name) : "");
    if (!s->name)
        return -ENOMEM;
    kind = member(js, "kind", NULL);
    s->kind = kind && json_object_is_type(kind, json_type_int) ? json_object_get_int(kind) : 0;
    if (s->kind < 0 || s->kind > 5)
        s->kind = 0;
    s->start_ns = json_u64(member(js, "startTimeUnixNano", "start_time_unix_nano"));
    s->end_ns = json_u64(member(js, "endTimeUnixNano", "end_time_unix_nano"));
    s->resource = res;
    rc = js_attrs(&s->attrs, member(js, "attributes", NULL), lim, &why);
    if (rc == -E2BIG) {
        otlp_span_clear(s);
        otlp_refuse(b, why);
        return 0;
    }
    if (rc < 0) {
        otlp_span_clear(s);
        return rc;
    }
    b->n_spans++;
    return 0;
}

/* Walk resourceSpans[].scopeSpans[].spans[]; bad set for a wrong shape. */
static int js_walk(otlp_batch *b, json_object *rss, const otlp_limits *lim, int *bad)
{
    json_object *rs, *sss, *spans, *res;
    const char *why = NULL;
    size_t i, j, k;
    int rc = 0;

    for (i = 0; i < json_object_array_length(rss) && rc == 0 && !*bad; i++) {
        rs = json_object_array_get_idx(rss, i);
        if (!json_object_is_type(rs, json_type_object)) {
            *bad = 1;
            break;
        }
        b->n_resources++;
        res = member(rs, "resource", NULL);
        if (res && js_attrs(&b->resources[i], member(res, "attributes", NULL), lim, &why) ==
                       -ENOMEM)
            return -ENOMEM;
        sss = array_member(rs, "scopeSpans", "scope_spans", bad);
        for (j = 0; sss && j < json_object_array_length(sss) && rc == 0 && !*bad; j++) {
            spans = array_member(json_object_array_get_idx(sss, j), "spans", NULL, bad);
            for (k = 0; spans && k < json_object_array_length(spans) && rc == 0; k++) {
                if (b->n_spans >= lim->max_spans) {
                    otlp_refuse(b, "too many spans in one request");
                    continue;
                }
                rc = js_span(b, json_object_array_get_idx(spans, k), &b->resources[i], lim);
            }
        }
    }
    return rc;
}

/* Spans in a request of the right shape (for sizing the list). */
static size_t js_count(json_object *rss)
{
    json_object *sss, *spans;
    size_t i, j, n = 0;

    for (i = 0; rss && i < json_object_array_length(rss); i++) {
        sss = member(json_object_array_get_idx(rss, i), "scopeSpans", "scope_spans");
        for (j = 0; json_object_is_type(sss, json_type_array) && j < json_object_array_length(sss);
             j++) {
            spans = member(json_object_array_get_idx(sss, j), "spans", NULL);
            if (json_object_is_type(spans, json_type_array))
                n += json_object_array_length(spans);
        }
    }
    return n;
}

int otlp_json_decode(const char *p, size_t len, const otlp_limits *lim, otlp_batch **out,
                     char *err, size_t errlen)
{
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    json_object *root = NULL, *rss;
    otlp_batch *b = NULL;
    size_t n;
    int rc = 0, bad = 0;

    if (!tok || len > INT32_MAX) {
        rc = tok ? -E2BIG : -ENOMEM;
        goto out;
    }
    root = json_tokener_parse_ex(tok, p, (int)len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(root, json_type_object)) {
        rc = -EINVAL;
        otlp_say(err, errlen, "malformed JSON: an ExportTraceServiceRequest object is expected");
        goto out;
    }
    rss = array_member(root, "resourceSpans", "resource_spans", &bad);
    n = js_count(rss);
    b = otlp_batch_new(rss ? json_object_array_length(rss) : 0);
    if (!b || !(b->spans = calloc(n < lim->max_spans ? n + 1 : lim->max_spans + 1,
                                  sizeof *b->spans))) {
        rc = -ENOMEM;
        goto out;
    }
    if (rss)
        rc = js_walk(b, rss, lim, &bad);
    if (rc == 0 && bad) {
        rc = -EINVAL;
        otlp_say(err, errlen, "malformed ExportTraceServiceRequest: a member has the wrong type");
        goto out;
    }
    if (rc < 0) {
        otlp_say(err, errlen, "out of memory");
        goto out;
    }
    *out = b;
    b = NULL;
out:
    otlp_batch_free(b);
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    return rc;
}

