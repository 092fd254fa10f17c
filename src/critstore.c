/* critstore.c - the SQL of criteria and criterion_versions (see
 * critstore.h). Statements are prepared once per critstore; writes run in
 * one BEGIN IMMEDIATE transaction under the writers' turn. */
#include "critstore.h"
#include "clock.h"
#include "db_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_STATE, S_PUT, S_VERSION, S_DELETE, S_GET, S_LIST, S_GEN, S_DATA_VERSION, S_GET_VERSION,
    S_N
};

static const char *const sql[S_N] = {
    [S_STATE] = "SELECT version, deleted FROM criteria WHERE name = ?1",
    [S_PUT] =
        "INSERT INTO criteria(name, kind, definition, version, generation, created_at,"
        " updated_at, deleted)"
        " VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(generation), 0) + 1 FROM criteria),"
        " ?5, ?5, 0)"
        " ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, definition = excluded.definition,"
        " version = excluded.version, generation = excluded.generation,"
        " updated_at = excluded.updated_at,"
        " created_at = CASE WHEN criteria.deleted THEN excluded.created_at"
        " ELSE criteria.created_at END, deleted = 0",
    [S_VERSION] = "INSERT OR IGNORE INTO criterion_versions(name, version, definition, created_at)"
                  " VALUES (?1, ?2, ?3, ?4)",
    [S_DELETE] = "UPDATE criteria SET deleted = 1, updated_at = ?2,"
                 " generation = (SELECT max(generation) + 1 FROM criteria)"
                 " WHERE name = ?1 AND deleted = 0",
    [S_GET] = "SELECT definition, version FROM criteria WHERE name = ?1 AND deleted = 0",
    [S_LIST] = "SELECT name, definition, version FROM criteria WHERE deleted = 0 ORDER BY name",
    [S_GEN] = "SELECT coalesce(max(generation), 0) FROM criteria",
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_GET_VERSION] = "SELECT definition FROM criterion_versions WHERE name = ?1 AND version = ?2",
};

struct critstore {
    db *d;                        /* borrowed */
    sqlite3_stmt *st[S_N];        /* owned */
    int64_t data_version;         /* as last read; -1: never */
    int stale;                    /* 1: this connection wrote; skip the data_version shortcut */
};

static int sql_err(critstore *s, const char *what, int rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, db_errmsg(s->d));
    return rc < 0 ? rc : -EIO;
}

static sqlite3_stmt *stmt(critstore *s, int i)
{
    sqlite3_reset(s->st[i]);
    sqlite3_clear_bindings(s->st[i]);
    return s->st[i];
}

critstore *critstore_new(db *d, char *err, size_t errlen)
{
    critstore *s = calloc(1, sizeof *s);
    int i;

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->d = d;
    s->data_version = -1;
    for (i = 0; i < S_N; i++)
        if (sqlite3_prepare_v3(db_handle(d), sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "preparing the criteria statements: %s", db_errmsg(d));
            critstore_free(s);
            return NULL;
        }
    return s;
}

void critstore_free(critstore *s)
{
    int i;

    if (!s)
        return;
    for (i = 0; i < S_N; i++)
        sqlite3_finalize(s->st[i]);
    free(s);
}

/* Run a statement that returns no rows; 0 or a negative code. */
static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_errno(rc);
}

static int record(critstore *s, const criterion *c, const char *canon, const char *now)
{
    sqlite3_stmt *st = stmt(s, S_VERSION);

    sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, canon, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
    return run(st);
}

/* Inside the transaction: what a put would do, then do it. */
static int put_txn(critstore *s, const criterion *c, const char *canon, const char *now,
                   int *what)
{
    sqlite3_stmt *st = stmt(s, S_STATE);
    int rc;

    sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        *what = sqlite3_column_int(st, 1) ? CRITSTORE_CREATED
              : strcmp((const char *)sqlite3_column_text(st, 0), c->version) ? CRITSTORE_UPDATED
              : CRITSTORE_UNCHANGED;
    else if (rc == SQLITE_DONE)
        *what = CRITSTORE_CREATED;
    else
        return db_errno(rc);
    sqlite3_reset(st);
    if (*what == CRITSTORE_UNCHANGED)
        return 0;
    st = stmt(s, S_PUT);
    sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->kind == CRIT_CRITIC ? "critic" : "rubric", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, canon, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
    if ((rc = run(st)) < 0)
        return rc;
    return record(s, c, canon, now);
}

int critstore_put(critstore *s, const criterion *c, int *what, char *err, size_t errlen)
{
    char *canon = crit_canonical(c), now[32];
    int rc;

    *what = CRITSTORE_UNCHANGED;
    if (!canon) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    clock_iso(clock_wall_ms(), now, sizeof now);
    if ((rc = db_exec(s->d, Q_BEGIN)) < 0) {
        rc = sql_err(s, "storing a criterion", rc, err, errlen);
        goto out;
    }
    if ((rc = put_txn(s, c, canon, now, what)) < 0 || (rc = db_exec(s->d, Q_COMMIT)) < 0) {
        rc = sql_err(s, "storing a criterion", rc, err, errlen);
        db_exec(s->d, Q_ROLLBACK);
        goto out;
    }
    s->stale = 1;
out:
    sqlite3_reset(s->st[S_PUT]);
    sqlite3_reset(s->st[S_VERSION]);
    free(canon);
    return rc;
}

int critstore_delete(critstore *s, const char *name, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    char now[32];
    int rc;

    clock_iso(clock_wall_ms(), now, sizeof now);
    if ((rc = db_exec(s->d, Q_BEGIN)) < 0)
        return sql_err(s, "deleting a criterion", rc, err, errlen);
    st = stmt(s, S_DELETE);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    if ((rc = run(st)) < 0) {
        rc = sql_err(s, "deleting a criterion", rc, err, errlen);
        db_exec(s->d, Q_ROLLBACK);
        goto out;
    }
    if (sqlite3_changes(db_handle(s->d)) == 0) {
        db_exec(s->d, Q_ROLLBACK);
        snprintf(err, errlen, "no criterion named %s", name);
        rc = -ENOENT;
        goto out;
    }
    if ((rc = db_exec(s->d, Q_COMMIT)) < 0) {
        rc = sql_err(s, "deleting a criterion", rc, err, errlen);
        db_exec(s->d, Q_ROLLBACK);
        goto out;
    }
    s->stale = 1;
out:
    sqlite3_reset(st);
    return rc;
}

/* A stored definition back into c, with the stored version (which names
 * its scores even if canonical JSON were ever to change). */
static int load(criterion *c, const char *name, const char *def, const char *version)
{
    json_object *o = def ? json_tokener_parse(def) : NULL;
    crit_error e;
    int rc = crit_from_json(c, name, o, &e);

    json_object_put(o);
    if (rc == 0 && version)
        snprintf(c->version, sizeof c->version, "%s", version);
    if (rc < 0)
        crit_clear(c);
    return rc;
}

int critstore_get(critstore *s, const char *name, criterion *c, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, S_GET);
    int rc;

    memset(c, 0, sizeof *c);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_DONE) {
        snprintf(err, errlen, "no criterion named %s", name);
        rc = -ENOENT;
    } else if (rc != SQLITE_ROW) {
        rc = sql_err(s, "reading a criterion", db_errno(rc), err, errlen);
    } else if ((rc = load(c, name, (const char *)sqlite3_column_text(st, 0),
                          (const char *)sqlite3_column_text(st, 1))) < 0) {
        snprintf(err, errlen, "the stored definition of %s does not validate", name);
        rc = -EIO;
    }
    sqlite3_reset(st);
    return rc;
}

static int read_gen(critstore *s, uint64_t *gen)
{
    sqlite3_stmt *st = stmt(s, S_GEN);
    int rc = sqlite3_step(st);

    *gen = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : db_errno(rc);
}

int critstore_list(critstore *s, criterion **v, size_t *n, uint64_t *gen, size_t *skipped,
                   char *err, size_t errlen)
{
    sqlite3_stmt *st;
    criterion *out = NULL, *p;
    size_t cap = 0, m = 0, bad = 0;
    int rc;

    *v = NULL;
    *n = 0;
    if ((rc = read_gen(s, gen)) < 0)   /* first: never newer than the list */
        return sql_err(s, "reading the criteria", rc, err, errlen);
    st = stmt(s, S_LIST);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (m == cap) {
            cap = cap ? 2 * cap : 8;
            if (!(p = realloc(out, cap * sizeof *out))) {
                rc = -ENOMEM;
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            out = p;
        }
        if (load(&out[m], (const char *)sqlite3_column_text(st, 0),
                 (const char *)sqlite3_column_text(st, 1),
                 (const char *)sqlite3_column_text(st, 2)) < 0)
            bad++;
        else
            m++;
    }
    rc = rc == SQLITE_DONE ? 0 : sql_err(s, "reading the criteria", db_errno(rc), err, errlen);
out:
    sqlite3_reset(st);
    if (rc < 0) {
        crit_free_array(out, m);
        return rc;
    }
    if (skipped)
        *skipped = bad;
    *v = out;
    *n = m;
    return 0;
}

int critstore_record_version(critstore *s, const criterion *c, char *err, size_t errlen)
{
    char *canon = crit_canonical(c), now[32];
    int rc;

    if (!canon) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    clock_iso(clock_wall_ms(), now, sizeof now);
    if ((rc = db_exec(s->d, Q_BEGIN)) < 0) {
        rc = sql_err(s, "recording a criterion's version", rc, err, errlen);
    } else if ((rc = record(s, c, canon, now)) < 0 || (rc = db_exec(s->d, Q_COMMIT)) < 0) {
        rc = sql_err(s, "recording a criterion's version", rc, err, errlen);
        db_exec(s->d, Q_ROLLBACK);
    }
    sqlite3_reset(s->st[S_VERSION]);
    free(canon);
    return rc;
}

int critstore_get_version(critstore *s, const char *name, const char *version, criterion *c,
                          char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, S_GET_VERSION);
    int rc;

    memset(c, 0, sizeof *c);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_DONE) {
        snprintf(err, errlen, "no version %s of criterion %s", version, name);
        rc = -ENOENT;
    } else if (rc != SQLITE_ROW) {
        rc = sql_err(s, "reading a criterion's version", db_errno(rc), err, errlen);
    } else if ((rc = load(c, name, (const char *)sqlite3_column_text(st, 0), version)) < 0) {
        snprintf(err, errlen, "the stored definition of %s does not validate", name);
        rc = -EIO;
    }
    sqlite3_reset(st);
    return rc;
}

int critstore_refresh(critstore *s, crit_registry *r, int *changed, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, S_DATA_VERSION);
    criterion *v;
    uint64_t gen;
    int64_t dv;
    size_t n;
    int rc;

    if (changed)
        *changed = 0;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return sql_err(s, "reading data_version", db_errno(rc), err, errlen);
    }
    dv = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (dv == s->data_version && !s->stale)
        return 0;
    if ((rc = read_gen(s, &gen)) < 0)
        return sql_err(s, "reading the criteria", rc, err, errlen);
    if (gen != crit_registry_generation(r)) {
        if ((rc = critstore_list(s, &v, &n, &gen, NULL, err, errlen)) < 0)
            return rc;
        if ((rc = crit_registry_publish(r, v, n, gen)) < 0) {
            snprintf(err, errlen, "out of memory");
            return rc;
        }
        if (changed)
            *changed = 1;
    }
    s->data_version = dv;
    s->stale = 0;
    return 0;
}
