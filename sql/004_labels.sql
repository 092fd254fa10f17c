-- ragrade schema: human labels beside the judge's scores (issue 18).
-- Numbered 006 for now; the lead renumbers on merge. Every column is
-- documented in sql/README.md.

-- One row per label ever given. The current label of a labeler for a
-- row's metric is the one with superseded_at NULL (a partial unique index
-- keeps it single); a new label sets superseded_at on the old one, so the
-- history stays in the same table. value is on the metric's own scale
-- (0 to 1, 0/1 for binary metrics, 1 to 5 for correctness), checked by
-- ragrade before it writes. sampled = 1: the row was picked by a uniform
-- random draw, so the label may correct the judge's mean; 0: picked on
-- purpose (a disagreement, a split vote), used for agreement only.
CREATE TABLE labels (
    id            INTEGER PRIMARY KEY,
    evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
    metric        TEXT    NOT NULL,
    labeler       TEXT    NOT NULL,
    value         REAL    NOT NULL,
    note          TEXT,
    sampled       INTEGER NOT NULL DEFAULT 0 CHECK (sampled IN (0, 1)),
    created_at    TEXT    NOT NULL,
    superseded_at TEXT
);
CREATE UNIQUE INDEX labels_current ON labels(evaluation_id, metric, labeler)
    WHERE superseded_at IS NULL;
CREATE INDEX labels_metric ON labels(metric, evaluation_id) WHERE superseded_at IS NULL;

-- The labels in force, with the judge's score of the same row and metric
-- (NULL when the judge has none).
CREATE VIEW current_labels AS
SELECT l.evaluation_id AS evaluation_id, e.dataset AS dataset, l.metric AS metric,
       l.labeler AS labeler, l.value AS value, s.score AS score, l.sampled AS sampled,
       l.note AS note, l.created_at AS created_at
FROM labels l JOIN evaluations e ON e.id = l.evaluation_id
LEFT JOIN evaluation_scores s ON s.evaluation_id = l.evaluation_id AND s.metric = l.metric
WHERE l.superseded_at IS NULL;
