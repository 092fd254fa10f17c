/* ingest.c - POST /v1/traces (decode, sample, store, answer in the
 * request's encoding) and the assembler's pass (ready traces into rows,
 * old ones dropped), over otlp.c, trace.c and spanstore.c. No HTTP here:
 * the route handler reads the body and sends what ingest_export fills. */
#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_AFTER_S 5

static const char *ctype(int enc)
{
    return enc == OTLP_JSON ? "application/json" : "application/x-protobuf";
}

/* An error answer: status, a google.rpc.Status body, and Retry-After for
 * 503. Falls back to no body when there is no memory. */
static void answer_error(ingest_reply *out, int enc, int status, const char *msg)
{
    out->status = status;
    out->content_type = ctype(enc);
    out->retry_after = status == 503 ? RETRY_AFTER_S : 0;
    snprintf(out->message, sizeof out->message, "%s", msg);
    free(out->body);
    out->body = NULL;
    out->len = 0;
    if (otlp_status(enc, msg, &out->body, &out->len) < 0) {
        out->body = NULL;
        out->len = 0;
    }
}

void ingest_reply_clear(ingest_reply *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

/* Decode and filter by sample: the kept spans into keep (n_keep). */
static int keep_sampled(const otlp_batch *b, const trace_rules *tr, const otlp_span ***keep,
                        size_t *n_keep, size_t *sampled_out)
{
    size_t i;

    *keep = malloc((b->n_spans + 1) * sizeof **keep);
    if (!*keep)
        return -ENOMEM;
    *n_keep = 0;
    for (i = 0; i < b->n_spans; i++) {
        if (trace_sampled(tr, b->spans[i].trace_id))
            (*keep)[(*n_keep)++] = &b->spans[i];
        else
            (*sampled_out)++;
    }
    return 0;
}

int ingest_export(spanstore *ss, const trace_rules *tr, const conf *cf, const char *content_type,
                  const char *content_encoding, const void *body, size_t len, int64_t now_ms,
                  ingest_reply *out)
{
    const otlp_span **keep = NULL;
    otlp_batch *b = NULL;
    otlp_limits lim;
    char err[256] = "";
    size_t n_keep = 0;
    int enc, gz, rc = 0;

    memset(out, 0, sizeof *out);
    enc = otlp_encoding_of(content_type);
    gz = otlp_gzip_of(content_encoding);
    if (enc < 0 || gz < 0) {
        answer_error(out, enc < 0 ? OTLP_PROTOBUF : enc, 415, enc < 0
                     ? "Content-Type must be application/x-protobuf or application/json"
                     : "Content-Encoding must be gzip or identity");
        goto out;
    }
    otlp_limits_default(&lim, cf->max_otlp_body, cf->max_field);
    lim.max_spans = (size_t)cf->max_otlp_spans;
    rc = otlp_decode(body, len, enc, gz, &lim, &b, err, sizeof err);
    if (rc < 0) {
        answer_error(out, enc, rc == -E2BIG ? 413 : rc == -EINVAL ? 400 : 503, err);
        rc = 0;
        goto out;
    }
    out->spans = b->n_spans;
    out->rejected = b->rejected;
    if (keep_sampled(b, tr, &keep, &n_keep, &out->sampled_out) < 0) {
        answer_error(out, enc, 503, "out of memory");
        goto out;
    }
    if ((n_keep || out->sampled_out || out->rejected) &&
        (rc = spanstore_put(ss, keep, n_keep, out->sampled_out, out->rejected, cf->max_trace_spans,
                            now_ms, &out->stored, err, sizeof err)) < 0) {
        /* A full disk, a busy database: the exporter retries later. */
        answer_error(out, enc, rc == -ENOSPC || rc == -EBUSY ? 503 : 500, err);
        rc = 0;
        goto out;
    }
    out->status = 200;
    out->content_type = ctype(enc);
    snprintf(out->message, sizeof out->message, "%s", b->message);
    rc = otlp_response(enc, (int64_t)b->rejected, b->message, &out->body, &out->len);
    if (rc < 0)
        out->status = 500;
out:
    free(keep);
    otlp_batch_free(b);
    return rc;
}

/* ---- the assembler ---- */

/* One trace read and assembled, waiting for the write transaction. */
struct done {
    char id[OTLP_TRACE_HEX];
    int outcome;
    trace_row row;
};

/* Read and assemble the ready traces (no transaction). */
static int assemble_ready(spanstore *ss, const trace_rules *tr, const conf *cf,
                          row_metric_known_fn known, struct done *d, size_t n, char *err,
                          size_t errlen)
{
    spanstore_trace *t;
    char why[256];
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        rc = spanstore_fetch(ss, d[i].id, (size_t)cf->max_trace_spans, &t, err, errlen);
        if (rc == -ENOENT) {            /* finished by another process meanwhile */
            d[i].outcome = -1;
            continue;
        }
        if (rc < 0)
            return rc;
        rc = trace_assemble(tr, cf, known, t->spans, t->n, &d[i].row, why, sizeof why);
        spanstore_trace_free(t);
        if (rc < 0) {
            snprintf(err, errlen, "out of memory");
            return rc;
        }
        d[i].outcome = rc;
    }
    return 0;
}

/* Insert the rows and finish the traces, in the caller's transaction. A
 * trace another process finished meanwhile, or that got a span since it
 * was read, is left (for the next pass, if still pending). */
static int write_done(spanstore *ss, const conf *cf, struct done *d, size_t n,
                      ingest_insert_fn insert, void *ctx, int64_t now_ms, ingest_pass *pass,
                      char *err, size_t errlen)
{
    int64_t id;
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        if (d[i].outcome < 0 || !spanstore_still_ready(ss, d[i].id, now_ms, cf->ingest_assemble_ms))
            continue;
        id = 0;
        if (d[i].outcome == TRACE_ROW && (rc = insert(ctx, &d[i].row, &id, err, errlen)) < 0)
            return rc;
        if ((rc = spanstore_finish(ss, d[i].id, trace_outcome_name(d[i].outcome), id, now_ms, err,
                                   errlen)) < 0)
            return rc;
        pass->outcomes[d[i].outcome]++;
    }
    return 0;
}

static int drop_expired(spanstore *ss, const conf *cf, int64_t now_ms, char (*ids)[OTLP_TRACE_HEX],
                        size_t max, ingest_pass *pass, char *err, size_t errlen)
{
    size_t n, i;
    int rc;

    rc = spanstore_expired(ss, now_ms, cf->ingest_max_wait_ms, ids, max, &n, err, errlen);
    for (i = 0; rc == 0 && i < n; i++)
        if ((rc = spanstore_finish(ss, ids[i], "expired", 0, now_ms, err, errlen)) == 0)
            pass->expired++;
    return rc;
}

int ingest_assemble(spanstore *ss, const trace_rules *tr, const conf *cf, row_metric_known_fn known,
                    ingest_insert_fn insert, void *ctx, int64_t now_ms, size_t max_traces,
                    ingest_pass *pass, char *err, size_t errlen)
{
    char (*ids)[OTLP_TRACE_HEX] = calloc(max_traces + 1, sizeof *ids);
    struct done *d = calloc(max_traces + 1, sizeof *d);
    db *h = NULL;
    size_t n = 0, i, purged = 0;
    int rc;

    memset(pass, 0, sizeof *pass);
    if (!ids || !d) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = spanstore_ready(ss, now_ms, cf->ingest_assemble_ms, ids, max_traces, &n, err, errlen);
    for (i = 0; i < n; i++)
        memcpy(d[i].id, ids[i], sizeof d[i].id);
    if (rc == 0)
        rc = assemble_ready(ss, tr, cf, known, d, n, err, errlen);
    if (rc < 0)
        goto out;
    h = spanstore_db(ss);
    if ((rc = db_exec(h, Q_BEGIN)) < 0) {
        snprintf(err, errlen, "assembler: cannot begin: %s", db_errmsg(h));
        goto out;
    }
    rc = write_done(ss, cf, d, n, insert, ctx, now_ms, pass, err, errlen);
    if (rc == 0)
        rc = drop_expired(ss, cf, now_ms, ids, max_traces, pass, err, errlen);
    /* Late retries are recognised for max_wait_ms after their trace is done. */
    if (rc == 0)
        rc = spanstore_purge_done(ss, now_ms - cf->ingest_max_wait_ms, &purged, err, errlen);
    if (rc == 0 && (rc = db_exec(h, Q_COMMIT)) < 0)
        snprintf(err, errlen, "assembler: cannot commit: %s", db_errmsg(h));
    if (rc < 0) {
        db_exec(h, Q_ROLLBACK);   /* an error when none is open: harmless */
        memset(pass, 0, sizeof *pass);
        goto out;
    }
    pass->more = n == max_traces;
out:
    for (i = 0; d && i < n; i++)
        if (d[i].outcome == TRACE_ROW)
            trace_row_clear(&d[i].row);
    free(d);
    free(ids);
    return rc;
}
