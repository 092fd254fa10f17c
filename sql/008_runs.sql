-- ragrade schema 006: runs and items (issue 16). A row may name the version of
-- the system under test (run) and its test case's stable id in the dataset
-- (item); two runs of a dataset are compared item by item (GET
-- /api/compare, ragrade compare --db). Both are NULL for older rows.

ALTER TABLE evaluations ADD COLUMN run TEXT;
ALTER TABLE evaluations ADD COLUMN item TEXT;

-- A run's rows (comparisons, the list of runs, summaries by run).
CREATE INDEX evaluations_dataset_run ON evaluations(dataset, run);

-- Per dataset, run and metric: how many scores, how many null, the mean.
CREATE VIEW evaluation_run_summary AS
SELECT e.dataset                                AS dataset,
       e.run                                    AS run,
       s.metric                                 AS metric,
       count(*)                                 AS n,
       count(s.score)                           AS scored,
       count(*) - count(s.score)                AS nulls,
       avg(s.score)                             AS mean,
       min(s.score)                             AS min,
       max(s.score)                             AS max
FROM evaluation_scores s JOIN evaluations e ON e.id = s.evaluation_id
WHERE e.status = 'done'
GROUP BY e.dataset, e.run, s.metric;
