-- ragrade schema, migration 4 (renumber on merge if need be): OpenTelemetry
-- trace ingestion (POST /v1/traces). Spans are kept until their trace is
-- assembled into one evaluation row (src/trace.c) or dropped; written and
-- read only by src/spanstore.c. Times here are Unix epoch milliseconds
-- (integers: the assembler compares them on every pass); span times are
-- the exporter's Unix epoch nanoseconds.

-- Every span received and not yet assembled. The key makes an exporter's
-- retry of the same spans collapse into the rows already there.
CREATE TABLE spans (
    trace_id    TEXT    NOT NULL,            -- 32 lowercase hex digits
    span_id     TEXT    NOT NULL,            -- 16 lowercase hex digits
    parent_id   TEXT,                        -- NULL for a root span
    name        TEXT    NOT NULL,
    kind        INTEGER NOT NULL DEFAULT 0,  -- OTLP SpanKind 0..5
    start_ns    INTEGER NOT NULL DEFAULT 0,
    end_ns      INTEGER NOT NULL DEFAULT 0,  -- 0: not ended
    attributes  TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    resource    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(resource)),
    received_at INTEGER NOT NULL,
    PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;

-- One row per trace with spans waiting: the assembler takes the traces
-- whose root has ended and that have been quiet for ingest.assemble_ms,
-- and drops those older than ingest.max_wait_ms.
CREATE TABLE traces_pending (
    trace_id   TEXT    PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    root_ended INTEGER NOT NULL DEFAULT 0 CHECK (root_ended IN (0, 1)),
    n_spans    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX traces_pending_ready ON traces_pending(last_seen) WHERE root_ended = 1;
CREATE INDEX traces_pending_first ON traces_pending(first_seen);

-- Traces already assembled or dropped, so that spans arriving late (an
-- exporter's retry after the assembly) never make a second row. Purged
-- after a retention (ingest.max_wait_ms after done_at).
CREATE TABLE traces_done (
    trace_id      TEXT    PRIMARY KEY,
    done_at       INTEGER NOT NULL,
    outcome       TEXT    NOT NULL,   -- row, filtered, no_question, no_answer, invalid, expired
    evaluation_id INTEGER             -- the row made, or NULL
) WITHOUT ROWID;
CREATE INDEX traces_done_at ON traces_done(done_at);

-- Durable counters for Prometheus (ragrade_ingest_*), shared by the pool's
-- processes: spans_received, spans_duplicate, spans_late, spans_over_cap,
-- traces_<outcome>.
CREATE TABLE ingest_counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Rows made from a trace say which one, and which span the question came
-- from; their run (the ingest.run label, for example service.version) goes
-- in evaluations.run, the column 008_runs.sql adds for every row.
ALTER TABLE evaluations ADD COLUMN trace_id TEXT;
ALTER TABLE evaluations ADD COLUMN span_id TEXT;
CREATE INDEX evaluations_trace ON evaluations(trace_id) WHERE trace_id IS NOT NULL;
