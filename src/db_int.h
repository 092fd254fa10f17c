/* db_int.h - the storage side of db.c, for storage modules only (db.c,
 * cache.c, wal.c, critstore.c, spanstore.c, labels*.c) and the read modules
 * that own their SQL
 * (report.c, maint.c, export.c, prom.c): the raw connection and cached
 * statements.
 * Everything else calls functions (db.h, report.h, maint.h, ...). */
#ifndef RAGRADE_DB_INT_H
#define RAGRADE_DB_INT_H

#include <sqlite3.h>

#include "db.h"

sqlite3 *db_handle(db *d);                 /* borrowed */

/* One of db.c's statements, reset and with bindings cleared; NULL if it
 * cannot be prepared (db_errmsg says why). */
sqlite3_stmt *db_stmt(db *d, enum db_stmt which);

/* A statement of a storage or read module, prepared once per connection
 * and kept until db_close, keyed by the address of its SQL text: pass a
 * string constant (static storage), the same one each time. Reset, with
 * bindings cleared; NULL if it cannot be prepared or the cache
 * (DB_CACHED_MAX) is full. */
#define DB_CACHED_MAX 48
sqlite3_stmt *db_cached(db *d, const char *sql);

/* Step a statement that returns no rows and reset it: 0 or a negative
 * errno (db_errno). */
int db_step_done(sqlite3_stmt *st);

/* Bind text, or NULL when s is NULL; s must outlive the step. */
void db_bind_text(sqlite3_stmt *st, int i, const char *s);

/* A text column copied (malloc), or NULL for SQL NULL or no memory. */
char *db_col_dup(sqlite3_stmt *st, int i);

/* The checkpointer's role and the WAL restart (used by wal.c only). */
int db_checkpointer(db *d);
int db_wal_mark(db *d);

#endif
