-- 008: aggregates kept up to date by triggers, in the transactions that
-- write rows and scores, so that /api/summary and /api/metrics read a few
-- rows per dataset instead of scanning every row (issue 13). Numbered 008
-- for now; the lead renumbers on merge. Every column is documented in
-- sql/README.md.
--
-- dataset_key is the dataset, or an empty BLOB for rows without one: a
-- BLOB never equals a TEXT, so NULL rows get a key of their own that no
-- label can collide with (NULLs would not conflict in a primary key).
-- Rows whose counts fell to zero stay (readers skip them).

-- Per dataset: rows by status, tokens, and the newest id (the page's
-- dataset list is ordered by it).
CREATE TABLE aggregate_datasets (
    dataset_key       BLOB    NOT NULL PRIMARY KEY,
    dataset           TEXT,
    rows              INTEGER NOT NULL DEFAULT 0,
    queued            INTEGER NOT NULL DEFAULT 0,
    running           INTEGER NOT NULL DEFAULT 0,
    done              INTEGER NOT NULL DEFAULT 0,
    failed            INTEGER NOT NULL DEFAULT 0,
    max_id            INTEGER,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Per dataset and metric, over the scores of done rows: n scores, scored
-- (non-null) ones, their sum and sum of squares, min and max with how many
-- scores equal them (so removing one rescans only when the last goes), and
-- the ten-bin histogram of /api/summary (h0..h9 over [0, 1]; correctness,
-- 1 to 5, mapped onto [0, 1]).
CREATE TABLE aggregate_scores (
    dataset_key BLOB    NOT NULL,
    metric      TEXT    NOT NULL,
    dataset     TEXT,
    n           INTEGER NOT NULL DEFAULT 0,
    scored      INTEGER NOT NULL DEFAULT 0,
    sum         REAL    NOT NULL DEFAULT 0,
    sum2        REAL    NOT NULL DEFAULT 0,
    min         REAL,
    min_n       INTEGER NOT NULL DEFAULT 0,
    max         REAL,
    max_n       INTEGER NOT NULL DEFAULT 0,
    h0 INTEGER NOT NULL DEFAULT 0, h1 INTEGER NOT NULL DEFAULT 0,
    h2 INTEGER NOT NULL DEFAULT 0, h3 INTEGER NOT NULL DEFAULT 0,
    h4 INTEGER NOT NULL DEFAULT 0, h5 INTEGER NOT NULL DEFAULT 0,
    h6 INTEGER NOT NULL DEFAULT 0, h7 INTEGER NOT NULL DEFAULT 0,
    h8 INTEGER NOT NULL DEFAULT 0, h9 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dataset_key, metric)
) WITHOUT ROWID;

-- The same figures recomputed from the rows: the migration's backfill,
-- `ragrade admin check` (compares) and `admin reaggregate` (rebuilds).
CREATE VIEW aggregate_datasets_recomputed AS
SELECT coalesce(dataset, x'') AS dataset_key, dataset, count(*) AS rows,
       total(status = 'queued') AS queued, total(status = 'running') AS running,
       total(status = 'done') AS done, total(status = 'failed') AS failed,
       max(id) AS max_id, total(prompt_tokens) AS prompt_tokens,
       total(completion_tokens) AS completion_tokens
FROM evaluations GROUP BY coalesce(dataset, x'');

CREATE VIEW aggregate_scores_recomputed AS
WITH s AS (
    SELECT coalesce(e.dataset, x'') AS k, e.dataset AS dataset, s.metric AS metric, s.score AS score,
           min(max(CAST(10 * CASE WHEN s.metric = 'correctness' THEN (s.score - 1) / 4
                                  ELSE s.score END AS INTEGER), 0), 9) AS bin
    FROM evaluation_scores s JOIN evaluations e ON e.id = s.evaluation_id
    WHERE e.status = 'done'),
g AS (SELECT k, metric, min(score) AS lo, max(score) AS hi FROM s GROUP BY k, metric)
SELECT s.k AS dataset_key, s.metric, s.dataset, count(*) AS n, count(s.score) AS scored,
       total(s.score) AS sum, total(s.score * s.score) AS sum2,
       g.lo AS min, total(s.score = g.lo) AS min_n, g.hi AS max, total(s.score = g.hi) AS max_n,
       total(bin = 0) AS h0, total(bin = 1) AS h1, total(bin = 2) AS h2, total(bin = 3) AS h3,
       total(bin = 4) AS h4, total(bin = 5) AS h5, total(bin = 6) AS h6, total(bin = 7) AS h7,
       total(bin = 8) AS h8, total(bin = 9) AS h9
FROM s JOIN g ON g.k = s.k AND g.metric = s.metric
GROUP BY s.k, s.metric;

INSERT INTO aggregate_datasets SELECT * FROM aggregate_datasets_recomputed;
INSERT INTO aggregate_scores SELECT * FROM aggregate_scores_recomputed;

-- One door for every change of aggregate_scores: insert (dataset, metric,
-- sign, score) here, +1 to add a done row's score, -1 to remove it.
CREATE VIEW aggregate_score_delta (dataset, metric, sign, score) AS
SELECT NULL, NULL, NULL, NULL WHERE 0;

CREATE TRIGGER aggregate_score_add INSTEAD OF INSERT ON aggregate_score_delta WHEN new.sign > 0
BEGIN
    INSERT INTO aggregate_scores(dataset_key, metric, dataset, n, scored, sum, sum2, min, min_n, max, max_n,
                                 h0, h1, h2, h3, h4, h5, h6, h7, h8, h9)
    SELECT coalesce(new.dataset, x''), new.metric, new.dataset, 1, new.score IS NOT NULL,
           coalesce(new.score, 0), coalesce(new.score * new.score, 0),
           new.score, new.score IS NOT NULL, new.score, new.score IS NOT NULL,
           b = 0, b = 1, b = 2, b = 3, b = 4, b = 5, b = 6, b = 7, b = 8, b = 9
    FROM (SELECT coalesce(min(max(CAST(10 * CASE WHEN new.metric = 'correctness' THEN (new.score - 1) / 4
                                                 ELSE new.score END AS INTEGER), 0), 9), -1) AS b)
    WHERE 1
    ON CONFLICT (dataset_key, metric) DO UPDATE SET
        n = n + 1, scored = scored + excluded.scored, sum = sum + excluded.sum, sum2 = sum2 + excluded.sum2,
        min_n = CASE WHEN excluded.min IS NULL THEN min_n WHEN min IS NULL OR excluded.min < min THEN 1
                     WHEN excluded.min = min THEN min_n + 1 ELSE min_n END,
        min = CASE WHEN min IS NULL OR excluded.min < min THEN coalesce(excluded.min, min) ELSE min END,
        max_n = CASE WHEN excluded.max IS NULL THEN max_n WHEN max IS NULL OR excluded.max > max THEN 1
                     WHEN excluded.max = max THEN max_n + 1 ELSE max_n END,
        max = CASE WHEN max IS NULL OR excluded.max > max THEN coalesce(excluded.max, max) ELSE max END,
        h0 = h0 + excluded.h0, h1 = h1 + excluded.h1, h2 = h2 + excluded.h2, h3 = h3 + excluded.h3,
        h4 = h4 + excluded.h4, h5 = h5 + excluded.h5, h6 = h6 + excluded.h6, h7 = h7 + excluded.h7,
        h8 = h8 + excluded.h8, h9 = h9 + excluded.h9;
END;

CREATE TRIGGER aggregate_score_remove INSTEAD OF INSERT ON aggregate_score_delta WHEN new.sign < 0
BEGIN
    UPDATE aggregate_scores SET
        n = n - 1, scored = scored - (new.score IS NOT NULL),
        sum = CASE WHEN scored - (new.score IS NOT NULL) = 0 THEN 0 ELSE sum - coalesce(new.score, 0) END,
        sum2 = CASE WHEN scored - (new.score IS NOT NULL) = 0 THEN 0
                    ELSE sum2 - coalesce(new.score * new.score, 0) END,
        min_n = min_n - (new.score = min IS 1), max_n = max_n - (new.score = max IS 1),
        h0 = h0 - (b = 0), h1 = h1 - (b = 1), h2 = h2 - (b = 2), h3 = h3 - (b = 3), h4 = h4 - (b = 4),
        h5 = h5 - (b = 5), h6 = h6 - (b = 6), h7 = h7 - (b = 7), h8 = h8 - (b = 8), h9 = h9 - (b = 9)
    FROM (SELECT coalesce(min(max(CAST(10 * CASE WHEN new.metric = 'correctness' THEN (new.score - 1) / 4
                                                 ELSE new.score END AS INTEGER), 0), 9), -1) AS b)
    WHERE dataset_key = coalesce(new.dataset, x'') AND metric = new.metric;
    -- The last score equal to the min (or max) went: find the next one.
    INSERT INTO aggregate_score_delta
    SELECT new.dataset, new.metric, 0, NULL FROM aggregate_scores
    WHERE dataset_key = coalesce(new.dataset, x'') AND metric = new.metric AND (min_n = 0 OR max_n = 0)
      AND new.score IS NOT NULL;
END;

-- Sign 0: recompute min and max (and how many scores equal them) from the
-- rows; rare (the last score equal to the min or max went).
CREATE TRIGGER aggregate_score_extremes INSTEAD OF INSERT ON aggregate_score_delta WHEN new.sign = 0
BEGIN
    UPDATE aggregate_scores SET (min, min_n, max, max_n) = (
        SELECT lo, total(s.score = lo), hi, total(s.score = hi)
        FROM (SELECT min(s2.score) AS lo, max(s2.score) AS hi
              FROM evaluations e2 JOIN evaluation_scores s2 ON s2.evaluation_id = e2.id
              WHERE e2.dataset IS new.dataset AND e2.status = 'done' AND s2.metric = new.metric),
             evaluations e JOIN evaluation_scores s ON s.evaluation_id = e.id
        WHERE e.dataset IS new.dataset AND e.status = 'done' AND s.metric = new.metric)
    WHERE dataset_key = coalesce(new.dataset, x'') AND metric = new.metric;
END;

-- Rows: counts by status and tokens, on insert, on any change of status,
-- dataset or tokens, and on delete.
CREATE TRIGGER aggregate_rows_insert AFTER INSERT ON evaluations
BEGIN
    INSERT INTO aggregate_datasets(dataset_key, dataset, rows, queued, running, done, failed, max_id,
                                   prompt_tokens, completion_tokens)
    VALUES (coalesce(new.dataset, x''), new.dataset, 1, new.status = 'queued', new.status = 'running',
            new.status = 'done', new.status = 'failed', new.id, new.prompt_tokens, new.completion_tokens)
    ON CONFLICT (dataset_key) DO UPDATE SET
        rows = rows + 1, queued = queued + excluded.queued, running = running + excluded.running,
        done = done + excluded.done, failed = failed + excluded.failed,
        max_id = max(coalesce(max_id, 0), excluded.max_id),
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;
END;

CREATE TRIGGER aggregate_rows_update AFTER UPDATE OF status, dataset, prompt_tokens, completion_tokens
ON evaluations WHEN old.dataset IS new.dataset
BEGIN
    UPDATE aggregate_datasets SET
        queued = queued - (old.status = 'queued') + (new.status = 'queued'),
        running = running - (old.status = 'running') + (new.status = 'running'),
        done = done - (old.status = 'done') + (new.status = 'done'),
        failed = failed - (old.status = 'failed') + (new.status = 'failed'),
        prompt_tokens = prompt_tokens - old.prompt_tokens + new.prompt_tokens,
        completion_tokens = completion_tokens - old.completion_tokens + new.completion_tokens
    WHERE dataset_key = coalesce(new.dataset, x'');
END;

-- No code path relabels a row; an outside UPDATE of dataset stays right.
CREATE TRIGGER aggregate_rows_relabel AFTER UPDATE OF dataset ON evaluations
WHEN old.dataset IS NOT new.dataset
BEGIN
    UPDATE aggregate_datasets SET
        rows = rows - 1, queued = queued - (old.status = 'queued'), running = running - (old.status = 'running'),
        done = done - (old.status = 'done'), failed = failed - (old.status = 'failed'),
        prompt_tokens = prompt_tokens - old.prompt_tokens,
        completion_tokens = completion_tokens - old.completion_tokens,
        max_id = (SELECT max(id) FROM evaluations WHERE dataset IS old.dataset)
    WHERE dataset_key = coalesce(old.dataset, x'');
    INSERT INTO aggregate_datasets(dataset_key, dataset, rows, queued, running, done, failed, max_id,
                                   prompt_tokens, completion_tokens)
    VALUES (coalesce(new.dataset, x''), new.dataset, 1, new.status = 'queued', new.status = 'running',
            new.status = 'done', new.status = 'failed', new.id, new.prompt_tokens, new.completion_tokens)
    ON CONFLICT (dataset_key) DO UPDATE SET
        rows = rows + 1, queued = queued + excluded.queued, running = running + excluded.running,
        done = done + excluded.done, failed = failed + excluded.failed,
        max_id = max(coalesce(max_id, 0), excluded.max_id),
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;
END;

-- A row leaves done (retry, requeue, relabel): its scores leave the
-- aggregates; it enters done: its scores (if already written) enter.
CREATE TRIGGER aggregate_scores_leave AFTER UPDATE OF status, dataset ON evaluations
WHEN old.status = 'done' AND (new.status <> 'done' OR old.dataset IS NOT new.dataset)
  AND EXISTS (SELECT 1 FROM evaluation_scores WHERE evaluation_id = old.id)
BEGIN
    INSERT INTO aggregate_score_delta
    SELECT old.dataset, metric, -1, score FROM evaluation_scores WHERE evaluation_id = old.id;
END;

-- (The scheduler marks a row done before it writes the scores: the
-- EXISTS keeps that hot path to one probe, without the INSERT.)
CREATE TRIGGER aggregate_scores_enter AFTER UPDATE OF status, dataset ON evaluations
WHEN new.status = 'done' AND (old.status <> 'done' OR old.dataset IS NOT new.dataset)
  AND EXISTS (SELECT 1 FROM evaluation_scores WHERE evaluation_id = new.id)
BEGIN
    INSERT INTO aggregate_score_delta
    SELECT new.dataset, metric, 1, score FROM evaluation_scores WHERE evaluation_id = new.id;
END;

-- A deleted row takes its scores out first (their own trigger subtracts
-- them while the row still says done), then leaves the counts.
CREATE TRIGGER aggregate_rows_predelete BEFORE DELETE ON evaluations
BEGIN
    DELETE FROM evaluation_scores WHERE evaluation_id = old.id;
END;

CREATE TRIGGER aggregate_rows_delete AFTER DELETE ON evaluations
BEGIN
    UPDATE aggregate_datasets SET
        rows = rows - 1, queued = queued - (old.status = 'queued'), running = running - (old.status = 'running'),
        done = done - (old.status = 'done'), failed = failed - (old.status = 'failed'),
        prompt_tokens = prompt_tokens - old.prompt_tokens,
        completion_tokens = completion_tokens - old.completion_tokens,
        max_id = CASE WHEN max_id = old.id THEN
                     (SELECT max(id) FROM evaluations WHERE dataset IS old.dataset) ELSE max_id END
    WHERE dataset_key = coalesce(old.dataset, x'');
END;

-- Scores of done rows. INSERT OR REPLACE of an existing score fires the
-- delete trigger first (ragrade's connections set recursive_triggers).
-- The hot path (every score the scheduler writes): aggregate_score_add's
-- upsert inlined, reading the row's dataset and status in one lookup.
CREATE TRIGGER aggregate_score_insert AFTER INSERT ON evaluation_scores
BEGIN
    INSERT INTO aggregate_scores(dataset_key, metric, dataset, n, scored, sum, sum2, min, min_n, max, max_n,
                                 h0, h1, h2, h3, h4, h5, h6, h7, h8, h9)
    SELECT coalesce(e.dataset, x''), new.metric, e.dataset, 1, new.score IS NOT NULL,
           coalesce(new.score, 0), coalesce(new.score * new.score, 0),
           new.score, new.score IS NOT NULL, new.score, new.score IS NOT NULL,
           b = 0, b = 1, b = 2, b = 3, b = 4, b = 5, b = 6, b = 7, b = 8, b = 9
    FROM evaluations e, (SELECT coalesce(min(max(CAST(10 * CASE WHEN new.metric = 'correctness'
                                                               THEN (new.score - 1) / 4
                                                               ELSE new.score END AS INTEGER), 0), 9), -1) AS b)
    WHERE e.id = new.evaluation_id AND e.status = 'done'
    ON CONFLICT (dataset_key, metric) DO UPDATE SET
        n = n + 1, scored = scored + excluded.scored, sum = sum + excluded.sum, sum2 = sum2 + excluded.sum2,
        min_n = CASE WHEN excluded.min IS NULL THEN min_n WHEN min IS NULL OR excluded.min < min THEN 1
                     WHEN excluded.min = min THEN min_n + 1 ELSE min_n END,
        min = CASE WHEN min IS NULL OR excluded.min < min THEN coalesce(excluded.min, min) ELSE min END,
        max_n = CASE WHEN excluded.max IS NULL THEN max_n WHEN max IS NULL OR excluded.max > max THEN 1
                     WHEN excluded.max = max THEN max_n + 1 ELSE max_n END,
        max = CASE WHEN max IS NULL OR excluded.max > max THEN coalesce(excluded.max, max) ELSE max END,
        h0 = h0 + excluded.h0, h1 = h1 + excluded.h1, h2 = h2 + excluded.h2, h3 = h3 + excluded.h3,
        h4 = h4 + excluded.h4, h5 = h5 + excluded.h5, h6 = h6 + excluded.h6, h7 = h7 + excluded.h7,
        h8 = h8 + excluded.h8, h9 = h9 + excluded.h9;
END;

CREATE TRIGGER aggregate_score_delete AFTER DELETE ON evaluation_scores
WHEN (SELECT status FROM evaluations WHERE id = old.evaluation_id) = 'done'
BEGIN
    INSERT INTO aggregate_score_delta
    SELECT dataset, old.metric, -1, old.score FROM evaluations WHERE id = old.evaluation_id;
END;

CREATE TRIGGER aggregate_score_update AFTER UPDATE OF score, metric, evaluation_id ON evaluation_scores
WHEN (SELECT status FROM evaluations WHERE id = old.evaluation_id) = 'done'
  OR (SELECT status FROM evaluations WHERE id = new.evaluation_id) = 'done'
BEGIN
    INSERT INTO aggregate_score_delta
    SELECT dataset, old.metric, -1, old.score FROM evaluations WHERE id = old.evaluation_id AND status = 'done';
    INSERT INTO aggregate_score_delta
    SELECT dataset, new.metric, 1, new.score FROM evaluations WHERE id = new.evaluation_id AND status = 'done';
    INSERT INTO aggregate_score_delta
    SELECT dataset, metric, 0, NULL FROM evaluations, (SELECT old.metric AS metric UNION SELECT new.metric)
    WHERE id IN (old.evaluation_id, new.evaluation_id) AND status = 'done';
END;
