/* aggregate.c - check and rebuild the summary aggregates (see aggregate.h).
 * A storage module that owns its SQL: the recomputation itself is the
 * schema's views aggregate_*_recomputed, so the migration's backfill, the
 * check and the rebuild can never disagree on what the figures mean. */
#include "aggregate.h"
#include "db_int.h"

#include <errno.h>
#include <stdint.h>

#define SUM_DIFFERS(a, b) "abs(" a " - " b ") > 1e-9 * max(1.0, abs(" b "))"

/* Keys whose figures differ from the recomputation, or that only one side
 * has (a stored key whose counts are all zero stands for no rows). */
static const char sql_check[] =
    "SELECT"
    " (SELECT count(*) FROM aggregate_datasets_recomputed r"
    "  LEFT JOIN aggregate_datasets a ON a.dataset_key = r.dataset_key"
    "  WHERE a.dataset_key IS NULL OR a.rows <> r.rows OR a.queued <> r.queued OR a.running <> r.running"
    "   OR a.done <> r.done OR a.failed <> r.failed OR a.max_id IS NOT r.max_id"
    "   OR a.prompt_tokens <> r.prompt_tokens OR a.completion_tokens <> r.completion_tokens)"
    " + (SELECT count(*) FROM aggregate_datasets a"
    "  WHERE (a.rows OR a.queued OR a.running OR a.done OR a.failed OR a.prompt_tokens"
    "         OR a.completion_tokens)"
    "   AND NOT EXISTS (SELECT 1 FROM aggregate_datasets_recomputed r WHERE r.dataset_key = a.dataset_key)),"
    " (SELECT count(*) FROM aggregate_scores_recomputed r"
    "  LEFT JOIN aggregate_scores a ON a.dataset_key = r.dataset_key AND a.metric = r.metric"
    "  WHERE a.metric IS NULL OR a.n <> r.n OR a.scored <> r.scored"
    "   OR " SUM_DIFFERS("a.sum", "r.sum") " OR " SUM_DIFFERS("a.sum2", "r.sum2")
    "   OR a.min IS NOT r.min OR a.min_n <> r.min_n OR a.max IS NOT r.max OR a.max_n <> r.max_n"
    "   OR a.h0 <> r.h0 OR a.h1 <> r.h1 OR a.h2 <> r.h2 OR a.h3 <> r.h3 OR a.h4 <> r.h4"
    "   OR a.h5 <> r.h5 OR a.h6 <> r.h6 OR a.h7 <> r.h7 OR a.h8 <> r.h8 OR a.h9 <> r.h9)"
    " + (SELECT count(*) FROM aggregate_scores a WHERE a.n <> 0"
    "   AND NOT EXISTS (SELECT 1 FROM aggregate_scores_recomputed r"
    "                   WHERE r.dataset_key = a.dataset_key AND r.metric = a.metric))";

static const char sql_rebuild[] =
    "DELETE FROM aggregate_datasets;"
    " INSERT INTO aggregate_datasets SELECT * FROM aggregate_datasets_recomputed;"
    " DELETE FROM aggregate_scores;"
    " INSERT INTO aggregate_scores SELECT * FROM aggregate_scores_recomputed;";

int aggregate_check(db *d, FILE *out)
{
    sqlite3_stmt *st = NULL;
    int64_t rows, scores;
    int rc = -1;

    if (sqlite3_prepare_v2(db_handle(d), sql_check, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        fprintf(out, "%-16s FAILED: %s\n", "aggregates", db_errmsg(d));
        goto out;
    }
    rows = sqlite3_column_int64(st, 0);
    scores = sqlite3_column_int64(st, 1);
    if (rows || scores)
        fprintf(out, "%-16s FAILED: %lld dataset and %lld metric keys differ from a recomputation;"
                " run 'ragrade admin reaggregate'\n", "aggregates", (long long)rows, (long long)scores);
    else
        fprintf(out, "%-16s ok\n", "aggregates");
    rc = !rows && !scores;
out:
    sqlite3_finalize(st);
    return rc;
}

int aggregate_rebuild(db *d, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc, s;

    if ((rc = db_exec(d, Q_BEGIN)) < 0) {
        snprintf(err, errlen, "starting a write transaction: %s", db_errmsg(d));
        goto out;
    }
    if ((s = sqlite3_exec(db_handle(d), sql_rebuild, NULL, NULL, &msg)) != SQLITE_OK) {
        snprintf(err, errlen, "recomputing the aggregates: %s", msg ? msg : sqlite3_errstr(s));
        rc = db_errno(s);
        db_exec(d, Q_ROLLBACK);
        goto out;
    }
    if ((rc = db_exec(d, Q_COMMIT)) < 0) {
        snprintf(err, errlen, "committing the aggregates: %s", db_errmsg(d));
        db_exec(d, Q_ROLLBACK);
    }
out:
    sqlite3_free(msg);
    return rc;
}
