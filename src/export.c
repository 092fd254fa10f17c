/* export.c - data out of the database: rows as JSONL in the shape the row
 * parser (row.c) accepts, or as CSV with one column per metric score, and
 * online backups. Each reads one snapshot, so the result is consistent even
 * while the pool writes (WAL). */
#include "export.h"
#include "db_int.h"
#include "labels.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every column of the export, oldest row first; filters may be NULL. */
static const char sql_rows[] =
    "SELECT id, created_at, status, dataset, question, answer, contexts, ground_truth,"
    " reference_contexts, metrics, attempts, last_error, finished_at, run, item"
    " FROM evaluations WHERE (?1 IS NULL OR dataset = ?1) AND (?2 IS NULL OR status = ?2)"
    " ORDER BY id";
/* The CSV's score columns: every metric scored among the exported rows. */
static const char sql_metrics[] =
    "SELECT DISTINCT s.metric FROM evaluation_scores s JOIN evaluations e ON e.id = s.evaluation_id"
    " WHERE (?1 IS NULL OR e.dataset = ?1) AND (?2 IS NULL OR e.status = ?2) ORDER BY s.metric";

enum { C_ID, C_CREATED, C_STATUS, C_DATASET, C_QUESTION, C_ANSWER, C_CONTEXTS, C_GROUND_TRUTH,
       C_REFERENCE, C_METRICS, C_ATTEMPTS, C_LAST_ERROR, C_FINISHED, C_RUN, C_ITEM };

static const char *const csv_head[] = {
    "id", "created_at", "status", "dataset", "question", "answer", "contexts", "ground_truth",
    "reference_contexts", "metrics", "attempts", "last_error", "finished_at", "run", "item",
};

/* The shortest text that reads back as the same double. */
static void fmt_double(double v, char *buf, size_t len)
{
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, len, "%.17g", v);
}

void export_csv_field(FILE *out, const char *s, int first)
{
    if (!first)
        fputc(',', out);
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Stored JSON text (a CHECK keeps it valid) as a json-c value; NULL stays
 * NULL. */
static const char sql_scores[] =
    "SELECT metric, score, reason FROM evaluation_scores WHERE evaluation_id = ?1 ORDER BY metric";

static json_object *stored_json(sqlite3_stmt *st, int i)
{
    const char *s = col(st, i);

    return s ? json_tokener_parse(s) : NULL;
}

/* The scores of one row as {"metric": score|null}; new reference. */
static int scores_json(db *d, int64_t id, json_object **out)
{
    sqlite3_stmt *st = db_cached(d, sql_scores);
    json_object *o = json_object_new_object();
    char num[32];
    int rc = -EIO, s;

    *out = NULL;
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        json_object *v = NULL;

        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
            fmt_double(sqlite3_column_double(st, 1), num, sizeof num);
            v = json_object_new_double_s(sqlite3_column_double(st, 1), num);
        }
        json_object_object_add(o, col(st, 0), v);
    }
    sqlite3_reset(st);
    if (s != SQLITE_DONE) {
        rc = db_errno(s);
        goto out;
    }
    *out = o;
    o = NULL;
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

/* One JSONL line: the row's inputs under ragrade's own field names, plus
 * "id" (which the row parser accepts and ignores). Absent values are left
 * out rather than written as null. */
static int jsonl_row(db *d, sqlite3_stmt *st, FILE *out, int with_scores)
{
    static const struct { const char *name; int col, is_json; } fields[] = {
        { "question", C_QUESTION, 0 }, { "answer", C_ANSWER, 0 }, { "contexts", C_CONTEXTS, 1 },
        { "ground_truth", C_GROUND_TRUTH, 0 }, { "reference_contexts", C_REFERENCE, 1 },
        { "metrics", C_METRICS, 1 }, { "dataset", C_DATASET, 0 }, { "run", C_RUN, 0 },
        { "item", C_ITEM, 0 },
    };
    json_object *o = json_object_new_object(), *v;
    int64_t id = sqlite3_column_int64(st, C_ID);
    size_t i;
    int rc = 0;

    json_object_object_add(o, "id", json_object_new_int64(id));
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (sqlite3_column_type(st, fields[i].col) == SQLITE_NULL)
            continue;
        v = fields[i].is_json ? stored_json(st, fields[i].col)
                              : json_object_new_string(col(st, fields[i].col));
        json_object_object_add(o, fields[i].name, v);
    }
    if (with_scores) {
        json_object_object_add(o, "status", json_object_new_string(col(st, C_STATUS)));
        if ((rc = scores_json(d, id, &v)) < 0)
            goto out;
        json_object_object_add(o, "scores", v);
        if ((rc = labels_of_row_json(d, id, &v)) < 0)
            goto out;
        json_object_object_add(o, "labels", v);
    }
    fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                         JSON_C_TO_STRING_NOSLASHESCAPE), out);
    fputc('\n', out);
out:
    json_object_put(o);
    return rc;
}

/* One CSV record: the fixed columns, then the row's score under each of
 * the n metric columns (both lists sorted by metric name). */
static int csv_row(db *d, sqlite3_stmt *st, FILE *out, char **metrics, size_t n)
{
    sqlite3_stmt *sc = db_cached(d, sql_scores);
    char num[32];
    size_t i, j = 0;
    int rc = -EIO, s;

    if (!sc)
        goto out;
    for (i = 0; i < sizeof csv_head / sizeof csv_head[0]; i++)
        export_csv_field(out, col(st, (int)i), i == 0);
    sqlite3_bind_int64(sc, 1, sqlite3_column_int64(st, C_ID));
    while ((s = sqlite3_step(sc)) == SQLITE_ROW) {
        const char *m = col(sc, 0);

        for (; j < n && strcmp(metrics[j], m) < 0; j++)
            fputc(',', out);
        if (j == n || strcmp(metrics[j], m))
            continue;             /* not a column: impossible within one snapshot */
        fputc(',', out);
        if (sqlite3_column_type(sc, 1) != SQLITE_NULL) {
            fmt_double(sqlite3_column_double(sc, 1), num, sizeof num);
            fputs(num, out);
        }
        j++;
    }
    sqlite3_reset(sc);
    for (; j < n; j++)
        fputc(',', out);
    fputs("\r\n", out);
    rc = s == SQLITE_DONE ? 0 : db_errno(s);
out:
    return rc;
}

/* The metric names for the CSV's score columns; *v is malloc'd (caller
 * frees each and the array). */
static int csv_metrics(sqlite3 *h, const export_opts *o, char ***v, size_t *n)
{
    sqlite3_stmt *st = NULL;
    char **grown;
    size_t cap = 0;
    int rc = -EIO, s;

    *v = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(h, sql_metrics, -1, &st, NULL) != SQLITE_OK)
        goto out;
    bind_opt(st, 1, o->dataset);
    bind_opt(st, 2, o->status);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            if (!(grown = realloc(*v, cap * sizeof **v))) {
                rc = -ENOMEM;
                goto out;
            }
            *v = grown;
        }
        if (!((*v)[*n] = strdup(col(st, 0)))) {
            rc = -ENOMEM;
            goto out;
        }
        (*n)++;
    }
    rc = s == SQLITE_DONE ? 0 : db_errno(s);
out:
    sqlite3_finalize(st);
    return rc;
}

int export_rows(db *d, FILE *out, const export_opts *o, size_t *n, char *err, size_t errlen)
{
    sqlite3 *h = db_handle(d);
    sqlite3_stmt *st = NULL;
    char **metrics = NULL;
    size_t n_metrics = 0, i;
    int rc = -EIO, s, in_txn = 0;

    *n = 0;
    /* A deferred transaction: one snapshot for the column list and the rows. */
    if (sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto dberr;
    in_txn = 1;
    if (o->format == EXPORT_CSV) {
        if ((rc = csv_metrics(h, o, &metrics, &n_metrics)) < 0)
            goto dberr;
        for (i = 0; i < sizeof csv_head / sizeof csv_head[0]; i++)
            export_csv_field(out, csv_head[i], i == 0);
        for (i = 0; i < n_metrics; i++)
            export_csv_field(out, metrics[i], 0);
        fputs("\r\n", out);
    }
    rc = -EIO;
    if (sqlite3_prepare_v2(h, sql_rows, -1, &st, NULL) != SQLITE_OK)
        goto dberr;
    bind_opt(st, 1, o->dataset);
    bind_opt(st, 2, o->status);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        rc = o->format == EXPORT_CSV ? csv_row(d, st, out, metrics, n_metrics)
                                     : jsonl_row(d, st, out, o->with_scores);
        if (rc < 0)
            goto dberr;
        (*n)++;
        if (ferror(out))
            break;
    }
    if (!ferror(out) && s != SQLITE_DONE && s != SQLITE_ROW) {
        rc = db_errno(s);
        goto dberr;
    }
    errno = 0;
    if (fflush(out) != 0 || ferror(out)) {
        rc = errno ? -errno : -EIO;
        snprintf(err, errlen, "writing the export: %s", strerror(-rc));
        goto out;
    }
    rc = 0;
    goto out;
dberr:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    else
        snprintf(err, errlen, "reading the database: %s", sqlite3_errmsg(h));
out:
    sqlite3_finalize(st);
    if (in_txn)
        sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    for (i = 0; i < n_metrics; i++)
        free(metrics[i]);
    free(metrics);
    return rc;
}

int export_backup(db *d, const char *path, int force, int *pages, char *err, size_t errlen)
{
    sqlite3 *dst = NULL;
    sqlite3_backup *b = NULL;
    struct stat a, b_st;
    const char *src_path;
    char side[4096 + 16];
    int rc = -EIO, s, fd, created = 0, tries = 0, i;

    *pages = 0;
    /* Never the database itself: truncating it, or even closing a descriptor
     * of it, would break the live connections' locks. */
    if ((src_path = sqlite3_db_filename(db_handle(d), "main")) && stat(src_path, &a) == 0 &&
        stat(path, &b_st) == 0 && a.st_dev == b_st.st_dev && a.st_ino == b_st.st_ino) {
        rc = -EINVAL;
        snprintf(err, errlen, "%s is the database itself; back up to another file", path);
        goto out;
    }
    /* A stale journal beside a file we overwrite would be replayed into the copy. */
    for (i = 0; force && i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", path, i == 0 ? "-wal" : i == 1 ? "-shm" : "-journal");
        unlink(side);
    }
    /* Created 0640 like the database itself; never overwritten by accident. */
    if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), 0640)) < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (remove it, or give --force to overwrite it)" : "");
        goto out;
    }
    close(fd);
    created = 1;
    if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        !(b = sqlite3_backup_init(dst, "main", db_handle(d), "main"))) {
        snprintf(err, errlen, "%s: %s", path, dst ? sqlite3_errmsg(dst) : "out of memory");
        goto out;
    }
    /* Every page in one step: one read snapshot of the source. Retry a while
     * if it is locked. */
    while ((s = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || s == SQLITE_LOCKED) {
        if (++tries > 100)
            break;
        sqlite3_sleep(50);
    }
    *pages = sqlite3_backup_pagecount(b);
    sqlite3_backup_finish(b);
    b = NULL;
    if (s != SQLITE_DONE) {
        rc = db_errno(s);
        snprintf(err, errlen, "copying to %s: %s", path, sqlite3_errstr(s));
        goto out;
    }
    /* One self-contained file: no -wal or -shm beside the copy. */
    if ((s = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL)) != SQLITE_OK) {
        rc = db_errno(s);
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(dst));
        goto out;
    }
    if ((s = sqlite3_close(dst)) != SQLITE_OK) {
        rc = db_errno(s);
        snprintf(err, errlen, "closing %s: %s", path, sqlite3_errmsg(dst));
        goto out;
    }
    dst = NULL;
    created = 0;
    rc = 0;
out:
    if (b)
        sqlite3_backup_finish(b);
    sqlite3_close(dst);           /* NULL is a no-op */
    if (created)
        unlink(path);
    return rc;
}
