/* otlp_bench.c - speed of OpenTelemetry ingestion without HTTP: protobuf
 * export requests of 512 spans (128 traces of 4 OpenInference spans: a
 * CHAIN root, a RETRIEVER with 3 documents, an LLM, a tool) decoded, then
 * the whole ingest_export (decode, sample, store in SQLite) and the
 * assembler's pass into rows (db_insert) on a real database file.
 * Usage: otlp_bench DIR [requests] (DIR: an empty directory for the
 * database; sql/003_spans.sql found through RAGRADE_SRCDIR). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "db.h"
#include "db_int.h"
#include "ingest.h"
#include "otlp_trace.pb-c.h"

#define SPANS 512

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static Otlp__KeyValue *kv(const char *k, const char *v)
{
    Otlp__KeyValue *p = malloc(sizeof *p);
    Otlp__AnyValue *a = malloc(sizeof *a);

    otlp__key_value__init(p);
    otlp__any_value__init(a);
    a->value_case = OTLP__ANY_VALUE__VALUE_STRING_VALUE;
    a->string_value = strdup(v);
    p->key = strdup(k);
    p->value = a;
    return p;
}

/* One request of SPANS spans, traces numbered from base; packed. */
static uint8_t *make_request(unsigned base, size_t *len)
{
    static Otlp__Span spans[SPANS], *sp[SPANS];
    static uint8_t ids[SPANS][24];
    Otlp__ExportTraceServiceRequest req = OTLP__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    Otlp__ResourceSpans rs = OTLP__RESOURCE_SPANS__INIT, *rsp = &rs;
    Otlp__ScopeSpans ss = OTLP__SCOPE_SPANS__INIT, *ssp = &ss;
    Otlp__Resource res = OTLP__RESOURCE__INIT;
    Otlp__KeyValue *rattr[2] = { kv("service.name", "bench"), kv("service.version", "1") };
    char text[256];
    uint8_t *out;
    size_t i, k;

    for (i = 0; i < SPANS; i++) {
        unsigned t = base + (unsigned)(i / 4), role = (unsigned)(i % 4);
        Otlp__KeyValue **a = calloc(8, sizeof *a);
        size_t n = 0;

        otlp__span__init(&spans[i]);
        memset(ids[i], 0, sizeof ids[i]);
        for (k = 0; k < 4; k++) {
            ids[i][k] = (uint8_t)(t >> (8 * k));
            ids[i][12 + k] = (uint8_t)((t * 2654435761u) >> (8 * k));
        }
        ids[i][16] = (uint8_t)(role + 1);
        ids[i][23] = 0xab;
        spans[i].trace_id.data = ids[i];
        spans[i].trace_id.len = 16;
        spans[i].span_id.data = ids[i] + 16;
        spans[i].span_id.len = 8;
        if (role) {
            static uint8_t root_id[8] = { 1, 0, 0, 0, 0, 0, 0, 0xab };

            spans[i].parent_span_id.data = root_id;
            spans[i].parent_span_id.len = 8;
        }
        spans[i].name = (char *)(role == 0 ? "rag" : role == 1 ? "retrieve" : role == 2 ? "llm" : "tool");
        spans[i].start_time_unix_nano = 1700000000000000000ULL + i;
        spans[i].end_time_unix_nano = spans[i].start_time_unix_nano + 1000;
        if (role == 0) {
            a[n++] = kv("openinference.span.kind", "CHAIN");
            snprintf(text, sizeof text, "What is the capital of country number %u?", t);
            a[n++] = kv("input.value", text);
            snprintf(text, sizeof text, "The capital of country number %u is City%u.", t, t);
            a[n++] = kv("output.value", text);
        } else if (role == 1) {
            a[n++] = kv("openinference.span.kind", "RETRIEVER");
            for (k = 0; k < 3; k++) {
                char key[64];

                snprintf(key, sizeof key, "retrieval.documents.%zu.document.content", k);
                snprintf(text, sizeof text, "Document %zu about country %u: a paragraph of some "
                         "length that a retriever returned for the question.", k, t);
                a[n++] = kv(key, text);
            }
        } else {
            a[n++] = kv("openinference.span.kind", role == 2 ? "LLM" : "TOOL");
            a[n++] = kv("llm.model_name", "bench-model");
        }
        spans[i].attributes = a;
        spans[i].n_attributes = n;
        sp[i] = &spans[i];
    }
    res.attributes = rattr;
    res.n_attributes = 2;
    ss.spans = sp;
    ss.n_spans = SPANS;
    rs.resource = &res;
    rs.scope_spans = &ssp;
    rs.n_scope_spans = 1;
    req.resource_spans = &rsp;
    req.n_resource_spans = 1;
    *len = otlp__export_trace_service_request__get_packed_size(&req);
    out = malloc(*len);
    otlp__export_trace_service_request__pack(&req, out);
    for (i = 0; i < SPANS; i++) {
        for (k = 0; k < spans[i].n_attributes; k++) {
            free(spans[i].attributes[k]->key);
            free(spans[i].attributes[k]->value->string_value);
            free(spans[i].attributes[k]->value);
            free(spans[i].attributes[k]);
        }
        free(spans[i].attributes);
    }
    for (k = 0; k < 2; k++) {
        free(rattr[k]->key);
        free(rattr[k]->value->string_value);
        free(rattr[k]->value);
        free(rattr[k]);
    }
    return out;
}

static int insert_row(void *ctx, const trace_row *t, int64_t *id, char *err, size_t errlen)
{
    char now[32];
    int rc;

    clock_iso(clock_wall_ms(), now, sizeof now);
    rc = db_insert(ctx, &t->r, 1, NULL, NULL, 3, now, id);
    if (rc < 0)
        snprintf(err, errlen, "insert failed");
    return rc;
}

int main(int argc, char **argv)
{
    const char *src = getenv("RAGRADE_SRCDIR");
    int requests = argc > 2 ? atoi(argv[2]) : 40, r, rc = 1;
    char path[1024], err[256], *sql = NULL;
    uint8_t **bodies = calloc((size_t)requests, sizeof *bodies);
    size_t *lens = calloc((size_t)requests, sizeof *lens), rows = 0;
    otlp_limits lim;
    otlp_batch *b;
    ingest_reply rep;
    ingest_pass pass;
    spanstore *ss = NULL;
    trace_rules *tr = NULL;
    db *d = NULL;
    conf cf;
    double t0;
    FILE *f;
    long n;

    if (argc < 2) {
        fprintf(stderr, "usage: otlp_bench DIR [requests]\n");
        return 2;
    }
    for (r = 0; r < requests; r++)
        bodies[r] = make_request((unsigned)r * (SPANS / 4) + 1, &lens[r]);
    conf_defaults(&cf);
    otlp_limits_default(&lim, cf.max_otlp_body, cf.max_field);
    t0 = now_s();
    for (r = 0; r < requests; r++) {
        if (otlp_decode(bodies[r], lens[r], OTLP_PROTOBUF, 0, &lim, &b, err, sizeof err) < 0) {
            fprintf(stderr, "decode: %s\n", err);
            goto out;
        }
        otlp_batch_free(b);
    }
    printf("decode: %.0f spans/s (%d requests of %d spans, %zu bytes each)\n",
           requests * SPANS / (now_s() - t0), requests, SPANS, lens[0]);
    snprintf(path, sizeof path, "%s/bench.db", argv[1]);
    d = db_open(path, 5000, 0, err, sizeof err);
    snprintf(err, sizeof err, "%s/sql/003_spans.sql", src ? src : ".");
    f = fopen(err, "r");
    if (!d || !f)
        goto out;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    sql = calloc(1, (size_t)n + 1);
    if (fread(sql, 1, (size_t)n, f) != (size_t)n || sqlite3_exec(db_handle(d), sql, 0, 0, 0))
        goto out;
    fclose(f);
    ss = spanstore_new(d, err, sizeof err);
    tr = trace_rules_new(&cf, err, sizeof err);
    if (!ss || !tr)
        goto out;
    t0 = now_s();
    for (r = 0; r < requests; r++) {
        ingest_export(ss, tr, &cf, "application/x-protobuf", NULL, bodies[r], lens[r], 1000, &rep);
        if (rep.status != 200 || rep.stored.stored != SPANS) {
            fprintf(stderr, "export: %d %s\n", rep.status, rep.message);
            goto out;
        }
        ingest_reply_clear(&rep);
    }
    printf("ingest_export (decode + store): %.0f spans/s\n", requests * SPANS / (now_s() - t0));
    t0 = now_s();
    do {
        if (ingest_assemble(ss, tr, &cf, NULL, insert_row, d, 100000, 256, &pass, err,
                            sizeof err) < 0) {
            fprintf(stderr, "assemble: %s\n", err);
            goto out;
        }
        rows += pass.outcomes[TRACE_ROW];
    } while (pass.more);
    printf("assemble: %.0f traces/s = %.0f spans/s (%zu rows)\n", rows / (now_s() - t0),
           rows * 4 / (now_s() - t0), rows);
    rc = rows == (size_t)requests * SPANS / 4 ? 0 : 1;
out:
    trace_rules_free(tr);
    spanstore_free(ss);
    db_close(d);
    free(sql);
    for (r = 0; r < requests; r++)
        free(bodies[r]);
    free(bodies);
    free(lens);
    return rc;
}
