/* otlp.c - decode OTLP/HTTP trace exports (protobuf through the protoc-c
 * generated code, or OTLP JSON through json-c; gzip through zlib) into a
 * flat, capped span list, and encode the export response. Every size that
 * comes from outside is capped: the decompressed body, the memory the
 * protobuf decoder may allocate, the spans kept, the attributes per span,
 * each key and value. */
#include "otlp.h"
#include "otlp_impl.h"
#include "otlp_trace.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>


/* ---- small helpers ---- */

void otlp_say(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* Refuse one span: count it, keep the first reason. */
void otlp_refuse(otlp_batch *b, const char *why)
{
    if (b->rejected++ == 0)
        snprintf(b->message, sizeof b->message, "%s", why);
}

char *otlp_dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void otlp_attrs_clear(otlp_attrs *a)
{
    size_t i;

    if (!a)
        return;
    for (i = 0; i < a->n; i++) {
        free(a->v[i].key);
        free(a->v[i].value);
    }
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

const char *otlp_attr(const otlp_attrs *a, const char *key)
{
    size_t i;

    for (i = 0; a && i < a->n; i++)
        if (!strcmp(a->v[i].key, key))
            return a->v[i].value;
    return NULL;
}

/* Append key = value (lengths given; neither may hold a NUL). 0, -E2BIG
 * over a cap (reason in *why), -ENOMEM. A repeated key keeps its first. */
int otlp_kv_add(otlp_attrs *a, const char *key, size_t klen, const char *val, size_t vlen,
                  const otlp_limits *lim, const char **why)
{
    otlp_kv *v;
    char *k;

    if (klen == 0)
        return 0;
    if (klen > lim->max_key || memchr(key, '\0', klen)) {
        *why = "an attribute key is too long or holds a NUL";
        return -E2BIG;
    }
    if (vlen > lim->max_value) {
        *why = "an attribute value is over the size limit";
        return -E2BIG;
    }
    if (a->n >= lim->max_attrs) {
        *why = "too many attributes";
        return -E2BIG;
    }
    if (memchr(val, '\0', vlen))
        vlen = strlen(val);         /* text stops at a NUL, as in C */
    k = otlp_dupn(key, klen);
    if (!k)
        return -ENOMEM;
    if (otlp_attr(a, k)) {
        free(k);
        return 0;
    }
    v = realloc(a->v, (a->n + 1) * sizeof *v);
    if (!v) {
        free(k);
        return -ENOMEM;
    }
    a->v = v;
    v[a->n].key = k;
    v[a->n].value = otlp_dupn(val, vlen);
    if (!v[a->n].value) {
        free(k);
        return -ENOMEM;
    }
    a->n++;
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static void to_hex(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Raw id bytes (n of them, exactly want) to hex; 0, or -EINVAL for a wrong
 * length or an all-zero id. */
static int id_bytes(char *out, const uint8_t *p, size_t n, size_t want)
{
    if (n != want || all_zero(p, n))
        return -EINVAL;
    to_hex(out, p, n);
    return 0;
}

/* A hex id (OTLP JSON) of exactly 2*want digits, lowercased; same rules. */
int otlp_id_hex(char *out, const char *s, size_t n, size_t want)
{
    size_t i;
    int nonzero = 0;

    if (n != 2 * want)
        return -EINVAL;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -EINVAL;
        nonzero |= c != '0';
        out[i] = c;
    }
    out[n] = '\0';
    return nonzero ? 0 : -EINVAL;
}

otlp_batch *otlp_batch_new(size_t n_resources)
{
    otlp_batch *b = calloc(1, sizeof *b);

    if (b && n_resources) {
        b->resources = calloc(n_resources, sizeof *b->resources);
        if (!b->resources) {
            free(b);
            b = NULL;
        }
    }
    return b;
}

void otlp_span_clear(otlp_span *s)
{
    free(s->name);
    otlp_attrs_clear(&s->attrs);
}

void otlp_batch_free(otlp_batch *b)
{
    size_t i;

    if (!b)
        return;
    for (i = 0; i < b->n_spans; i++)
        otlp_span_clear(&b->spans[i]);
    for (i = 0; i < b->n_resources; i++)
        otlp_attrs_clear(&b->resources[i]);
    free(b->spans);
    free(b->resources);
    free(b);
}

void otlp_limits_default(otlp_limits *lim, size_t max_body, size_t max_field)
{
    lim->max_body = max_body;
    lim->max_spans = 8192;
    lim->max_attrs = 256;
    lim->max_value = max_field;
    lim->max_key = 256;
}

int otlp_encoding_of(const char *ct)
{
    size_t n;

    if (!ct)
        return -EINVAL;
    while (*ct == ' ')
        ct++;
    n = strcspn(ct, "; \t");
    if ((n == 22 && !strncasecmp(ct, "application/x-protobuf", n)) ||
        (n == 20 && !strncasecmp(ct, "application/protobuf", n)))
        return OTLP_PROTOBUF;
    if (n == 16 && !strncasecmp(ct, "application/json", n))
        return OTLP_JSON;
    return -EINVAL;
}

int otlp_gzip_of(const char *ce)
{
    if (!ce || !*ce || !strcasecmp(ce, "identity"))
        return 0;
    if (!strcasecmp(ce, "gzip") || !strcasecmp(ce, "x-gzip"))
        return 1;
    return -EINVAL;
}

/* ---- gzip ---- */

/* Inflate a gzip body into a malloc'd buffer of at most cap bytes (plus a
 * NUL). 0, -EINVAL (not gzip, truncated), -E2BIG (over cap), -ENOMEM. */
static int gunzip(const void *in, size_t len, size_t cap, char **out, size_t *outlen)
{
    z_stream z;
    char *buf = NULL, *tmp;
    size_t size = len * 4 < cap ? len * 4 + 64 : cap + 1, used = 0;
    int zrc, rc = 0;

    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return -ENOMEM;
    buf = malloc(size + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    for (;;) {
        z.next_out = (Bytef *)buf + used;
        z.avail_out = (uInt)(size - used);
        zrc = inflate(&z, Z_NO_FLUSH);
        used = size - z.avail_out;
        if (used > cap) {
            rc = -E2BIG;
            goto out;
        }
        if (zrc == Z_STREAM_END)
            break;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = -EINVAL;
            goto out;
        }
        if (z.avail_out != 0) {         /* input ended before the stream did */
            rc = -EINVAL;
            goto out;
        }
        size = size * 2 > cap + 1 ? cap + 1 : size * 2;
        tmp = realloc(buf, size + 1);
        if (!tmp) {
            rc = -ENOMEM;
            goto out;
        }
        buf = tmp;
    }
    buf[used] = '\0';
    *out = buf;
    *outlen = used;
    buf = NULL;
out:
    inflateEnd(&z);
    free(buf);
    return rc;
}

/* ---- protobuf ---- */

/* The generated decoder allocates through this: at most budget bytes in
 * all, so a small body of many empty messages cannot take the memory. */
struct budget {
    size_t left;
    int over;
};

static void *budget_alloc(void *data, size_t size)
{
    struct budget *bu = data;

    if (size > bu->left) {
        bu->over = 1;
        return NULL;
    }
    bu->left -= size;
    return malloc(size);
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

/* One scalar AnyValue as text in buf (cap bytes); returns a pointer to the
 * text (buf or the string itself) and its length in *n, or NULL if the value
 * is not kept. */
static const char *pb_scalar(const Otlp__AnyValue *v, char *buf, size_t cap, size_t *n)
{
    switch (v->value_case) {
    case OTLP__ANY_VALUE__VALUE_STRING_VALUE:
        *n = strlen(v->string_value);
        return v->string_value;
    case OTLP__ANY_VALUE__VALUE_BOOL_VALUE:
        *n = (size_t)snprintf(buf, cap, "%s", v->bool_value ? "true" : "false");
        return buf;
    case OTLP__ANY_VALUE__VALUE_INT_VALUE:
        *n = (size_t)snprintf(buf, cap, "%" PRId64, v->int_value);
        return buf;
    case OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE:
        *n = (size_t)snprintf(buf, cap, "%.17g", v->double_value);
        return buf;
    default:
        return NULL;
    }
}

/* An array value (still packed: see otlp_trace.proto) as a JSON array of
 * its scalars; malloc'd text or NULL. */
static char *pb_array(const ProtobufCBinaryData *packed, struct budget *bu)
{
    ProtobufCAllocator al = { budget_alloc, budget_free, bu };
    Otlp__ArrayValue *arr = otlp__array_value__unpack(&al, packed->len, packed->data);
    json_object *j = NULL;
    char *text = NULL, num[64];
    size_t i, n;

    if (!arr)
        goto out;
    j = json_object_new_array();
    for (i = 0; j && i < arr->n_values && i < ARRAY_ITEMS_MAX; i++) {
        const char *s = pb_scalar(arr->values[i], num, sizeof num, &n);

        if (s)
            json_object_array_add(j, json_object_new_string_len(s, (int)n));
    }
    if (j)
        text = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
out:
    json_object_put(j);
    if (arr)
        otlp__array_value__free_unpacked(arr, &al);
    return text;
}

/* Copy protobuf attributes into a; 0, -E2BIG (reason in *why), -ENOMEM. */
static int pb_attrs(otlp_attrs *a, Otlp__KeyValue **kv, size_t n, const otlp_limits *lim,
                    struct budget *bu, const char **why)
{
    char num[64], *arr;
    const char *s;
    size_t i, len;
    int rc = 0;

    for (i = 0; i < n && rc == 0; i++) {
        if (!kv[i]->value)
            continue;
        if (kv[i]->value->value_case == OTLP__ANY_VALUE__VALUE_ARRAY_VALUE) {
            arr = pb_array(&kv[i]->value->array_value, bu);
            if (arr)
                rc = otlp_kv_add(a, kv[i]->key, strlen(kv[i]->key), arr, strlen(arr), lim, why);
            free(arr);
            continue;
        }
        s = pb_scalar(kv[i]->value, num, sizeof num, &len);
        if (s)
            rc = otlp_kv_add(a, kv[i]->key, strlen(kv[i]->key), s, len, lim, why);
    }
    return rc;
}

/* Validate and append one span of resource res; a refused span is counted
 * in b. 0 or -ENOMEM. */
static int pb_span(otlp_batch *b, const Otlp__Span *ps, const otlp_attrs *res,
                   const otlp_limits *lim, struct budget *bu)
{
    otlp_span *s = &b->spans[b->n_spans];
    const char *why = NULL;
    int rc;

    memset(s, 0, sizeof *s);
    if (id_bytes(s->trace_id, ps->trace_id.data, ps->trace_id.len, 16) < 0 ||
        id_bytes(s->span_id, ps->span_id.data, ps->span_id.len, 8) < 0) {
        otlp_refuse(b, "a span has an invalid trace_id or span_id");
        return 0;
    }
    if (ps->parent_span_id.len &&
        id_bytes(s->parent_id, ps->parent_span_id.data, ps->parent_span_id.len, 8) < 0) {
        otlp_refuse(b, "a span has an invalid parent_span_id");
        return 0;
    }
    if (strlen(ps->name) > lim->max_value) {
        otlp_refuse(b, "a span name is over the size limit");
        return 0;
    }
    s->name = strdup(ps->name);
    if (!s->name)
        return -ENOMEM;
    s->kind = (int)ps->kind >= 0 && (int)ps->kind <= 5 ? (int)ps->kind : 0;
    s->start_ns = ps->start_time_unix_nano;
    s->end_ns = ps->end_time_unix_nano;
    s->resource = res;
    rc = pb_attrs(&s->attrs, ps->attributes, ps->n_attributes, lim, bu, &why);
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

static int pb_decode(const uint8_t *p, size_t len, const otlp_limits *lim, otlp_batch **out,
                     char *err, size_t errlen)
{
    struct budget bu = { 16 * len + (1u << 20), 0 };   /* real exports take ~4x */
    ProtobufCAllocator al = { budget_alloc, budget_free, &bu };
    Otlp__ExportTraceServiceRequest *req;
    otlp_batch *b = NULL;
    size_t i, j, k, total = 0;
    const char *why = NULL;
    int rc = 0;

    req = otlp__export_trace_service_request__unpack(&al, len, p);
    if (!req) {
        rc = bu.over ? -E2BIG : -EINVAL;
        otlp_say(err, errlen, bu.over ? "the protobuf payload decodes to too much memory"
                                 : "malformed protobuf ExportTraceServiceRequest");
        goto out;
    }
    for (i = 0; i < req->n_resource_spans; i++)
        for (j = 0; j < req->resource_spans[i]->n_scope_spans; j++)
            total += req->resource_spans[i]->scope_spans[j]->n_spans;
    b = otlp_batch_new(req->n_resource_spans);
    if (!b || !(b->spans = calloc(total < lim->max_spans ? total + 1 : lim->max_spans + 1,
                                  sizeof *b->spans))) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < req->n_resource_spans && rc == 0; i++) {
        const Otlp__ResourceSpans *rs = req->resource_spans[i];

        b->n_resources++;
        if (rs->resource &&
            pb_attrs(&b->resources[i], rs->resource->attributes, rs->resource->n_attributes,
                     lim, &bu, &why) == -ENOMEM) {
            rc = -ENOMEM;
            break;
        }
        for (j = 0; j < rs->n_scope_spans && rc == 0; j++)
            for (k = 0; k < rs->scope_spans[j]->n_spans && rc == 0; k++) {
                if (b->n_spans >= lim->max_spans) {
                    otlp_refuse(b, "too many spans in one request");
                    continue;
                }
                rc = pb_span(b, rs->scope_spans[j]->spans[k], &b->resources[i], lim, &bu);
            }
    }
    if (rc < 0) {
        otlp_say(err, errlen, "out of memory");
        goto out;
    }
    *out = b;
    b = NULL;
out:
    otlp_batch_free(b);
    if (req)
        otlp__export_trace_service_request__free_unpacked(req, &al);
    return rc;
}

int otlp_decode(const void *body, size_t len, int encoding, int gzip, const otlp_limits *lim,
                otlp_batch **out, char *err, size_t errlen)
{
    char *plain = NULL;
    size_t plen = len;
    const void *p = body;
    int rc;

    *out = NULL;
    if (gzip) {
        rc = gunzip(body, len, lim->max_body, &plain, &plen);
        if (rc < 0) {
            otlp_say(err, errlen, rc == -E2BIG ? "the body is over the size limit once decompressed"
                             : rc == -EINVAL ? "malformed gzip body" : "out of memory");
            goto out;
        }
        p = plain;
    } else if (len > lim->max_body) {
        rc = -E2BIG;
        otlp_say(err, errlen, "the body is over the size limit");
        goto out;
    }
    if (encoding == OTLP_PROTOBUF)
        rc = pb_decode(p, plen, lim, out, err, errlen);
    else if (encoding == OTLP_JSON)
        rc = otlp_json_decode(p, plen, lim, out, err, errlen);
    else {
        rc = -EINVAL;
        otlp_say(err, errlen, "unsupported content type");
    }
out:
    free(plain);
    return rc;
}

/* ---- responses ---- */

static int copy_out(const void *p, size_t n, char **out, size_t *outlen)
{
    *out = malloc(n + 1);
    if (!*out)
        return -ENOMEM;
    memcpy(*out, p, n);
    (*out)[n] = '\0';
    *outlen = n;
    return 0;
}

static int json_out(json_object *j, char **out, size_t *outlen)
{
    const char *t;
    size_t n;
    int rc;

    if (!j)
        return -ENOMEM;
    t = json_object_to_json_string_length(j, JSON_C_TO_STRING_PLAIN, &n);
    rc = t ? copy_out(t, n, out, outlen) : -ENOMEM;
    json_object_put(j);
    return rc;
}

int otlp_response(int encoding, int64_t rejected, const char *message, char **out,
                  size_t *outlen)
{
    Otlp__ExportTraceServiceResponse resp = OTLP__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    Otlp__ExportTracePartialSuccess ps = OTLP__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    json_object *j, *pj;
    uint8_t *buf;
    size_t n;
    char num[32];
    int rc;

    if (encoding == OTLP_JSON) {
        j = json_object_new_object();
        if (j && rejected > 0) {
            pj = json_object_new_object();
            snprintf(num, sizeof num, "%" PRId64, rejected);     /* int64: a string */
            json_object_object_add(pj, "rejectedSpans", json_object_new_string(num));
            json_object_object_add(pj, "errorMessage", json_object_new_string(message ? message : ""));
            json_object_object_add(j, "partialSuccess", pj);
        }
        return json_out(j, out, outlen);
    }
    if (rejected > 0) {
        ps.rejected_spans = rejected;
        ps.error_message = (char *)(message ? message : "");
        resp.partial_success = &ps;
    }
    n = otlp__export_trace_service_response__get_packed_size(&resp);
    buf = malloc(n + 1);
    if (!buf)
        return -ENOMEM;
    otlp__export_trace_service_response__pack(&resp, buf);
    rc = copy_out(buf, n, out, outlen);
    free(buf);
    return rc;
}

int otlp_status(int encoding, const char *message, char **out, size_t *outlen)
{
    Otlp__Status st = OTLP__STATUS__INIT;
    json_object *j;
    uint8_t *buf;
    size_t n;
    int rc;

    if (encoding == OTLP_JSON) {
        j = json_object_new_object();
        if (j) {
            json_object_object_add(j, "code", json_object_new_int(3));  /* INVALID_ARGUMENT */
            json_object_object_add(j, "message", json_object_new_string(message ? message : ""));
        }
        return json_out(j, out, outlen);
    }
    st.code = 3;
    st.message = (char *)(message ? message : "");
    n = otlp__status__get_packed_size(&st);
    buf = malloc(n + 1);
    if (!buf)
        return -ENOMEM;
    otlp__status__pack(&st, buf);
    rc = copy_out(buf, n, out, outlen);
    free(buf);
    return rc;
}

/* ---- attributes as stored ---- */

char *otlp_attrs_json(const otlp_attrs *a)
{
    json_object *j = json_object_new_object();
    char *text = NULL;
    size_t i;

    for (i = 0; j && a && i < a->n; i++)
        json_object_object_add(j, a->v[i].key, json_object_new_string(a->v[i].value));
    if (j)
        text = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(j);
    return text;
}

int otlp_attrs_parse(otlp_attrs *a, const char *json)
{
    json_object *j = json_tokener_parse(json ? json : "");
    size_t n = 0;
    int rc = 0;

    a->v = NULL;
    a->n = 0;
    if (!json_object_is_type(j, json_type_object)) {
        rc = -EINVAL;
        goto out;
    }
    a->v = calloc((size_t)json_object_object_length(j) + 1, sizeof *a->v);
    if (!a->v) {
        rc = -ENOMEM;
        goto out;
    }
    json_object_object_foreach(j, key, val) {
        a->v[n].key = strdup(key);
        a->v[n].value = strdup(json_object_is_type(val, json_type_string)
                                   ? json_object_get_string(val) : json_object_to_json_string(val));
        a->n = ++n;
        if (!a->v[n - 1].key || !a->v[n - 1].value) {
            rc = -ENOMEM;
            goto out;
        }
    }
out:
    json_object_put(j);
    return rc;
}
