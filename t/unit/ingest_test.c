/* ingest_test.c - the ingestion path without HTTP (ingest.c) on a real
 * SQLite file (db_open's schema plus sql/003_spans.sql): bodies the
 * OpenTelemetry JavaScript SDK sent (t/otlp/data) exported, exported again
 * (a retry), assembled into rows stored by db_insert; error answers (400
 * with a Status, 415, 413); and sampling at 0.25 over 4,000 traces, the
 * share within tolerance and the same traces kept on a second export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "clock.h"
#include "db.h"
#include "db_int.h"
#include "ingest.h"
#include "otlp_trace.pb-c.h"

struct fixture {
    char dir[64];
    db *d;
    spanstore *s;
    conf cf;
    trace_rules *tr;
};

static char *slurp(const char *rel, size_t *len)
{
    const char *src = getenv("RAGRADE_SRCDIR");
    char path[1024], *buf;
    FILE *f;
    long n;

    snprintf(path, sizeof path, "%s/%s", src ? src : ".", rel);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256], path[128], *sql;
    size_t n;

    snprintf(f->dir, sizeof f->dir, "/tmp/ragrade-ingest-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof path, "%s/t.db", f->dir);
    f->d = db_open(path, 5000, 0, err, sizeof err);
    assert_non_null(f->d);
    sql = slurp("sql/003_spans.sql", &n);
    assert_int_equal(sqlite3_exec(db_handle(f->d), sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
    f->s = spanstore_new(f->d, err, sizeof err);
    assert_non_null(f->s);
    conf_defaults(&f->cf);
    f->tr = trace_rules_new(&f->cf, err, sizeof err);
    assert_non_null(f->tr);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    static const char *const files[] = { "t.db", "t.db-wal", "t.db-shm", "t.db-write.lock",
                                         "t.db-checkpoint.lock", NULL };
    char p[160];
    int i;

    trace_rules_free(f->tr);
    spanstore_free(f->s);
    db_close(f->d);
    for (i = 0; files[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", f->dir, files[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The insert callback: db_insert in the assembler's transaction. */
static int insert_row(void *ctx, const trace_row *t, int64_t *id, char *err, size_t errlen)
{
    struct fixture *f = ctx;
    char now[32];
    int rc;

    clock_iso(clock_wall_ms(), now, sizeof now);
    rc = db_insert(f->d, &t->r, 1, NULL, NULL, 3, now, id);
    if (rc < 0)
        snprintf(err, errlen, "insert: %s", db_errmsg(f->d));
    return rc;
}

static int64_t count_rows(struct fixture *f, const char *where)
{
    char q[256];
    sqlite3_stmt *st;
    int64_t n = -1;

    snprintf(q, sizeof q, "SELECT count(*) FROM evaluations WHERE %s", where);
    assert_int_equal(sqlite3_prepare_v2(db_handle(f->d), q, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_export_retry_assemble(void **state)
{
    struct fixture *f = *state;
    Otlp__ExportTraceServiceResponse *resp;
    ingest_reply r;
    ingest_pass pass;
    char err[256];
    size_t len;
    char *body = slurp("t/otlp/data/openinference-gzip-0.pb.gz", &len);

    assert_int_equal(ingest_export(f->s, f->tr, &f->cf, "application/x-protobuf", "gzip", body, len,
                                   1000, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/x-protobuf");
    resp = otlp__export_trace_service_response__unpack(NULL, r.len, (uint8_t *)r.body);
    assert_non_null(resp);
    assert_null(resp->partial_success);
    otlp__export_trace_service_response__free_unpacked(resp, NULL);
    assert_int_equal(r.stored.stored, 9);
    ingest_reply_clear(&r);
    /* The exporter retries: nothing new. */
    assert_int_equal(ingest_export(f->s, f->tr, &f->cf, "application/x-protobuf", "gzip", body, len,
                                   1500, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.stored.duplicate, 9);
    ingest_reply_clear(&r);
    /* Not quiet yet; then quiet. */
    assert_int_equal(ingest_assemble(f->s, f->tr, &f->cf, NULL, insert_row, f, 1000 + 4999, 64,
                                     &pass, err, sizeof err), 0);
    assert_int_equal(pass.outcomes[TRACE_ROW], 0);
    assert_int_equal(ingest_assemble(f->s, f->tr, &f->cf, NULL, insert_row, f, 1000 + 5000, 64,
                                     &pass, err, sizeof err), 0);
    assert_int_equal(pass.outcomes[TRACE_ROW], 3);
    assert_int_equal(count_rows(f, "question LIKE 'What is the capital of country %' AND "
                                   "json_array_length(contexts) = 3 AND dataset = 'fake-rag'"), 3);
    assert_int_equal(count_rows(f, "answer = 'The capital of country 2 is City2.' AND "
                                   "contexts ->> '$[0]' = 'Document one for 2: the capital is City2.'"),
                     1);
    /* A retry after the assembly makes no second row. */
    assert_int_equal(ingest_export(f->s, f->tr, &f->cf, "application/x-protobuf", "gzip", body, len,
                                   9000, &r), 0);
    assert_int_equal(r.stored.late, 9);
    ingest_reply_clear(&r);
    assert_int_equal(ingest_assemble(f->s, f->tr, &f->cf, NULL, insert_row, f, 99000, 64, &pass,
                                     err, sizeof err), 0);
    assert_int_equal(count_rows(f, "1"), 3);
    assert_int_equal(spanstore_counter(f->s, "traces_row"), 3);
    assert_int_equal(spanstore_counter(f->s, "spans_received"), 27);
    free(body);
}

/* The JS SDK's one-trace JSON body cut into one request per span, sent
 * children first and root last, a second apart: one row, once quiet after
 * the last. */
static void test_split_shuffled(void **state)
{
    struct fixture *f = *state;
    size_t len, i, n;
    char *text = slurp("t/otlp/data/openinference-json-0.json", &len), err[256];
    json_object *req = json_tokener_parse(text), *spans, *one;
    ingest_reply r;
    ingest_pass pass;
    int order[3], k = 0;

    spans = json_object_object_get(json_object_array_get_idx(json_object_object_get(
        json_object_array_get_idx(json_object_object_get(req, "resourceSpans"), 0), "scopeSpans"), 0),
        "spans");
    n = json_object_array_length(spans);
    assert_int_equal(n, 3);
    for (i = 0; i < n; i++)                     /* children first, then the root */
        if (json_object_object_get(json_object_array_get_idx(spans, i), "parentSpanId"))
            order[k++] = (int)i;
    for (i = 0; i < n; i++)
        if (!json_object_object_get(json_object_array_get_idx(spans, i), "parentSpanId"))
            order[k++] = (int)i;
    assert_int_equal(k, 3);
    json_object_get(spans);
    for (i = 0; i < n; i++) {
        one = json_object_new_array();
        json_object_array_add(one, json_object_get(json_object_array_get_idx(spans, order[i])));
        json_object_object_add(json_object_array_get_idx(json_object_object_get(
            json_object_array_get_idx(json_object_object_get(req, "resourceSpans"), 0),
            "scopeSpans"), 0), "spans", one);
        const char *body = json_object_to_json_string(req);
        assert_int_equal(ingest_export(f->s, f->tr, &f->cf, "application/json", NULL, body,
                                       strlen(body), 1000 + 1000 * (int64_t)i, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.stored.stored, 1);
        ingest_reply_clear(&r);
        assert_int_equal(ingest_assemble(f->s, f->tr, &f->cf, NULL, insert_row, f,
                                         1000 + 1000 * (int64_t)i + 4000, 64, &pass, err,
                                         sizeof err), 0);
        assert_int_equal(pass.outcomes[TRACE_ROW], 0);    /* no root yet, or not quiet */
    }
    assert_int_equal(ingest_assemble(f->s, f->tr, &f->cf, NULL, insert_row, f, 3000 + 5000, 64,
                                     &pass, err, sizeof err), 0);
    assert_int_equal(pass.outcomes[TRACE_ROW], 1);
    assert_int_equal(count_rows(f, "question LIKE 'What is the capital of country 0?%' AND "
                                   "answer = 'The capital of country 0 is City0.' AND "
                                   "contexts ->> '$[2]' = 'Document three for 0: unrelated text \u2713.'"),
                     1);
    json_object_put(spans);
    json_object_put(req);
    free(text);
}

static void test_errors(void **state)
{
    struct fixture *f = *state;
    Otlp__Status *st;
    ingest_reply r;

    assert_int_equal(ingest_export(f->s, f->tr, &f->cf, "application/x-protobuf", NULL, "\x0a\x05\x01",
                                   3, 1000, &r), 0);
    assert_int_equal(r.status, 400);
    st = otlp__status__unpack(NULL, r.len, (uint8_t *)r.body);
    assert_non_null(st);
    assert_int_equal(st->code, 3);
    assert_true(strlen(st->message) > 0);
    otlp__status__free_unpacked(st, NULL);
    ingest_reply_clear(&r);
    assert_int_equal(ingest_export(f->s, f->tr, &f->cf, "application/json", NULL, "{\"resourceSpans\":",
                                   17, 1000, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.content_type, "application/json");
    assert_non_null(strstr(r.body, "\"code\":3"));
    ingest_reply_clear(&r);
    assert_int_equal(ingest_export(f->s, f->tr, &f->cf, "text/plain", NULL, "x", 1, 1000, &r), 0);
    assert_int_equal(r.status, 415);
    ingest_reply_clear(&r);
    f->cf.max_otlp_body = 1024;
    {
        char big[2048];

        memset(big, ' ', sizeof big);
        assert_int_equal(ingest_export(f->s, f->tr, &f->cf, "application/json", NULL, big, sizeof big,
                                       1000, &r), 0);
        assert_int_equal(r.status, 413);
        ingest_reply_clear(&r);
    }
    assert_int_equal(spanstore_pending(f->s), 0);             /* nothing stored */
}

/* 4,000 one-span traces in JSON (batches of 500) at sample_rate 0.25. */
static void test_sampling(void **state)
{
    struct fixture *f = *state;
    char err[256], *body = malloc(1 << 20), id[33];
    ingest_reply r;
    size_t i, k, o, kept = 0, expect = 0, total = 4000;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    double sd;
    int round;

    trace_rules_free(f->tr);
    f->cf.ingest_sample_rate = 0.25;
    f->tr = trace_rules_new(&f->cf, err, sizeof err);
    assert_non_null(f->tr);
    for (round = 0; round < 2; round++) {
        x = 0x9e3779b97f4a7c15ULL;
        for (k = 0; k < total; k += 500) {
            o = (size_t)snprintf(body, 1 << 20, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
            for (i = k; i < k + 500; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long)~x,
                         (unsigned long long)x);
                expect += round == 0 && trace_sample(0.25, id);
                o += (size_t)snprintf(body + o, (1 << 20) - o,
                                      "%s{\"traceId\":\"%s\",\"spanId\":\"00000000000000%02zx\","
                                      "\"name\":\"r\",\"endTimeUnixNano\":\"5\"}",
                                      i > k ? "," : "", id, i % 200 + 1);
            }
            o += (size_t)snprintf(body + o, (1 << 20) - o, "]}]}]}");
            assert_int_equal(ingest_export(f->s, f->tr, &f->cf, "application/json", NULL, body, o,
                                           1000, &r), 0);
            assert_int_equal(r.status, 200);
            kept += round == 0 ? r.stored.stored : 0;
            if (round == 1)
                assert_int_equal(r.stored.stored, 0);     /* the same traces, all duplicates */
            ingest_reply_clear(&r);
        }
    }
    assert_int_equal(kept, expect);
    assert_int_equal(spanstore_pending(f->s), (int64_t)kept);
    sd = sqrt(total * 0.25 * 0.75);
    assert_true(fabs((double)kept - total * 0.25) < 4 * sd);
    assert_int_equal(spanstore_counter(f->s, "spans_sampled_out"), 2 * (int64_t)(total - kept));
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_export_retry_assemble, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_shuffled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sampling, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
