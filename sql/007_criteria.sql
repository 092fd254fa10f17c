-- ragrade schema: user-defined criteria (issue 15). Migration 007.
-- Every column is documented in sql/README.md.

-- The criteria defined through the API (those of the configuration file
-- live there, not here). One row per name; DELETE sets deleted = 1 and
-- keeps the row, so past scores keep their meaning and a PUT revives it.
-- generation takes max(generation) + 1 on every put and delete: a worker
-- compares SELECT max(generation) with its registry's to see a change.
CREATE TABLE criteria (
    name        TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('critic', 'rubric')),
    definition  TEXT    NOT NULL CHECK (json_valid(definition)),
    version     TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
) WITHOUT ROWID;
CREATE INDEX criteria_generation ON criteria(generation);

-- Every version a criterion ever had (API or configuration), so a score's
-- version still finds its definition (levels, steps) after an edit or a
-- delete.
CREATE TABLE criterion_versions (
    name        TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    definition  TEXT    NOT NULL CHECK (json_valid(definition)),
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;

-- The judge profile ([judge NAME]) a row names ("judge" in the submitted
-- JSON); NULL: the criterion's, the metric's (judge.metric_judges) or the
-- default judge. evaluations.judge stays the judge that graded it.
ALTER TABLE evaluations ADD COLUMN judge_profile TEXT;

-- The version of the criterion that produced a score; NULL for built-in
-- metrics (their definition changes only with ragrade's own version).
ALTER TABLE evaluation_scores ADD COLUMN version TEXT;

-- The criteria's scores only (built-in metrics have no version): the
-- summary over the aggregates, keyed (dataset, metric), tells a criterion
-- by one lookup here and reads its versions apart from these rows.
CREATE INDEX evaluation_scores_criterion ON evaluation_scores(metric, version)
    WHERE version IS NOT NULL;

-- Summaries keep versions apart: an edited rubric never mixes old and new.
DROP VIEW evaluation_summary;
CREATE VIEW evaluation_summary AS
SELECT e.dataset                                AS dataset,
       s.metric                                 AS metric,
       s.version                                AS version,
       count(*)                                 AS n,
       count(s.score)                           AS scored,
       count(*) - count(s.score)                AS nulls,
       avg(s.score)                             AS mean,
       min(s.score)                             AS min,
       max(s.score)                             AS max
FROM evaluation_scores s JOIN evaluations e ON e.id = s.evaluation_id
WHERE e.status = 'done'
GROUP BY e.dataset, s.metric, s.version;
