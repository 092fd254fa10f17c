/* otlp_dump.c - test fixture for t/otlp_client.py: reads one OTLP/HTTP
 * trace export body on stdin, decodes it (otlp_decode, as sent: argv[1]
 * the Content-Type, argv[2] the Content-Encoding or "") and prints one JSON
 * object: {"status": 0 or the error code, "spans", "rejected", "rows":
 * [one per trace: trace_id, span_id, question, answer, contexts, dataset,
 * run, or outcome and why]}, with ragrade's default [ingest] rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "conf.h"
#include "otlp.h"
#include "trace.h"

static json_object *one_trace(const trace_rules *tr, const conf *cf, const otlp_batch *b,
                              size_t first, otlp_span *v)
{
    json_object *o = json_object_new_object(), *ctx;
    trace_row out;
    char why[256];
    size_t n = 0, j;
    int rc;

    for (j = first; j < b->n_spans; j++)
        if (!strcmp(b->spans[j].trace_id, b->spans[first].trace_id))
            v[n++] = b->spans[j];
    rc = trace_assemble(tr, cf, NULL, v, n, &out, why, sizeof why);
    json_object_object_add(o, "trace_id", json_object_new_string(b->spans[first].trace_id));
    json_object_object_add(o, "outcome", json_object_new_string(trace_outcome_name(rc)));
    if (rc != TRACE_ROW) {
        json_object_object_add(o, "why", json_object_new_string(why));
        return o;
    }
    json_object_object_add(o, "span_id", json_object_new_string(out.span_id));
    json_object_object_add(o, "question", json_object_new_string(out.r.question));
    json_object_object_add(o, "answer", json_object_new_string(out.r.answer));
    ctx = json_object_new_array();
    for (j = 0; j < out.r.n_contexts; j++)
        json_object_array_add(ctx, json_object_new_string(out.r.contexts[j]));
    json_object_object_add(o, "contexts", ctx);
    json_object_object_add(o, "dataset", out.r.dataset ? json_object_new_string(out.r.dataset) : NULL);
    json_object_object_add(o, "run", out.run ? json_object_new_string(out.run) : NULL);
    trace_row_clear(&out);
    return o;
}

int main(int argc, char **argv)
{
    size_t cap = 16 << 20, len = 0, i, j, got;
    char *body = malloc(cap), err[256] = "";
    json_object *res = json_object_new_object(), *rows = json_object_new_array();
    otlp_batch *b = NULL;
    otlp_limits lim;
    trace_rules *tr;
    otlp_span *v;
    conf cf;
    int rc;

    if (argc < 3 || !body) {
        fprintf(stderr, "usage: otlp_dump CONTENT_TYPE CONTENT_ENCODING < body\n");
        return 2;
    }
    while (len < cap && (got = fread(body + len, 1, cap - len, stdin)) > 0)
        len += got;
    conf_defaults(&cf);
    tr = trace_rules_new(&cf, err, sizeof err);
    otlp_limits_default(&lim, cf.max_otlp_body, cf.max_field);
    rc = otlp_encoding_of(argv[1]);
    if (rc > 0)
        rc = otlp_decode(body, len, rc, otlp_gzip_of(argv[2]) == 1, &lim, &b, err, sizeof err);
    json_object_object_add(res, "status", json_object_new_int(rc < 0 ? rc : 0));
    json_object_object_add(res, "error", json_object_new_string(err));
    if (rc >= 0 && tr) {
        v = calloc(b->n_spans + 1, sizeof *v);
        for (i = 0; v && i < b->n_spans; i++) {
            for (j = 0; j < i && strcmp(b->spans[j].trace_id, b->spans[i].trace_id); j++)
                ;
            if (j == i)
                json_object_array_add(rows, one_trace(tr, &cf, b, i, v));
        }
        free(v);
        json_object_object_add(res, "spans", json_object_new_int64((int64_t)b->n_spans));
        json_object_object_add(res, "rejected", json_object_new_int64((int64_t)b->rejected));
    }
    json_object_object_add(res, "rows", rows);
    puts(json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN));
    json_object_put(res);
    otlp_batch_free(b);
    trace_rules_free(tr);
    free(body);
    return 0;
}
