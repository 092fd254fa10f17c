/* fuzz_otlp_common.h - what the OTLP fuzz targets (fuzz_otlp_pb.c,
 * fuzz_otlp_json.c) check on every input: otlp_decode either fails with
 * -EINVAL or -E2BIG and a message, or gives a coherent batch (ids of the
 * right length in lowercase hex, spans within the cap, every string
 * terminated); each trace in it is then assembled (trace.c) and the
 * response encoded. Included once by each target and by fuzz_replay.c. */
#ifndef FUZZ_OTLP_COMMON_H
#define FUZZ_OTLP_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "otlp.h"
#include "trace.h"

static void fuzz_otlp_fail(const char *what)
{
    fprintf(stderr, "fuzz_otlp: %s\n", what);
    abort();
}

static int fuzz_otlp_hex(const char *s, size_t n)
{
    size_t i;

    if (strlen(s) != n)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Assemble every trace of b (spans grouped by trace id). */
static void fuzz_otlp_assemble(const otlp_batch *b, const conf *cf, const trace_rules *tr)
{
    otlp_span *v = malloc((b->n_spans + 1) * sizeof *v);
    char why[256];
    trace_row out;
    size_t i, j, n;
    int rc;

    if (!v)
        return;
    for (i = 0; i < b->n_spans; i++) {
        for (j = 0; j < i && strcmp(b->spans[j].trace_id, b->spans[i].trace_id); j++)
            ;
        if (j < i)
            continue;               /* this trace was done */
        for (n = 0, j = i; j < b->n_spans; j++)
            if (!strcmp(b->spans[j].trace_id, b->spans[i].trace_id))
                v[n++] = b->spans[j];
        rc = trace_assemble(tr, cf, NULL, v, n, &out, why, sizeof why);
        if (rc == TRACE_ROW) {
            if (!out.r.question || !out.r.answer || !fuzz_otlp_hex(out.trace_id, 32) ||
                !fuzz_otlp_hex(out.span_id, 16) || out.r.n_contexts > (size_t)cf->max_contexts)
                fuzz_otlp_fail("an assembled row is incoherent");
            trace_row_clear(&out);
        } else if (rc < 0 && rc != -ENOMEM) {
            fuzz_otlp_fail("trace_assemble: unexpected error");
        } else if (rc > 0 && (rc >= TRACE_N || !why[0])) {
            fuzz_otlp_fail("trace_assemble: an outcome without a reason");
        }
        (void)trace_sample(0.5, b->spans[i].trace_id);
    }
    free(v);
}

static void fuzz_otlp_run(const uint8_t *data, size_t size, int encoding)
{
    static conf cf;
    static trace_rules *tr;
    otlp_limits lim;
    otlp_batch *b = NULL;
    char err[256], *resp = NULL;
    size_t i, k, rlen;
    int rc, gz = 0;

    if (!tr) {
        char e[256];

        conf_defaults(&cf);
        snprintf(cf.ingest_filters, sizeof cf.ingest_filters, "span:openinference.span.kind~.");
        tr = trace_rules_new(&cf, e, sizeof e);
        if (!tr)
            fuzz_otlp_fail(e);
        snprintf(cf.ingest_filters, sizeof cf.ingest_filters, "%s", "");
    }
    /* First byte: 'z' means the rest is gzip'd. */
    if (size > 0 && data[0] == 'z') {
        gz = 1;
        data++;
        size--;
    }
    otlp_limits_default(&lim, 1 << 20, 4096);
    lim.max_spans = 256;
    memset(err, 0x55, sizeof err);
    rc = otlp_decode(data, size, encoding, gz, &lim, &b, err, sizeof err);
    if (rc < 0) {
        if (b || (rc != -EINVAL && rc != -E2BIG && rc != -ENOMEM) || !memchr(err, '\0', sizeof err) ||
            !err[0])
            fuzz_otlp_fail("a failed decode left a batch, an odd code or no message");
        return;
    }
    if (!b || b->n_spans > lim.max_spans)
        fuzz_otlp_fail("batch missing or over max_spans");
    for (i = 0; i < b->n_spans; i++) {
        const otlp_span *s = &b->spans[i];

        if (!fuzz_otlp_hex(s->trace_id, 32) || !fuzz_otlp_hex(s->span_id, 16) ||
            (s->parent_id[0] && !fuzz_otlp_hex(s->parent_id, 16)) || !s->name || !s->resource ||
            strlen(s->name) > lim.max_value || s->attrs.n > lim.max_attrs)
            fuzz_otlp_fail("a span is incoherent");
        for (k = 0; k < s->attrs.n; k++)
            if (!s->attrs.v[k].key[0] || strlen(s->attrs.v[k].value) > lim.max_value)
                fuzz_otlp_fail("an attribute is incoherent");
    }
    fuzz_otlp_assemble(b, &cf, tr);
    if (otlp_response(encoding, (int64_t)b->rejected, b->message, &resp, &rlen) == 0)
        free(resp);
    otlp_batch_free(b);
}

#endif
