/* labels_io.c - labels in and out as files: import from JSONL or CSV, all
 * or nothing in one write transaction, and export in the same shapes, so
 * an export reads back; and a row's labels for the JSONL export with
 * scores. */
#include "labels_int.h"
#include "export.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The CSV's columns, in the order the export writes them. */
static const char *const csv_cols[] = {
    "evaluation_id", "metric", "value", "labeler", "note", "sampled", "created_at",
};
#define N_COLS (sizeof csv_cols / sizeof csv_cols[0])
enum { K_ID, K_METRIC, K_VALUE, K_LABELER, K_NOTE, K_SAMPLED, K_CREATED };

/* Read one line (without its LF and a CR before it) into buf. 1 if one was
 * read, 0 at the end, -EMSGSIZE when it is longer than the buffer. */
static int read_line(FILE *in, char *buf, size_t len)
{
    size_t n;

    if (!fgets(buf, (int)len, in))
        return 0;
    n = strlen(buf);
    if (n == len - 1 && buf[n - 1] != '\n' && !feof(in))
        return -EMSGSIZE;
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return 1;
}

/* 1 if s holds an odd number of quotes: a CSV field is still open. */
static int quote_open(const char *s)
{
    int open = 0;

    for (; *s; s++)
        open ^= *s == '"';
    return open;
}

/* One record: a line, and for CSV the lines after it while a quoted field
 * is open (a note with line breaks), joined by LF. Returns as read_line;
 * *lineno counts the lines read. */
static int read_record(FILE *in, char *buf, size_t len, int csv, size_t *lineno)
{
    size_t n;
    int rc = read_line(in, buf, len);

    *lineno += rc > 0;
    while (rc > 0 && csv == 1 && quote_open(buf)) {
        n = strlen(buf);
        if (n + 2 >= len)
            return -EMSGSIZE;
        buf[n++] = '\n';
        if ((rc = read_line(in, buf + n, len - n)) == 0)
            return 1;     /* the open quote is the parser's to refuse */
        *lineno += rc > 0;
    }
    return rc;
}

/* Split one CSV record (RFC 4180) in place
 * into at most max fields. The number of fields, or -EINVAL. */
static int csv_split(char *s, char **f, int max)
{
    int n = 0;
    char *w;

    for (;;) {
        if (n == max)
            return -EINVAL;
        if (*s == '"') {
            f[n++] = w = ++s;
            for (;;) {
                if (!*s)
                    return -EINVAL;
                if (*s == '"' && s[1] == '"') {
                    *w++ = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    *w++ = *s++;
                }
            }
            if (*s && *s != ',')
                return -EINVAL;
            *w = '\0';
        } else {
            f[n++] = s;
            s += strcspn(s, ",");
        }
        if (!*s)
            break;
        *s++ = '\0';
    }
    return n;
}

static int parse_id(const char *s, int64_t *id)
{
    char *end;
    long long v;

    if (!s || *s < '1' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    *id = v;
    return errno || *end ? -EINVAL : 0;
}

static int parse_sampled(const char *s, int *v)
{
    if (!s || !*s || !strcmp(s, "0") || !strcmp(s, "false"))
        *v = 0;
    else if (!strcmp(s, "1") || !strcmp(s, "true"))
        *v = 1;
    else
        return -EINVAL;
    return 0;
}

/* A label from one JSONL object; strings point into o. */
static int from_json(json_object *o, label *l, char *err, size_t errlen)
{
    json_object *v;
    int rc = -EINVAL;

    memset(l, 0, sizeof *l);
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "not a JSON object");
        goto out;
    }
    if ((!json_object_object_get_ex(o, "evaluation_id", &v) && !json_object_object_get_ex(o, "id", &v)) ||
        !json_object_is_type(v, json_type_int) || (l->evaluation_id = json_object_get_int64(v)) <= 0) {
        snprintf(err, errlen, "evaluation_id must be an evaluation id");
        goto out;
    }
    if (json_object_object_get_ex(o, "metric", &v) && json_object_is_type(v, json_type_string))
        l->metric = json_object_get_string(v);
    if (json_object_object_get_ex(o, "labeler", &v) && json_object_is_type(v, json_type_string))
        l->labeler = json_object_get_string(v);
    if (json_object_object_get_ex(o, "note", &v) && json_object_is_type(v, json_type_string))
        l->note = json_object_get_string(v);
    if (!json_object_object_get_ex(o, "value", &v) ||
        !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))) {
        snprintf(err, errlen, "value must be a number");
        goto out;
    }
    l->value = json_object_get_double(v);
    if (json_object_object_get_ex(o, "sampled", &v) && v) {
        if (json_object_is_type(v, json_type_boolean) || json_object_is_type(v, json_type_int))
            l->sampled = json_object_get_int(v) != 0;
        else {
            snprintf(err, errlen, "sampled must be true, false, 0 or 1");
            goto out;
        }
    }
    rc = 0;
out:
    return rc;
}

/* A label from one CSV record, by the header's column map. */
static int from_csv(char **f, int n, const int *map, label *l, char *err, size_t errlen)
{
    char *end;
    const char *s;
    int rc = -EINVAL;

    memset(l, 0, sizeof *l);
#define FIELD(k) (map[k] >= 0 && map[k] < n ? f[map[k]] : NULL)
    if (parse_id(FIELD(K_ID), &l->evaluation_id) < 0) {
        snprintf(err, errlen, "evaluation_id must be an evaluation id");
        goto out;
    }
    l->metric = FIELD(K_METRIC);
    l->labeler = FIELD(K_LABELER);
    l->note = FIELD(K_NOTE) && *FIELD(K_NOTE) ? FIELD(K_NOTE) : NULL;
    s = FIELD(K_VALUE);
    if (!s || !*s || (l->value = strtod(s, &end), *end)) {
        snprintf(err, errlen, "value must be a number");
        goto out;
    }
    if (parse_sampled(FIELD(K_SAMPLED), &l->sampled) < 0) {
        snprintf(err, errlen, "sampled must be 0, 1, true or false");
        goto out;
    }
#undef FIELD
    rc = 0;
out:
    return rc;
}

/* The header's columns into map (K_* -> field index, -1 absent). */
static int csv_header(char *line, int *map, char *err, size_t errlen)
{
    char *f[32];
    int n = csv_split(line, f, 32), i;
    size_t k;

    for (k = 0; k < N_COLS; k++)
        map[k] = -1;
    for (i = 0; i < n; i++)
        for (k = 0; k < N_COLS; k++)
            if (!strcmp(f[i], csv_cols[k]))
                map[k] = i;
    if (n < 0 || map[K_ID] < 0 || map[K_METRIC] < 0 || map[K_VALUE] < 0 || map[K_LABELER] < 0) {
        snprintf(err, errlen, "the CSV header must name evaluation_id, metric, value and labeler");
        return -EINVAL;
    }
    return 0;
}

/* One line: parse, check, store. */
static int import_line(db *d, char *line, int csv, const int *map, const char *now, char *err,
                       size_t errlen)
{
    json_object *o = NULL;
    const char *field;
    char *f[32];
    label l;
    int rc, n, replaced;

    if (csv) {
        if ((n = csv_split(line, f, 32)) < 0) {
            snprintf(err, errlen, "not a CSV record");
            rc = -EINVAL;
            goto out;
        }
        rc = from_csv(f, n, map, &l, err, errlen);
    } else {
        if (!(o = json_tokener_parse(line))) {
            snprintf(err, errlen, "not JSON");
            rc = -EINVAL;
            goto out;
        }
        rc = from_json(o, &l, err, errlen);
    }
    if (rc < 0 || (rc = labels_check(&l, &field, err, errlen)) < 0)
        goto out;
    if ((rc = labels_put_in_txn(d, &l, now, &replaced)) == -EINVAL)
        snprintf(err, errlen, "no evaluation has the id %lld", (long long)l.evaluation_id);
    else if (rc < 0)
        snprintf(err, errlen, "%s", db_errmsg(d));
out:
    json_object_put(o);
    return rc;
}

int labels_import(db *d, FILE *in, size_t *n, char *err, size_t errlen)
{
    char *line = malloc(LABELS_LINE_MAX), msg[256] = "", now[32];
    int map[N_COLS], rc, got, csv = -1, in_txn = 0;
    size_t lineno = 0;

    *n = 0;
    rc = -ENOMEM;
    if (!line)
        goto fail;
    clock_iso(clock_wall_ms(), now, sizeof now);
    if ((rc = db_exec(d, Q_BEGIN)) < 0) {
        snprintf(msg, sizeof msg, "%s", db_errmsg(d));
        goto fail;
    }
    in_txn = 1;
    while ((got = read_record(in, line, LABELS_LINE_MAX, csv, &lineno)) != 0) {
        rc = got;
        if (rc < 0) {
            snprintf(msg, sizeof msg, "longer than %d bytes", LABELS_LINE_MAX);
            goto fail;
        }
        if (!line[strspn(line, " \t")])
            continue;
        if (csv < 0) {
            csv = line[strspn(line, " \t")] != '{';
            if (csv && (rc = csv_header(line, map, msg, sizeof msg)) < 0)
                goto fail;
            if (csv)
                continue;
        }
        if ((rc = import_line(d, line, csv, map, now, msg, sizeof msg)) < 0)
            goto fail;
        (*n)++;
    }
    if (ferror(in)) {
        rc = -EIO;
        snprintf(msg, sizeof msg, "reading the file failed");
        goto fail;
    }
    if ((rc = db_exec(d, Q_COMMIT)) < 0) {
        snprintf(msg, sizeof msg, "%s", db_errmsg(d));
        goto fail;
    }
    in_txn = 0;
    rc = 0;
    goto out;
fail:
    if (lineno)
        snprintf(err, errlen, "line %zu: %s; nothing was imported", lineno, msg);
    else
        snprintf(err, errlen, "%s; nothing was imported", *msg ? msg : "out of memory");
    *n = 0;
out:
    if (in_txn)
        db_exec(d, Q_ROLLBACK);
    free(line);
    return rc;
}

static void export_one(FILE *out, sqlite3_stmt *st, int csv)
{
    char buf[2][40];
    const char *v[N_COLS];
    json_object *o;
    size_t k;

    snprintf(buf[0], sizeof buf[0], "%lld", (long long)sqlite3_column_int64(st, 0));
    snprintf(buf[1], sizeof buf[1], "%.15g", sqlite3_column_double(st, 3));
    if (strtod(buf[1], NULL) != sqlite3_column_double(st, 3))
        snprintf(buf[1], sizeof buf[1], "%.17g", sqlite3_column_double(st, 3));
    if (csv) {
        v[K_ID] = buf[0];
        v[K_METRIC] = (const char *)sqlite3_column_text(st, 1);
        v[K_VALUE] = buf[1];
        v[K_LABELER] = (const char *)sqlite3_column_text(st, 2);
        v[K_NOTE] = (const char *)sqlite3_column_text(st, 4);
        v[K_SAMPLED] = sqlite3_column_int(st, 5) ? "1" : "0";
        v[K_CREATED] = (const char *)sqlite3_column_text(st, 6);
        for (k = 0; k < N_COLS; k++)
            export_csv_field(out, v[k], k == 0);
        fputs("\r\n", out);
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "evaluation_id", json_object_new_int64(sqlite3_column_int64(st, 0)));
    json_object_object_add(o, "metric", json_object_new_string((const char *)sqlite3_column_text(st, 1)));
    json_object_object_add(o, "labeler", json_object_new_string((const char *)sqlite3_column_text(st, 2)));
    json_object_object_add(o, "value", json_object_new_double_s(sqlite3_column_double(st, 3), buf[1]));
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        json_object_object_add(o, "note", json_object_new_string((const char *)sqlite3_column_text(st, 4)));
    json_object_object_add(o, "sampled", json_object_new_boolean(sqlite3_column_int(st, 5)));
    json_object_object_add(o, "created_at", json_object_new_string((const char *)sqlite3_column_text(st, 6)));
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        json_object_object_add(o, "superseded_at", json_object_new_string((const char *)sqlite3_column_text(st, 7)));
    fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), out);
    fputc('\n', out);
    json_object_put(o);
}

int labels_export(db *d, FILE *out, const char *dataset, int csv, int history, size_t *n, char *err,
                  size_t errlen)
{
    sqlite3_stmt *st;
    size_t k;
    int rc = -EIO, s;

    *n = 0;
    /* Oldest first, so that an import of a history replays it in order. */
    st = labels_prepare(d, "SELECT l.evaluation_id, l.metric, l.labeler, l.value, l.note, l.sampled,"
                           " l.created_at, l.superseded_at FROM labels l JOIN evaluations e"
                           " ON e.id = l.evaluation_id WHERE (?1 IS NULL OR e.dataset = ?1)"
                           " AND (?2 OR l.superseded_at IS NULL) ORDER BY l.id");
    if (!st)
        goto dberr;
    if (dataset)
        sqlite3_bind_text(st, 1, dataset, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, !!history);
    for (k = 0; csv && k < N_COLS; k++)
        export_csv_field(out, csv_cols[k], k == 0);
    if (csv)
        fputs("\r\n", out);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        export_one(out, st, csv);
        (*n)++;
    }
    if (s != SQLITE_DONE)
        goto dberr;
    rc = fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
    if (rc < 0)
        snprintf(err, errlen, "writing the export failed");
    goto out;
dberr:
    snprintf(err, errlen, "reading the labels: %s", db_errmsg(d));
out:
    sqlite3_finalize(st);
    return rc;
}

int labels_of_row_json(db *d, int64_t id, json_object **out)
{
    sqlite3_stmt *st = labels_prepare(d, "SELECT metric, labeler, value, sampled FROM labels"
                                         " WHERE evaluation_id = ?1 AND superseded_at IS NULL"
                                         " ORDER BY metric, labeler");
    json_object *o = json_object_new_object(), *arr, *it;
    const char *m;
    int rc = -EIO, s;

    *out = NULL;
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        m = (const char *)sqlite3_column_text(st, 0);
        if (!json_object_object_get_ex(o, m, &arr)) {
            arr = json_object_new_array();
            json_object_object_add(o, m, arr);
        }
        it = json_object_new_object();
        json_object_object_add(it, "labeler", json_object_new_string((const char *)sqlite3_column_text(st, 1)));
        json_object_object_add(it, "value", json_object_new_double(sqlite3_column_double(st, 2)));
        json_object_object_add(it, "sampled", json_object_new_boolean(sqlite3_column_int(st, 3)));
        json_object_array_add(arr, it);
    }
    if (s != SQLITE_DONE) {
        rc = db_errno(s);
        goto out;
    }
    *out = o;
    o = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    json_object_put(o);
    return rc;
}
