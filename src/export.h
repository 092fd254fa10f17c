/* export.h - data out of the database for `ragrade admin`: evaluation rows
 * as JSONL that POST /api/eval and `ragrade eval` accept back, or as CSV
 * (RFC 4180) with one column per metric score; and the whole database as an
 * online backup copy. */
#ifndef RAGRADE_EXPORT_H
#define RAGRADE_EXPORT_H

#include <stdio.h>

#include "db.h"

enum export_format { EXPORT_JSONL, EXPORT_CSV };

typedef struct export_opts {
    enum export_format format;
    const char *dataset;          /* NULL: every dataset */
    const char *status;           /* NULL: every status */
    int with_scores;              /* JSONL: add status and scores (not re-importable) */
} export_opts;

/* Write every matching row to out, oldest first, from one read snapshot, so
 * the export is consistent while the server writes. *n receives the number
 * of rows written. 0, or a negative code with err filled. */
int export_rows(db *d, FILE *out, const export_opts *o, size_t *n, char *err, size_t errlen);

/* Copy the database to path with SQLite's online backup API, in one read
 * snapshot while the server keeps writing. The copy is one self-contained
 * file (rollback journal mode; ragrade turns WAL on again when it opens it
 * to write). path is created 0640 and must not exist unless force; it may
 * never be the database itself. *pages receives the number of pages
 * copied. 0, or a negative code with err filled (a partial copy is
 * removed). */
int export_backup(db *d, const char *path, int force, int *pages, char *err, size_t errlen);

/* One CSV field, after a comma unless first: quoted, with quotes doubled,
 * when it holds a comma, a quote, CR or LF (RFC 4180). NULL is an empty
 * field. Also used by the labels' export. */
void export_csv_field(FILE *out, const char *s, int first);

#endif
