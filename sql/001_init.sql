-- ragrade schema, version 1. Applied by the program (PRAGMA user_version).
-- This schema is a public interface: admins query it directly. Every column
-- is documented in sql/README.md. Times: *_at columns are ISO 8601 UTC text
-- with milliseconds ('2026-11-22T03:04:05.678Z'); lease_until and
-- not_before are Unix epoch milliseconds (integers) because the scheduler
-- compares them on every claim.

CREATE TABLE evaluations (
    id                 INTEGER PRIMARY KEY,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    status             TEXT    NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'running', 'done', 'failed')),
    dataset            TEXT,
    question           TEXT    NOT NULL,
    answer             TEXT    NOT NULL,
    contexts           TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(contexts)),
    ground_truth       TEXT,
    reference_contexts TEXT    CHECK (reference_contexts IS NULL OR json_valid(reference_contexts)),
    metrics            TEXT    CHECK (metrics IS NULL OR json_valid(metrics)),
    attempts           INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL DEFAULT 3,
    last_error         TEXT,
    lease_owner        TEXT,
    lease_until        INTEGER,
    not_before         INTEGER NOT NULL DEFAULT 0,
    started_at         TEXT,
    finished_at        TEXT,
    judge              TEXT,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    idempotency_key    TEXT
);

-- Claiming: the oldest queued rows that may run now.
CREATE INDEX evaluations_queued ON evaluations(not_before, id) WHERE status = 'queued';
-- Leases: running rows by expiry (reaping) and count (the concurrency bound).
CREATE INDEX evaluations_running ON evaluations(lease_until) WHERE status = 'running';
-- Listing: newest first, optionally by status or dataset.
CREATE INDEX evaluations_status_id ON evaluations(status, id);
CREATE INDEX evaluations_dataset_id ON evaluations(dataset, id);
CREATE INDEX evaluations_idempotency ON evaluations(idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE evaluation_scores (
    evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
    metric        TEXT    NOT NULL,
    score         REAL,
    reason        TEXT,
    PRIMARY KEY (evaluation_id, metric)
) WITHOUT ROWID;
CREATE INDEX evaluation_scores_metric ON evaluation_scores(metric);

-- Per dataset and metric: how many scores, how many null, the mean.
CREATE VIEW evaluation_summary AS
SELECT e.dataset                                AS dataset,
       s.metric                                 AS metric,
       count(*)                                 AS n,
       count(s.score)                           AS scored,
       count(*) - count(s.score)                AS nulls,
       avg(s.score)                             AS mean,
       min(s.score)                             AS min,
       max(s.score)                             AS max
FROM evaluation_scores s JOIN evaluations e ON e.id = s.evaluation_id
WHERE e.status = 'done'
GROUP BY e.dataset, s.metric;

-- Failed rows with their errors, newest first.
CREATE VIEW evaluation_failures AS
SELECT id, dataset, attempts, last_error, judge, created_at, finished_at,
       substr(question, 1, 120) AS question
FROM evaluations
WHERE status = 'failed'
ORDER BY id DESC;
