/* labels_int.h - what labels.c shares with labels_io.c and labels_agree.c
 * (the storage module's own files); nobody else includes it. */
#ifndef RAGRADE_LABELS_INT_H
#define RAGRADE_LABELS_INT_H

#include <sqlite3.h>

#include "clock.h"
#include "db_int.h"
#include "labels.h"

/* Supersede the current label and insert l, inside the caller's write
 * transaction; now is the ISO time. *replaced: 1 if one was superseded. */
int labels_put_in_txn(db *d, const label *l, const char *now, int *replaced);
/* 1 if table has column (columns other migrations add: evaluations.run,
 * evaluation_scores.version), 0 if not, negative on error. */
int labels_has_column(db *d, const char *table, const char *column);
/* The run filter for SQL over e (evaluations) with ?2 the run: "" when f
 * has none; -ENOTSUP when f has a run and the schema no runs. */
int labels_run_clause(db *d, const labels_filter *f, const char **run_sql);
/* Bind ?1 dataset, ?2 run, ?3 metric. */
void labels_bind_filter(sqlite3_stmt *st, const labels_filter *f);
/* sqlite3_prepare_v2 on d's connection; NULL on failure. */
sqlite3_stmt *labels_prepare(db *d, const char *sql);

#endif
