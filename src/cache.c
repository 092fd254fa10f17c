/* cache.c - the judge reply cache (table judge_cache, created by migration
 * sql/002_judge_cache.sql): lookups and writes by key, with the SQL and
 * the decoding of its columns in one place. */
#include "cache.h"
#include "db_int.h"

#include <errno.h>
#include <stdlib.h>

static const char sql_get[] = "SELECT reply FROM judge_cache WHERE key = ?1";
static const char sql_put[] =
    "INSERT OR REPLACE INTO judge_cache(key, reply, prompt_tokens, completion_tokens, created_at)"
    " VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";

int cache_get(db *d, const char *key, char **reply)
{
    sqlite3_stmt *st = db_cached(d, sql_get);
    int rc = -EIO, s;

    *reply = NULL;
    if (!st)
        goto out;
    db_bind_text(st, 1, key);
    s = sqlite3_step(st);
    if (s == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        rc = (*reply = db_col_dup(st, 0)) ? 0 : -ENOMEM;
    } else {
        rc = s == SQLITE_ROW || s == SQLITE_DONE ? 0 : db_errno(s);
    }
    sqlite3_reset(st);
out:
    return rc;
}

int cache_put(db *d, const char *key, const char *reply, int64_t prompt_tokens,
              int64_t completion_tokens)
{
    sqlite3_stmt *st = db_cached(d, sql_put);
    int rc = -EIO, turn;

    if (!st)
        goto out;
    /* A write like any other: under the writers' turn (db.h). */
    turn = db_turn_take(d) == 0;
    db_bind_text(st, 1, key);
    db_bind_text(st, 2, reply);
    sqlite3_bind_int64(st, 3, prompt_tokens);
    sqlite3_bind_int64(st, 4, completion_tokens);
    rc = db_step_done(st);
    if (turn)
        db_turn_give(d);
out:
    return rc;
}
