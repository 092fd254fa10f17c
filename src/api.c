/* api.c - routes and handlers of /api/. A submit is validated here, handed
 * to the group commit (queue.c) and answered 202 once committed; reads go
 * to this thread's own SQLite connection. Only this layer picks HTTP
 * statuses and words for the client. Around every handler: CORS for the
 * origins in server.cors_origins, bearer tokens (auth.c), the request
 * counters of the scoreboard, and a log line for each 4xx, 5xx or slow
 * answer (id, method, path, status, duration; never a body or a token). */
#include "api.h"
#include "api_compare.h"
#include "http.h"
#include "judge.h"
#include "log.h"
#include "prom.h"
#include "report.h"
#include "row.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#define MAX_KEY 200

static int is_json(const char *ct)
{
    size_t n = 16;

    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    return !strncasecmp(ct, "application/json", n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* A copy of s fit for a log line: printable ASCII only, at most len - 1. */
static const char *printable(const char *s, char *buf, size_t len)
{
    size_t i;

    for (i = 0; s[i] && i + 1 < len; i++)
        buf[i] = s[i] > ' ' && s[i] < 127 ? s[i] : '?';
    buf[i] = '\0';
    return buf;
}

/* Count the answer in the scoreboard; log 4xx, 5xx and slow answers. */
static void account(const api_ctx *a, http_req *r, int route, int64_t usec)
{
    char path[160], method[16];
    int slow = usec >= (int64_t)a->cf->slow_request_ms * 1000;

    if (a->slot) {
        board_count_request(a->slot, route, r->status, usec);
        if (slow)
            board_inc(&a->slot->c.slow);
    }
    if (r->status >= 400 || slow)
        log_msg(r->status >= 500 || slow ? LOG_WARN : LOG_INFO, "request %s: %s %s %d%s%s %.1f ms%s", r->id,
                printable(r->method, method, sizeof method), printable(r->path, path, sizeof path), r->status,
                r->code[0] ? " " : "", r->code, (double)usec / 1000, slow ? " (slow)" : "");
}

/* A submit waiting for its commit. It owns the FastCGI request (handed
 * over by the request thread), the request with its body, and the rows,
 * from queue_post until answer() frees them on the committer thread. */
struct pending {
    const api_ctx *a;
    http_req r;
    row *rows;
    size_t n;
    int batch;
    int route;
    int64_t t0;
};

/* The answer to a submit once the committer is done with it. */
static void send_stored(http_req *r, int rc, const int64_t *ids, size_t n, int batch, int replayed,
                        const char *err)
{
    char extra[96];
    size_t i;
    json_object *o, *arr;

    if (rc == -EEXIST) {
        http_send_error(r, 422, "idempotency_key_reused", err, "Idempotency-Key");
        goto out;
    }
    if (rc < 0) {
        log_error("request %s: submit of %zu rows not stored: %s", r->id, n, err);
        http_send_error(r, 503, rc == -ENOSPC ? "disk_full" : rc == -EBUSY ? "database_busy" : "database_unavailable",
                        rc == -ENOSPC ? "the database disk is full; nothing was stored; try again later"
                        : "the database cannot be written just now; nothing was stored; try again",
                        NULL);
        goto out;
    }
    o = json_object_new_object();
    if (batch) {
        arr = json_object_new_array_ext((int)n);
        for (i = 0; i < n; i++)
            json_object_array_add(arr, json_object_new_int64(ids[i]));
        json_object_object_add(o, "ids", arr);
        json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
        json_object_object_add(o, "status", json_object_new_string("queued"));
        extra[0] = '\0';
    } else {
        snprintf(extra, sizeof extra, "/api/eval/%lld", (long long)ids[0]);
        json_object_object_add(o, "id", json_object_new_int64(ids[0]));
        json_object_object_add(o, "status", json_object_new_string("queued"));
        json_object_object_add(o, "href", json_object_new_string(extra));
        snprintf(extra, sizeof extra, "Location: /api/eval/%lld\r\n", (long long)ids[0]);
    }
    if (replayed)
        json_object_object_add(o, "replayed", json_object_new_boolean(1));
    http_send_json(r, 202, o, extra);
out:
    return;
}

/* queue_done_fn: answer, count, close and free, on the committer thread. */
static void answer(void *arg, int rc, const int64_t *ids, int replayed, const char *err)
{
    struct pending *p = arg;
    FCGX_Request *fcgi = p->r.fcgi;
    int fd;

    send_stored(&p->r, rc, ids, p->n, p->batch, replayed, err);
    account(p->a, &p->r, p->route, db_mono_us() - p->t0);
    http_req_clear(&p->r);
    row_free_array(p->rows, p->n);
    fd = http_finish(fcgi);
    if (p->a->conn_done)
        p->a->conn_done(p->a->conn_arg, fd);
    else if (fd >= 0)
        close(fd);
    free(fcgi);
    free(p);
}

/* Validate and hand the rows to the committer. Returns 1 when the request
 * went with them (answer() will finish it), 0 when it was answered here. */
static int submit(const api_ctx *a, http_req *r, int route, int64_t t0)
{
    const char *key = http_param(r, "HTTP_IDEMPOTENCY_KEY");
    char err[256];
    row *rows = NULL;
    row_error e;
    size_t n = 0;
    int rc, batch, posted = 0;
    struct pending *p = NULL;

    if (!is_json(http_param(r, "CONTENT_TYPE"))) {
        http_send_error(r, 415, "unsupported_media_type", "send the rows as JSON with Content-Type: application/json", NULL);
        goto out;
    }
    if (key && (strlen(key) == 0 || strlen(key) > MAX_KEY)) {
        http_send_error(r, 400, "invalid_header", "Idempotency-Key must hold 1 to 200 characters", "Idempotency-Key");
        goto out;
    }
    rc = http_read_body(r, a->cf->max_body);
    if (rc == -ENODATA) {
        http_send_error(r, 411, "length_required", "the request needs a Content-Length", NULL);
        goto out;
    }
    if (rc == -EMSGSIZE) {
        snprintf(err, sizeof err, "the body is larger than the limit of %zu bytes", a->cf->max_body);
        http_send_error(r, 413, "body_too_large", err, NULL);
        goto out;
    }
    if (rc < 0) {
        http_send_error(r, 400, "incomplete_body", "the body ended before its Content-Length", NULL);
        goto out;
    }
    rc = row_parse_body(r->body, r->body_len, a->cf, judge_metric_known, &rows, &n, &batch, &e);
    if (rc == -ENOMEM) {
        http_send_error(r, 503, "out_of_memory", "the server is out of memory; try again", NULL);
        goto out;
    }
    if (rc < 0) {
        http_send_error(r, 400, "invalid_request", e.message, e.field);
        goto out;
    }
    http_req_clear(r);            /* the rows hold copies: free the body on this thread */
    if (!(p = calloc(1, sizeof *p))) {
        http_send_error(r, 503, "out_of_memory", "the server is out of memory; try again", NULL);
        goto out;
    }
    p->a = a;
    p->rows = rows;
    p->n = n;
    p->batch = batch;
    p->route = route;
    p->t0 = t0;
    http_req_move(&p->r, r);
    rc = queue_post(a->q, rows, n, key, answer, p);
    if (rc < 0) {
        http_req_move(r, &p->r);
        http_send_error(r, 503, rc == -ESHUTDOWN ? "shutting_down" : "out_of_memory",
                        rc == -ESHUTDOWN ? "this worker is stopping; nothing was stored; try again"
                        : "the server is out of memory; try again", NULL);
        goto out;
    }
    posted = 1;
    rows = NULL;                  /* p owns them now */
    p = NULL;
out:
    free(p);
    row_free_array(rows, n);
    return posted;
}

static void send_db_error(http_req *r, int rc)
{
    http_send_error(r, 503, "database_unavailable", rc == -EBUSY ? "the database is busy; try again"
                    : "the database cannot be read just now", NULL);
}

static void get_one(const api_ctx *a, db *rd, http_req *r, int64_t id)
{
    json_object *o;
    int rc = report_eval(rd, id, &o);

    (void)a;
    if (rc == -ENOENT)
        http_send_error(r, 404, "not_found", "no evaluation has this id", NULL);
    else if (rc < 0)
        send_db_error(r, rc);
    else
        http_send_json(r, 200, o, NULL);
}

/* A query parameter, "" meaning absent. -1 (after answering 400) if too long. */
static int query_param(http_req *r, const char *name, char *buf, size_t len)
{
    int rc = http_query(r, name, buf, len);

    if (rc < 0) {
        char msg[96];

        snprintf(msg, sizeof msg, "the query parameter %s is too long", name);
        http_send_error(r, 400, "invalid_query", msg, name);
        return -1;
    }
    if (rc == 0)
        buf[0] = '\0';
    return 0;
}

static int parse_int(const char *s, long long lo, long long hi, long long *v)
{
    char *end;

    if (!*s)
        return 0;
    *v = strtoll(s, &end, 10);
    return *end || *v < lo || *v > hi ? -1 : 1;
}

static void list(const api_ctx *a, db *rd, http_req *r)
{
    char status[16], dataset[4096], run[1024], lim[24], before[24], msg[128];
    long long limit = 50, bef = 0;
    json_object *o;
    int rc;

    if (query_param(r, "status", status, sizeof status) < 0 || query_param(r, "dataset", dataset, sizeof dataset) < 0 ||
        query_param(r, "run", run, sizeof run) < 0 || query_param(r, "limit", lim, sizeof lim) < 0 || query_param(r, "before", before, sizeof before) < 0)
        return;
    if (*status && strcmp(status, "queued") && strcmp(status, "running") && strcmp(status, "done") &&
        strcmp(status, "failed")) {
        http_send_error(r, 400, "invalid_query", "status must be queued, running, done or failed", "status");
        return;
    }
    if (parse_int(lim, 1, a->cf->max_list, &limit) < 0) {
        snprintf(msg, sizeof msg, "limit must be a whole number from 1 to %d", a->cf->max_list);
        http_send_error(r, 400, "invalid_query", msg, "limit");
        return;
    }
    if (parse_int(before, 1, INT64_MAX, &bef) < 0) {
        http_send_error(r, 400, "invalid_query", "before must be an evaluation id", "before");
        return;
    }
    rc = report_list(rd, *status ? status : NULL, *dataset ? dataset : NULL, *run ? run : NULL, bef, (int)limit, &o);
    if (rc < 0)
        send_db_error(r, rc);
    else
        http_send_json(r, 200, o, NULL);
}

static void health(const api_ctx *a, db *rd, http_req *r)
{
    json_object *o = json_object_new_object(), *j = json_object_new_object(), *q = NULL;
    char err[BOARD_ERROR_MAX], best_err[BOARD_ERROR_MAX] = "";
    int i, workers = 0, best = -1, st;
    /* Order of preference when workers differ: ready, initializing, failed, uninitialized. */
    static const int rank[] = { 0, 2, 3, 1 };

    for (i = 0; a->b && i < board_nslots(a->b); i++) {
        board_slot *s = board_slot_at(a->b, i);

        if (!board_load(&s->pid))
            continue;
        workers++;
        st = board_get_judge(s, err, sizeof err);
        if (st >= 0 && st <= 3 && (best < 0 || rank[st] > rank[best])) {
            best = st;
            snprintf(best_err, sizeof best_err, "%s", err);
        }
    }
    if (best < 0)
        best = JUDGE_UNINITIALIZED;
    json_object_object_add(o, "status", json_object_new_string("ok"));
    json_object_object_add(j, "backend", json_object_new_string(a->cf->backend));
    json_object_object_add(j, "model", a->cf->model[0] ? json_object_new_string(a->cf->model) : NULL);
    json_object_object_add(j, "state", json_object_new_string(prom_judge_state(best)));
    json_object_object_add(j, "error", best_err[0] ? json_object_new_string(best_err) : NULL);
    json_object_object_add(j, "metrics", judge_metrics_json(a->cf, 0));
    json_object_object_add(j, "default_metrics", judge_metrics_json(a->cf, 1));
    json_object_object_add(o, "judge", j);
    if (report_counts(rd, NULL, &q) < 0) {
        json_object_object_add(o, "status", json_object_new_string("degraded"));
        json_object_object_add(o, "error", json_object_new_string("the database cannot be read"));
    }
    json_object_object_add(o, "queue", q);
    json_object_object_add(o, "workers", json_object_new_int(workers));
    json_object_object_add(o, "max_concurrency", json_object_new_int(a->cf->max_concurrency));
    http_send_json(r, 200, o, NULL);
}

/* POST /api/eval/{id}/retry and DELETE /api/eval/{id}: admin writes, rare,
 * on this thread's connection. */
static void admin_write(db *rd, http_req *r, int64_t id, enum db_stmt which)
{
    sqlite3_stmt *st = db_stmt(rd, which);
    char now[32];
    int s, changed;

    db_iso(db_now_ms(), now, sizeof now);
    if (!st || db_exec(rd, Q_BEGIN) < 0) {
        send_db_error(r, -EIO);
        return;
    }
    sqlite3_bind_int64(st, 1, id);
    if (which == Q_ADMIN_RETRY)
        sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    s = sqlite3_step(st);
    sqlite3_reset(st);
    changed = sqlite3_changes(db_handle(rd));
    if (s == SQLITE_DONE && which == Q_ADMIN_RETRY && changed == 1) {
        /* A requeued row must not show the scores of its previous run. */
        sqlite3_stmt *del = db_stmt(rd, Q_DELETE_SCORES);

        if (!del) {
            s = SQLITE_ERROR;
        } else {
            sqlite3_bind_int64(del, 1, id);
            s = sqlite3_step(del);
            sqlite3_reset(del);
        }
    }
    if (s == SQLITE_DONE && db_exec(rd, Q_COMMIT) < 0)
        s = SQLITE_ERROR;
    if (s != SQLITE_DONE)
        db_exec(rd, Q_ROLLBACK);
    if (s != SQLITE_DONE) {
        send_db_error(r, db_errno(s));
    } else if (changed == 0) {
        json_object *o;

        if (report_eval(rd, id, &o) == -ENOENT) {
            http_send_error(r, 404, "not_found", "no evaluation has this id", NULL);
        } else {
            json_object_put(o);
            http_send_error(r, 409, "conflict", which == Q_ADMIN_RETRY
                            ? "only a done or failed evaluation can be retried"
                            : "a running evaluation cannot be deleted; retry when it has finished", NULL);
        }
    } else if (which == Q_DELETE) {
        http_send_text(r, 204, "application/json", "", 0);
    } else {
        get_one(NULL, rd, r, id);
    }
}

static void metrics(const api_ctx *a, db *rd, http_req *r)
{
    char *text = NULL;
    size_t len = 0;

    if (!a->b || prom_text(a->cf, a->b, rd, &text, &len) < 0)
        http_send_error(r, 503, "out_of_memory", "the metrics cannot be built just now; try again", NULL);
    else
        http_send_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

static void status(const api_ctx *a, http_req *r)
{
    if (!a->b)
        http_send_error(r, 503, "no_pool", "this process runs no pool", NULL);
    else
        http_send_json(r, 200, prom_status(a->cf, a->b), NULL);
}

/* "/api/eval/123" or "/api/eval/123/retry": id and the rest. */
static int64_t eval_id(const char *path, const char **rest)
{
    const char *p = path + strlen("/api/eval/");
    char *end;
    long long v;

    if (*p < '1' || *p > '9')
        return -1;
    v = strtoll(p, &end, 10);
    *rest = end;
    return v > 0 ? v : -1;
}

static int is_get(const char *m) { return !strcmp(m, "GET") || !strcmp(m, "HEAD"); }

/* The route class of a request and the role it needs (AUTH_OPEN for
 * answers that need none, such as a 405). */
static int classify(const http_req *r, int *need)
{
    const char *m = r->method, *rest = "";
    int route = BR_OTHER;

    *need = AUTH_OPEN;
    if (!strcmp(r->path, "/api/eval")) {
        route = !strcmp(m, "POST") ? BR_SUBMIT : BR_LIST;
        *need = !strcmp(m, "POST") ? AUTH_SUBMIT : is_get(m) ? AUTH_READ : AUTH_OPEN;
    } else if (!strncmp(r->path, "/api/eval/", 10) && eval_id(r->path, &rest) > 0 &&
               (!*rest || !strcmp(rest, "/retry"))) {
        route = *rest || !strcmp(m, "DELETE") ? BR_ADMIN : BR_GET;
        *need = (*rest && !strcmp(m, "POST")) || (!*rest && !strcmp(m, "DELETE")) ? AUTH_ADMIN
              : !*rest && is_get(m) ? AUTH_READ : AUTH_OPEN;
    } else if (!strcmp(r->path, "/api/summary") || !strcmp(r->path, "/api/runs") ||
               !strcmp(r->path, "/api/compare")) {
        route = BR_SUMMARY;
        *need = is_get(m) ? AUTH_READ : AUTH_OPEN;
    } else if (!strcmp(r->path, "/api/metrics")) {
        route = BR_METRICS;
        *need = is_get(m) ? AUTH_READ : AUTH_OPEN;
    } else if (!strcmp(r->path, "/api/status")) {
        route = BR_STATUS;
        *need = is_get(m) ? AUTH_READ : AUTH_OPEN;
    } else if (!strcmp(r->path, "/api/health")) {
        route = BR_HEALTH;
    } else if (!strcmp(r->path, "/api/ping")) {
        route = BR_PING;
    }
    if (!strcmp(m, "OPTIONS"))
        *need = AUTH_OPEN;
    return route;
}

/* 0 if the request may go on; otherwise 401 or 403 was sent. */
static int authorize(const api_ctx *a, http_req *r, int need, const char **label)
{
    static const char *const names[] = { "open", "read", "submit", "admin" };
    char msg[320];
    int res, rc = 0;

    *label = "";
    if (need == AUTH_OPEN)
        goto out;
    res = a->auth ? auth_check(a->auth, http_param(r, "HTTP_AUTHORIZATION"), need, label)
        : need == AUTH_ADMIN ? AUTH_DISABLED : AUTH_OK;
    rc = -EACCES;
    switch (res) {
    case AUTH_OK:
        rc = 0;
        break;
    case AUTH_MISSING:
        http_add_header(r, "WWW-Authenticate: Bearer realm=\"ragrade\"");
        snprintf(msg, sizeof msg, "this route needs a bearer token of the %s role or stronger:"
                 " send Authorization: Bearer <token>", names[need]);
        http_send_error(r, 401, "unauthorized", msg, "Authorization");
        break;
    case AUTH_MALFORMED:
        http_add_header(r, "WWW-Authenticate: Bearer realm=\"ragrade\", error=\"invalid_request\"");
        http_send_error(r, 401, "invalid_token", "the Authorization header must read Bearer <token>",
                        "Authorization");
        break;
    case AUTH_UNKNOWN:
        http_add_header(r, "WWW-Authenticate: Bearer realm=\"ragrade\", error=\"invalid_token\"");
        http_send_error(r, 401, "invalid_token", "this bearer token is not valid", "Authorization");
        break;
    case AUTH_FORBIDDEN:
        http_add_header(r, "WWW-Authenticate: Bearer realm=\"ragrade\", error=\"insufficient_scope\"");
        snprintf(msg, sizeof msg, "this token may not do this: it needs the %s role", names[need]);
        http_send_error(r, 403, "forbidden", msg, NULL);
        break;
    default:
        http_send_error(r, 403, "admin_disabled", "admin routes are off until an admin token is configured:"
                        " put sha256:<hex> (from printf %s TOKEN | sha256sum) in auth.admin_tokens or"
                        " in auth.tokens_file as \"admin sha256:<hex>\", then reload", NULL);
        break;
    }
out:
    return rc;
}

/* 1 if origin is one of the space or comma separated origins of list. */
static int origin_listed(const char *list, const char *origin)
{
    size_t n = strlen(origin), k;
    int rc = 0;

    while (*list && !rc) {
        list += strspn(list, " ,\t");
        k = strcspn(list, " ,\t");
        rc = k && k == n && !strncmp(list, origin, n);
        list += k;
    }
    return rc;
}

/* CORS: headers for a listed Origin, nothing for others. 1 if listed. */
static int cors(const api_ctx *a, http_req *r)
{
    const char *origin = http_param(r, "HTTP_ORIGIN");
    char line[320];
    int listed = 0;

    if (!a->cf->cors_origins[0])
        goto out;
    http_add_header(r, "Vary: Origin");
    if (!origin || strlen(origin) > 256 || strpbrk(origin, "\r\n") || !origin_listed(a->cf->cors_origins, origin))
        goto out;
    snprintf(line, sizeof line, "Access-Control-Allow-Origin: %s", origin);
    http_add_header(r, line);
    http_add_header(r, "Access-Control-Expose-Headers: X-Request-Id, Location, Retry-After");
    listed = 1;
out:
    return listed;
}

static void preflight(http_req *r, int listed)
{
    if (listed) {
        http_add_header(r, "Access-Control-Allow-Methods: GET, POST, DELETE");
        http_add_header(r, "Access-Control-Allow-Headers: Authorization, Content-Type, Idempotency-Key");
        http_add_header(r, "Access-Control-Max-Age: 600");
    }
    http_add_header(r, "Allow: GET, HEAD, POST, DELETE, OPTIONS");
    http_send_text(r, 204, "text/plain", "", 0);
}

/* Returns 1 when the request went to the committer (a submit), else 0. */
static int dispatch(const api_ctx *a, db *rd, http_req *r, int route, int64_t t0)
{
    const char *m = r->method, *rest = "";
    int64_t id;
    int deferred = 0;

    if (!strcmp(r->path, "/api/eval")) {
        if (!strcmp(m, "POST"))
            deferred = submit(a, r, route, t0);
        else if (is_get(m))
            list(a, rd, r);
        else
            http_send_error(r, 405, "method_not_allowed", "use POST to submit or GET to list", NULL);
    } else if (!strncmp(r->path, "/api/eval/", 10) && (id = eval_id(r->path, &rest)) > 0 &&
               (!*rest || !strcmp(rest, "/retry"))) {
        if (!*rest && is_get(m))
            get_one(a, rd, r, id);
        else if (!*rest && !strcmp(m, "DELETE"))
            admin_write(rd, r, id, Q_DELETE);
        else if (*rest && !strcmp(m, "POST"))
            admin_write(rd, r, id, Q_ADMIN_RETRY);
        else
            http_send_error(r, 405, "method_not_allowed", *rest ? "use POST to retry" : "use GET or DELETE", NULL);
    } else if (!strcmp(r->path, "/api/summary") || !strcmp(r->path, "/api/health") ||
               !strcmp(r->path, "/api/metrics") || !strcmp(r->path, "/api/status") ||
               !strcmp(r->path, "/api/runs") || !strcmp(r->path, "/api/compare")) {
        if (!is_get(m))
            http_send_error(r, 405, "method_not_allowed", "use GET", NULL);
        else if (!strcmp(r->path, "/api/summary"))
            api_compare_summary(rd, r);
        else if (!strcmp(r->path, "/api/runs"))
            api_compare_runs(rd, r);
        else if (!strcmp(r->path, "/api/compare"))
            api_compare_compare(rd, r);
        else if (!strcmp(r->path, "/api/health"))
            health(a, rd, r);
        else if (!strcmp(r->path, "/api/metrics"))
            metrics(a, rd, r);
        else
            status(a, r);
    } else if (!strcmp(r->path, "/api/ping")) {
        http_send_json(r, 200, json_object_new_string("pong"), NULL);
    } else {
        http_send_error(r, 404, "not_found", "no such API route; see /api/health", NULL);
    }
    return deferred;
}

int api_handle(const api_ctx *a, db *rd, FCGX_Request *fcgi)
{
    http_req r;
    const char *label;
    int64_t t0 = db_mono_us();
    int route, need, listed;

    http_req_init(&r, fcgi);
    listed = cors(a, &r);
    route = classify(&r, &need);
    if (!strcmp(r.method, "OPTIONS")) {
        preflight(&r, listed);
    } else if (authorize(a, &r, need, &label) == 0) {
        if (dispatch(a, rd, &r, route, t0))
            return API_DEFERRED;          /* answer() finishes it */
        if (need == AUTH_ADMIN && r.status < 300)
            log_info("request %s: admin %s %s by token%s%s", r.id, r.method, r.path, *label ? " " : "", label);
    }
    account(a, &r, route, db_mono_us() - t0);
    http_req_clear(&r);
    return r.status;
}
