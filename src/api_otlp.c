/* api_otlp.c - the HTTP side of POST /v1/traces: body reading (with or
 * without Content-Length: exporters send chunked bodies and nginx may pass
 * them on as they came), the span store on this thread's connection, and
 * ingest_export's answer sent as it is (its status, content type, body and
 * Retry-After). The decoding, sampling and storing are ingest.c's. */
#include "api_otlp.h"
#include "clock.h"
#include "ingest.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void read_failed(const api_ctx *a, http_req *r, int rc)
{
    char msg[128];

    if (rc == -EMSGSIZE) {
        snprintf(msg, sizeof msg, "the body is larger than the limit of %zu bytes",
                 a->cf->max_otlp_body);
        http_send_error(r, 413, "body_too_large", msg, NULL);
    } else if (rc == -ENOMEM) {
        http_send_error(r, 503, "out_of_memory", "the server is out of memory; try again", NULL);
    } else {
        http_send_error(r, 400, "incomplete_body", "the body ended before its Content-Length", NULL);
    }
}

void api_otlp_export(const api_ctx *a, db *rd, http_req *r)
{
    char err[256], line[48];
    ingest_reply rep;
    trace_rules *tr = NULL;
    spanstore *ss = NULL;
    int rc;

    memset(&rep, 0, sizeof rep);
    if (!a->cf->ingest_enabled) {
        http_send_error(r, 404, "not_found", "trace ingestion is off (ingest.enabled)", NULL);
        goto out;
    }
    if ((rc = http_read_body_any(r, a->cf->max_otlp_body)) < 0) {
        read_failed(a, r, rc);
        goto out;
    }
    if (!(tr = trace_rules_new(a->cf, err, sizeof err)) || !(ss = spanstore_new(rd, err, sizeof err))) {
        log_error("request %s: /v1/traces: %s", r->id, err);
        http_add_header(r, "Retry-After: 5");
        http_send_error(r, 503, "database_unavailable", "the span store cannot be opened just now", NULL);
        goto out;
    }
    rc = ingest_export(ss, tr, a->cf, http_param(r, "CONTENT_TYPE"),
                       http_param(r, "HTTP_CONTENT_ENCODING"), r->body, r->body_len,
                       clock_wall_ms(), &rep);
    if (rc < 0 || !rep.status) {
        http_send_error(r, 500, "out_of_memory", "the answer could not be made", NULL);
        goto out;
    }
    if (rep.status >= 500)
        log_warn("request %s: /v1/traces: %d: %s", r->id, rep.status, rep.message);
    if (rep.retry_after > 0) {
        snprintf(line, sizeof line, "Retry-After: %d", rep.retry_after);
        http_add_header(r, line);
    }
    http_send_text(r, rep.status, rep.content_type, rep.body ? rep.body : "", rep.body ? rep.len : 0);
out:
    ingest_reply_clear(&rep);
    spanstore_free(ss);
    trace_rules_free(tr);
}
