/* spanstore.h - durable storage of OTLP spans until their trace is
 * assembled (sql/003_spans.sql): insert a request's spans in one write
 * transaction, list the traces ready (root ended, quiet) or expired, fetch
 * one trace's spans, mark a trace done, purge, count. The only module that
 * touches the spans, traces_pending, traces_done and ingest_counters
 * tables. One spanstore per db connection (so per thread); not
 * thread-safe. */
#ifndef RAGRADE_SPANSTORE_H
#define RAGRADE_SPANSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "otlp.h"

typedef struct spanstore spanstore;

/* What one spanstore_put did with the spans it was given. */
typedef struct spanstore_stats {
    size_t stored;            /* new spans */
    size_t duplicate;         /* already stored (an exporter's retry) */
    size_t late;              /* their trace was already assembled or dropped */
    size_t over_cap;          /* their trace already has max_trace_spans */
} spanstore_stats;

/* A fetched trace: n spans; owns their strings and resources. */
typedef struct spanstore_trace {
    otlp_span *spans;
    size_t n;
    otlp_attrs *resources;    /* one per span (spans[i].resource) */
} spanstore_trace;

/* Prepare the statements on d (borrowed; must outlive the spanstore).
 * NULL with err filled (for example: the schema lacks the tables). */
spanstore *spanstore_new(db *d, char *err, size_t errlen);
void spanstore_free(spanstore *s);
/* The connection it was made on (borrowed). */
db *spanstore_db(spanstore *s);

/* Store n spans (any traces) in one BEGIN IMMEDIATE under the writers'
 * turn (db_exec(Q_BEGIN)), with the counters, also of the request's spans
 * the caller sampled out or the decoder rejected. A trace's root has ended
 * once a span without parent and with end_ns > 0 is stored. 0, or a
 * negative errno (-EBUSY, -ENOSPC: answer 503; -EIO) with nothing stored. */
int spanstore_put(spanstore *s, const otlp_span *const *spans, size_t n, size_t sampled_out,
                  size_t rejected, int max_trace_spans, int64_t now_ms, spanstore_stats *st,
                  char *err, size_t errlen);

/* Up to max trace ids (ids[i] 33 bytes each) whose root has ended and whose
 * last span came at or before now_ms - assemble_ms, oldest first. */
int spanstore_ready(spanstore *s, int64_t now_ms, int assemble_ms, char (*ids)[OTLP_TRACE_HEX],
                    size_t max, size_t *n, char *err, size_t errlen);
/* Up to max trace ids first seen at or before now_ms - max_wait_ms. */
int spanstore_expired(spanstore *s, int64_t now_ms, int max_wait_ms,
                      char (*ids)[OTLP_TRACE_HEX], size_t max, size_t *n, char *err,
                      size_t errlen);

/* 1 if the trace is still pending, its root ended and no span of it came
 * after now_ms - assemble_ms; 0 otherwise (another process finished it,
 * or a span came since it was read). Call inside the write transaction
 * that finishes it. */
int spanstore_still_ready(spanstore *s, const char *trace_id, int64_t now_ms, int assemble_ms);

/* A trace's spans (at most max), start time order. *out owned by the
 * caller (spanstore_trace_free). 0, -ENOENT (no spans), -ENOMEM, -EIO. */
int spanstore_fetch(spanstore *s, const char *trace_id, size_t max, spanstore_trace **out,
                    char *err, size_t errlen);
void spanstore_trace_free(spanstore_trace *t);

/* Mark a trace done: delete its spans and pending entry, remember it in
 * traces_done with outcome (a trace_outcome_name, or "expired") and the
 * row made (0: none), and count traces_<outcome>. Joins the caller's
 * transaction when one is open (so that the row insert and this commit
 * together), else runs its own. 0 or a negative errno. */
int spanstore_finish(spanstore *s, const char *trace_id, const char *outcome,
                     int64_t evaluation_id, int64_t now_ms, char *err, size_t errlen);

/* Forget traces done before before_ms; *n how many. Joins the caller's
 * transaction when one is open. */
int spanstore_purge_done(spanstore *s, int64_t before_ms, size_t *n, char *err, size_t errlen);

/* Add delta to counter name; call inside a write transaction. */
int spanstore_count(spanstore *s, const char *name, int64_t delta);
/* The value of one counter (0 if never counted); for tests and /metrics. */
int64_t spanstore_counter(spanstore *s, const char *name);
/* Traces pending now. */
int64_t spanstore_pending(spanstore *s);

/* The counters and the pending gauge in Prometheus text (0.0.4), appended
 * to buf at *off (at most len bytes in all; *off advanced, never past
 * len - 1): ragrade_ingest_spans_total{result=...},
 * ragrade_ingest_traces_total{outcome=...}, ragrade_ingest_traces_pending.
 * Reads only; any thread's connection. 0, or -ENOSPC when buf is short. */
int spanstore_prom(spanstore *s, char *buf, size_t len, size_t *off);

#endif
