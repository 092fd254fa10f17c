/* trace.h - from the spans of one OpenTelemetry trace to one evaluation
 * row: which traces are sampled (from the trace id), which pass the
 * [ingest] filters, and where the question, the contexts and the answer are
 * under the OpenInference, OpenLLMetry and OpenTelemetry GenAI conventions
 * (README "Tracing" has the mapping). Pure: no I/O, no storage. */
#ifndef RAGRADE_TRACE_H
#define RAGRADE_TRACE_H

#include <stddef.h>

#include "conf.h"
#include "otlp.h"
#include "row.h"

/* [ingest] compiled once (filters' regular expressions, dataset and run
 * sources, metrics). Read-only after trace_rules_new, so one may be shared
 * by every thread. */
typedef struct trace_rules trace_rules;

/* 0..TRACE_N-1: what assembling a trace gave; names in trace_outcome_name
 * (Prometheus labels). */
enum trace_outcome {
    TRACE_ROW = 0,          /* a row: out is filled */
    TRACE_FILTERED,         /* a filter did not match */
    TRACE_NO_QUESTION,      /* no span holds an input */
    TRACE_NO_ANSWER,        /* no span holds an output */
    TRACE_INVALID,          /* the row fails validation (sizes, metrics) */
    TRACE_N
};

/* One row made from a trace. Owns its strings (trace_row_clear). */
typedef struct trace_row {
    row r;                             /* question, answer, contexts, dataset, metrics */
    char *run;                         /* NULL: none */
    char trace_id[OTLP_TRACE_HEX];
    char span_id[OTLP_SPAN_HEX];       /* the span the question came from */
} trace_row;

/* Compile cf's [ingest] section. NULL with a message in err for a bad
 * filter (syntax, regular expression) or no memory. */
trace_rules *trace_rules_new(const conf *cf, char *err, size_t errlen);
void trace_rules_free(trace_rules *tr);

/* 1 if a trace (32 lowercase hex digits) is sampled at rate (0..1), else 0:
 * OpenTelemetry's TraceIdRatioBased rule on the trace id's low 56 bits
 * (randomness R; sampled iff R >= (1 - rate) * 2^56), the same for every
 * exporter and every retry. A malformed id is never sampled. */
int trace_sample(double rate, const char *trace_id);
/* The same at the rules' sample_rate. */
int trace_sampled(const trace_rules *tr, const char *trace_id);

/* Make a row from the n spans of one trace (any order, one trace id).
 * known checks metric names (may be NULL: any). Returns a trace_outcome:
 * TRACE_ROW with out filled (release with trace_row_clear), or another
 * outcome with the reason in why; -ENOMEM. */
int trace_assemble(const trace_rules *tr, const conf *cf, row_metric_known_fn known,
                   const otlp_span *spans, size_t n, trace_row *out, char *why, size_t whylen);
void trace_row_clear(trace_row *t);

const char *trace_outcome_name(int outcome);

#endif
