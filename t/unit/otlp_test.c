/* otlp_test.c - unit tests of the OTLP decoders (otlp.c) and of trace
 * assembly (trace.c) on bodies that a real client sent: the OpenTelemetry
 * JavaScript SDK's protobuf and JSON exporters (OpenInference, OpenLLMetry
 * and GenAI attributes), captured by
 * t/otlp/capture.py into t/otlp/data together with what the client says it
 * sent (NAME.sent.json). Also: malformed bodies, caps, gzip, the responses
 * (read back with the generated decoder), sampling and filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "conf.h"
#include "otlp.h"
#include "otlp_trace.pb-c.h"
#include "trace.h"

static char *slurp(const char *name, size_t *len)
{
    const char *src = getenv("RAGRADE_SRCDIR");
    char path[1024];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof path, "%s/t/otlp/data/%s", src ? src : ".", name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void limits(otlp_limits *lim)
{
    otlp_limits_default(lim, 1 << 20, 64 * 1024);
}

static otlp_batch *decode_file(const char *name, int enc, int gz)
{
    otlp_limits lim;
    otlp_batch *b = NULL;
    char err[256] = "";
    size_t len;
    char *body = slurp(name, &len);

    limits(&lim);
    assert_int_equal(otlp_decode(body, len, enc, gz, &lim, &b, err, sizeof err), 0);
    free(body);
    assert_non_null(b);
    return b;
}

/* Every span of trace t (hex) in b, copied into one array (pointers shared). */
static otlp_span *spans_of(const otlp_batch *b, const char *t, size_t *n)
{
    otlp_span *v = calloc(b->n_spans + 1, sizeof *v);
    size_t i;

    *n = 0;
    for (i = 0; i < b->n_spans; i++)
        if (!strcmp(b->spans[i].trace_id, t))
            v[(*n)++] = b->spans[i];
    return v;
}

/* Decode name, assemble each trace the client sent, compare with sent. */
static void check_capture(const char *name, const char *sent_name, int enc, int gz)
{
    otlp_batch *b = decode_file(name, enc, gz);
    size_t len, i, k, n;
    char *sent_text = slurp(sent_name, &len), why[256];
    json_object *sent = json_tokener_parse(sent_text), *traces, *t, *ctx;
    trace_rules *tr;
    trace_row tw;
    conf cf;

    conf_defaults(&cf);
    tr = trace_rules_new(&cf, why, sizeof why);
    assert_non_null(tr);
    assert_true(json_object_object_get_ex(sent, "traces", &traces));
    assert_int_equal(b->rejected, 0);
    assert_int_equal(b->n_spans, 3 * json_object_array_length(traces));
    for (i = 0; i < json_object_array_length(traces); i++) {
        otlp_span *v;

        t = json_object_array_get_idx(traces, i);
        v = spans_of(b, json_object_get_string(json_object_object_get(t, "trace_id")), &n);
        assert_int_equal(n, 3);
        assert_int_equal(trace_assemble(tr, &cf, NULL, v, n, &tw, why, sizeof why), TRACE_ROW);
        assert_string_equal(tw.r.question, json_object_get_string(json_object_object_get(t, "question")));
        assert_string_equal(tw.r.answer, json_object_get_string(json_object_object_get(t, "answer")));
        ctx = json_object_object_get(t, "contexts");
        assert_int_equal(tw.r.n_contexts, json_object_array_length(ctx));
        for (k = 0; k < tw.r.n_contexts; k++)
            assert_string_equal(tw.r.contexts[k],
                                json_object_get_string(json_object_array_get_idx(ctx, k)));
        assert_string_equal(tw.trace_id, json_object_get_string(json_object_object_get(t, "trace_id")));
        assert_string_equal(tw.span_id,
                            json_object_get_string(json_object_object_get(t, "root_span_id")));
        assert_string_equal(tw.r.dataset, "fake-rag");      /* resource:service.name */
        assert_string_equal(tw.run, "1.0.0");               /* resource:service.version */
        trace_row_clear(&tw);
        free(v);
    }
    trace_rules_free(tr);
    json_object_put(sent);
    free(sent_text);
    otlp_batch_free(b);
}

static void test_openinference_proto(void **s)
{
    (void)s;
    check_capture("openinference-proto-0.pb", "openinference-proto.sent.json", OTLP_PROTOBUF, 0);
}

static void test_openinference_json(void **s)
{
    (void)s;
    check_capture("openinference-json-0.json", "openinference-json.sent.json", OTLP_JSON, 0);
}

static void test_openllmetry_proto(void **s)
{
    (void)s;
    check_capture("openllmetry-proto-0.pb", "openllmetry-proto.sent.json", OTLP_PROTOBUF, 0);
}

static void test_openllmetry_json(void **s)
{
    (void)s;
    check_capture("openllmetry-json-0.json", "openllmetry-json.sent.json", OTLP_JSON, 0);
}

static void test_gzip_three_traces(void **s)
{
    (void)s;
    check_capture("openinference-gzip-0.pb.gz", "openinference-gzip.sent.json", OTLP_PROTOBUF, 1);
}

static void test_genai_json(void **s)
{
    (void)s;
    check_capture("genai-json-0.json", "genai-json.sent.json", OTLP_JSON, 0);
}

static void test_genai_proto_gzip(void **s)
{
    (void)s;
    check_capture("genai-proto-0.pb.gz", "genai-proto.sent.json", OTLP_PROTOBUF, 1);
}

/* The same spans from protobuf and JSON decode to the same attributes. */
static void test_span_fields(void **s)
{
    otlp_batch *b = decode_file("openinference-proto-0.pb", OTLP_PROTOBUF, 0);
    const otlp_span *root = NULL;
    size_t i;

    (void)s;
    for (i = 0; i < b->n_spans; i++)
        if (!b->spans[i].parent_id[0])
            root = &b->spans[i];
    assert_non_null(root);
    assert_string_equal(root->name, "rag-query");
    assert_int_equal(root->kind, 2);                         /* SPAN_KIND_SERVER */
    assert_true(root->start_ns > 1600000000000000000ULL && root->end_ns >= root->start_ns);
    assert_string_equal(otlp_attr(&root->attrs, "openinference.span.kind"), "CHAIN");
    assert_string_equal(otlp_attr(root->resource, "service.name"), "fake-rag");
    for (i = 0; i < b->n_spans; i++)
        if (b->spans[i].parent_id[0]) {
            assert_string_equal(b->spans[i].parent_id, root->span_id);
            assert_string_equal(b->spans[i].trace_id, root->trace_id);
        }
    otlp_batch_free(b);
}

static void test_malformed(void **s)
{
    static const char *const bad_json[] = { "", "{", "[]", "{\"resourceSpans\": 3}",
                                            "{\"resourceSpans\": [1]}", "nul", NULL };
    static const uint8_t bad_pb[] = { 0x0a, 0x05, 0x12, 0x10, 0x01 };   /* length past the end */
    otlp_limits lim;
    otlp_batch *b = NULL;
    char err[256];
    size_t i;

    (void)s;
    limits(&lim);
    for (i = 0; bad_json[i]; i++) {
        err[0] = '\0';
        assert_int_equal(otlp_decode(bad_json[i], strlen(bad_json[i]), OTLP_JSON, 0, &lim, &b, err,
                                     sizeof err), -EINVAL);
        assert_null(b);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(otlp_decode(bad_pb, sizeof bad_pb, OTLP_PROTOBUF, 0, &lim, &b, err, sizeof err),
                     -EINVAL);
    assert_int_equal(otlp_decode("not gzip", 8, OTLP_JSON, 1, &lim, &b, err, sizeof err), -EINVAL);
    /* An empty request is valid: no spans. */
    assert_int_equal(otlp_decode("{}", 2, OTLP_JSON, 0, &lim, &b, err, sizeof err), 0);
    assert_int_equal(b->n_spans, 0);
    otlp_batch_free(b);
    assert_int_equal(otlp_decode("", 0, OTLP_PROTOBUF, 0, &lim, &b, err, sizeof err), 0);
    assert_int_equal(b->n_spans, 0);
    otlp_batch_free(b);
}

/* Bad ids and over-cap attributes refuse the span, not the request. */
static void test_partial(void **s)
{
    const char *body =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
        "{\"traceId\":\"00000000000000000000000000000000\",\"spanId\":\"0102030405060708\"},"
        "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"01020304\"},"
        "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
        "\"attributes\":[{\"key\":\"big\",\"value\":{\"stringValue\":\"0123456789abcdefXXXX\"}}]},"
        "{\"trace_id\":\"0102030405060708090A0B0C0D0E0F10\",\"span_id\":\"1112131415161718\","
        "\"start_time_unix_nano\":\"12345678901234567\",\"attributes\":["
        "{\"key\":\"n\",\"value\":{\"intValue\":\"-42\"}},"
        "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"x\"},{\"boolValue\":true}]}}}]}"
        "]}]}]}";
    otlp_limits lim;
    otlp_batch *b = NULL;
    char err[256];

    (void)s;
    limits(&lim);
    lim.max_value = 16;
    assert_int_equal(otlp_decode(body, strlen(body), OTLP_JSON, 0, &lim, &b, err, sizeof err), 0);
    assert_int_equal(b->n_spans, 1);
    assert_int_equal(b->rejected, 3);
    assert_true(strstr(b->message, "traceId") != NULL);
    assert_string_equal(b->spans[0].trace_id, "0102030405060708090a0b0c0d0e0f10");
    assert_int_equal(b->spans[0].start_ns, 12345678901234567ULL);
    assert_string_equal(otlp_attr(&b->spans[0].attrs, "n"), "-42");
    assert_string_equal(otlp_attr(&b->spans[0].attrs, "a"), "[\"x\",\"true\"]");
    otlp_batch_free(b);
    lim.max_spans = 0;
    assert_int_equal(otlp_decode(body, strlen(body), OTLP_JSON, 0, &lim, &b, err, sizeof err), 0);
    assert_int_equal(b->n_spans, 0);
    assert_int_equal(b->rejected, 4);
    otlp_batch_free(b);
}

/* gzip of n zero bytes (a bomb when n is large). */
static uint8_t *gz_zeros(size_t n, size_t *outlen)
{
    uLong cap = compressBound((uLong)n) + 64;
    uint8_t *in = calloc(n, 1), *out = malloc(cap);
    z_stream z;

    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    free(in);
    return out;
}

static void test_caps(void **s)
{
    otlp_limits lim;
    otlp_batch *b = NULL;
    char err[256];
    size_t zlen;
    uint8_t *z = gz_zeros(8 << 20, &zlen);

    (void)s;
    limits(&lim);
    assert_true(zlen < 64 * 1024);
    assert_int_equal(otlp_decode(z, zlen, OTLP_PROTOBUF, 1, &lim, &b, err, sizeof err), -E2BIG);
    assert_null(b);
    free(z);
    /* 200,000 empty attributes in 400 kB: more memory than the budget. */
    {
        size_t blen;
        char *body = slurp("../../fuzz/regress/otlp_pb/many-empty-attributes", &blen);

        assert_int_equal(otlp_decode(body, blen, OTLP_PROTOBUF, 0, &lim, &b, err, sizeof err),
                         -E2BIG);
        assert_non_null(strstr(err, "memory"));
        free(body);
    }
    z = malloc((1 << 20) + 1);
    memset(z, ' ', (1 << 20) + 1);
    assert_int_equal(otlp_decode(z, (1 << 20) + 1, OTLP_JSON, 0, &lim, &b, err, sizeof err), -E2BIG);
    free(z);
}

static void test_responses(void **s)
{
    Otlp__ExportTraceServiceResponse *r;
    Otlp__Status *st;
    char *out;
    size_t n;

    (void)s;
    assert_int_equal(otlp_response(OTLP_PROTOBUF, 0, NULL, &out, &n), 0);
    assert_int_equal(n, 0);
    free(out);
    assert_int_equal(otlp_response(OTLP_PROTOBUF, 7, "seven refused", &out, &n), 0);
    r = otlp__export_trace_service_response__unpack(NULL, n, (uint8_t *)out);
    assert_non_null(r);
    assert_non_null(r->partial_success);
    assert_int_equal(r->partial_success->rejected_spans, 7);
    assert_string_equal(r->partial_success->error_message, "seven refused");
    otlp__export_trace_service_response__free_unpacked(r, NULL);
    free(out);
    assert_int_equal(otlp_response(OTLP_JSON, 7, "seven \"refused\"", &out, &n), 0);
    assert_string_equal(out, "{\"partialSuccess\":{\"rejectedSpans\":\"7\",\"errorMessage\":\"seven \\\"refused\\\"\"}}");
    free(out);
    assert_int_equal(otlp_response(OTLP_JSON, 0, NULL, &out, &n), 0);
    assert_string_equal(out, "{}");
    free(out);
    assert_int_equal(otlp_status(OTLP_PROTOBUF, "bad", &out, &n), 0);
    st = otlp__status__unpack(NULL, n, (uint8_t *)out);
    assert_non_null(st);
    assert_int_equal(st->code, 3);
    assert_string_equal(st->message, "bad");
    otlp__status__free_unpacked(st, NULL);
    free(out);
    assert_int_equal(otlp_encoding_of("application/x-protobuf"), OTLP_PROTOBUF);
    assert_int_equal(otlp_encoding_of("application/json; charset=utf-8"), OTLP_JSON);
    assert_int_equal(otlp_encoding_of("text/plain"), -EINVAL);
    assert_int_equal(otlp_gzip_of("gzip"), 1);
    assert_int_equal(otlp_gzip_of(NULL), 0);
    assert_int_equal(otlp_gzip_of("br"), -EINVAL);
}

/* Sampling: the threshold rule, checked against its definition computed
 * another way (the id's last 7 bytes as an integer), and the share over
 * pseudo-random ids within 5 standard deviations. */
static void test_sampling(void **s)
{
    uint64_t x = 88172645463325252ULL, r;
    char id[33];
    size_t i, in = 0, total = 40000;
    double rate = 0.25, sd;

    (void)s;
    for (i = 0; i < total; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;             /* xorshift64 */
        snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long)(x * 31),
                 (unsigned long long)x);
        r = x & ((UINT64_C(1) << 56) - 1);
        assert_int_equal(trace_sample(rate, id), (double)r >= 0.75 * 72057594037927936.0);
        assert_int_equal(trace_sample(rate, id), trace_sample(rate, id));
        assert_int_equal(trace_sample(1.0, id), 1);
        assert_int_equal(trace_sample(0.0, id), 0);
        in += (size_t)trace_sample(rate, id);
    }
    sd = 5 * sqrt(total * rate * (1 - rate));
    assert_true((double)in > total * rate - sd && (double)in < total * rate + sd);
    assert_int_equal(trace_sample(1.0, "xyz"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openinference_proto),
        cmocka_unit_test(test_openinference_json),
        cmocka_unit_test(test_openllmetry_proto),
        cmocka_unit_test(test_openllmetry_json),
        cmocka_unit_test(test_gzip_three_traces),
        cmocka_unit_test(test_genai_json),
        cmocka_unit_test(test_genai_proto_gzip),
        cmocka_unit_test(test_span_fields),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_partial),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_sampling),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
