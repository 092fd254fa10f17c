/* ingest.h - OpenTelemetry traces into evaluation rows, the two doors the
 * rest of ragrade calls: ingest_export is POST /v1/traces after auth and
 * body reading (decode, sample, store the spans, the OTLP answer), and
 * ingest_assemble is one pass of the assembler (traces ready become rows,
 * traces too old are dropped). Built on otlp.h, trace.h and spanstore.h. */
#ifndef RAGRADE_INGEST_H
#define RAGRADE_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "spanstore.h"
#include "trace.h"

/* The HTTP answer to one export. body is malloc'd (ingest_reply_clear). */
typedef struct ingest_reply {
    int status;                 /* 200, 400, 413, 415, 503, 500 */
    const char *content_type;   /* static text */
    char *body;
    size_t len;
    int retry_after;            /* seconds to send in Retry-After; 0: none */
    /* What happened, for the handler's log line and Prometheus. */
    size_t spans, sampled_out, rejected;
    spanstore_stats stored;
    char message[256];          /* why, for a 4xx or 5xx or partial success */
} ingest_reply;

/* Handle one POST /v1/traces body (len bytes, as read, within
 * cf->max_otlp_body). content_type and content_encoding as sent (may be
 * NULL). Spans of traces not sampled (tr's rate, from the trace id) are
 * counted and not stored. Always fills out (status and body); returns 0,
 * or -ENOMEM when not even the answer could be made (answer 500). */
int ingest_export(spanstore *ss, const trace_rules *tr, const conf *cf, const char *content_type,
                  const char *content_encoding, const void *body, size_t len, int64_t now_ms,
                  ingest_reply *out);
void ingest_reply_clear(ingest_reply *r);

/* Store one assembled row; called by ingest_assemble inside its write
 * transaction, so that the row and the trace's removal commit together.
 * *id receives the row's id. 0 or a negative errno (the pass is rolled
 * back). */
typedef int (*ingest_insert_fn)(void *ctx, const trace_row *t, int64_t *id, char *err,
                                 size_t errlen);

typedef struct ingest_pass {
    size_t outcomes[TRACE_N];   /* traces assembled, by outcome (TRACE_ROW: rows made) */
    size_t expired;             /* dropped after max_wait_ms */
    size_t more;                /* 1 if the pass stopped at max_traces: run again now */
} ingest_pass;

/* One assembler pass: up to max_traces traces ready (root ended, quiet for
 * ingest.assemble_ms) become rows through insert, or an outcome; then up to
 * max_traces traces older than ingest.max_wait_ms are dropped, and traces
 * done more than ingest.max_wait_ms ago forgotten (until then, late spans
 * of theirs are ignored). The reads
 * run outside any transaction; the writes in one BEGIN IMMEDIATE under the
 * writers' turn. 0, or a negative errno with err filled (nothing changed). */
int ingest_assemble(spanstore *ss, const trace_rules *tr, const conf *cf, row_metric_known_fn known,
                    ingest_insert_fn insert, void *ctx, int64_t now_ms, size_t max_traces,
                    ingest_pass *pass, char *err, size_t errlen);

#endif
