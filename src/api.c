/* api.c - routes and handlers of /api/. One table (routes[], at the end)
 * names every route: its methods, path pattern, the role it needs, its
 * label in the request counters, and its handler. A submit is validated
 * here, handed to the group commit (queue.c) and answered 202 once
 * committed; reads go to this thread's own SQLite connection. Only this layer picks HTTP
 * statuses and words for the client. Around every handler: CORS for the
 * origins in server.cors_origins, bearer tokens (auth.c), the request
 * counters of the scoreboard, and a log line for each 4xx, 5xx or slow
 * answer (id, method, path, status, duration; never a body or a token). */
#include "api.h"
#include "api_compare.h"
#include "api_crit.h"
#include "api_health.h"
#include "api_labels.h"
#include "api_otlp.h"
#include "auth.h"
#include "clock.h"
#include "http.h"
#include "judge.h"
#include "log.h"
#include "maint.h"
#include "prom.h"
#include "report.h"
#include "row.h"
#include "sha256.h"
#include "utf8.h"

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

    board_count_request(a->slot, route, r->status, usec);
    if (slow)
        board_inc(&a->slot->c.slow);
    if (r->status >= 400 || slow)
        log_msg(r->status >= 500 || slow ? LOG_WARN : LOG_INFO, "request %s: %s %s %d%s%s %.1f ms%s", r->id,
                printable(r->method, method, sizeof method), printable(r->path, path, sizeof path), r->status,
                r->code[0] ? " " : "", r->code, (double)usec / 1000, slow ? " (slow)" : "");
}

/* What a route's handler gets besides the request: what the path pattern
 * captured, and what the answer is counted under. The handler sets
 * deferred when it handed the request to the committer (a submit). */
typedef struct route_call {
    int64_t id;                   /* {id}: an evaluation id; 0 if none */
    const char *name;             /* {name}: a path segment, not terminated; NULL if none */
    size_t name_len;
    int route;                    /* BR_*: the request counters' label */
    int64_t t0;                   /* clock_mono_us() when the request came */
    int deferred;                 /* set by the handler: answer() will finish it */
    critstore *cs;                /* the criteria store on this thread's connection */
} route_call;

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
    char hash[65];                /* the body's SHA-256 in hex, with an Idempotency-Key */
};

/* A replayed batch's status: its rows' common one, or "mixed". */
static const char *batch_status(const queue_status *status, size_t n)
{
    size_t i;

    for (i = 1; i < n; i++)
        if (strcmp(status[i], status[0]))
            return "mixed";
    return status[0];
}

static json_object *statuses(const queue_status *status, size_t n)
{
    json_object *a = json_object_new_array_ext((int)n);
    size_t i;

    for (i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(status[i]));
    return a;
}

/* The answer to a submit once the committer is done with it. A replay
 * reports its rows' statuses as they are now. */
static void send_stored(http_req *r, int rc, const int64_t *ids, size_t n, int batch, int replayed,
                        const queue_status *status, const char *err)
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
        if (rc == -EBUSY)
            http_add_header(r, "Retry-After: 1");
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
        json_object_object_add(o, "status", json_object_new_string(status ? batch_status(status, n) : row_status_names[ROW_QUEUED]));
        if (status)
            json_object_object_add(o, "statuses", statuses(status, n));
        extra[0] = '\0';
    } else {
        snprintf(extra, sizeof extra, "/api/eval/%lld", (long long)ids[0]);
        json_object_object_add(o, "id", json_object_new_int64(ids[0]));
        json_object_object_add(o, "status", json_object_new_string(status ? status[0] : row_status_names[ROW_QUEUED]));
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
static void answer(void *arg, int rc, const int64_t *ids, int replayed, const queue_status *status,
                   const char *err)
{
    struct pending *p = arg;
    FCGX_Request *fcgi = p->r.fcgi;
    int fd;

    board_note_write(p->a->b, rc, clock_wall_ms());   /* for /api/health */
    send_stored(&p->r, rc, ids, p->n, p->batch, replayed, status, err);
    account(p->a, &p->r, p->route, clock_mono_us() - p->t0);
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

/* Characters (not bytes) of valid UTF-8 text, as the README counts the
 * Idempotency-Key's length. */
static size_t chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* POST /api/eval: validate and hand the rows to the committer. Sets
 * c->deferred when the request went with them (answer() will finish it);
 * otherwise it was answered here. */
static void submit(const api_ctx *a, db *rd, http_req *r, route_call *c)
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
    if (key && (!utf8_valid(key, strlen(key)) || chars(key) == 0 || chars(key) > MAX_KEY)) {
        http_send_error(r, 400, "invalid_header", "Idempotency-Key must hold 1 to 200 characters of UTF-8 text",
                        "Idempotency-Key");
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
    if (critstore_refresh(c->cs, a->reg, NULL, err, sizeof err) < 0)   /* see new criteria */
        log_warn("criteria: %s", err);
    rc = row_parse_body_arg(r->body, r->body_len, a->cf, judge_metric_or_criterion, a->reg, &rows,
                            &n, &batch, &e);
    if (rc == -ENOMEM) {
        http_send_error(r, 503, "out_of_memory", "the server is out of memory; try again", NULL);
        goto out;
    }
    if (rc < 0) {
        http_send_error(r, 400, "invalid_request", e.message, e.field);
        goto out;
    }
    if (!(p = calloc(1, sizeof *p))) {
        http_send_error(r, 503, "out_of_memory", "the server is out of memory; try again", NULL);
        goto out;
    }
    if (key)
        sha256_hex(r->body, r->body_len, p->hash);   /* a replay must send the same body */
    http_req_clear(r);            /* the rows hold copies: free the body on this thread */
    p->a = a;
    p->rows = rows;
    p->n = n;
    p->batch = batch;
    p->route = c->route;
    p->t0 = c->t0;
    http_req_move(&p->r, r);
    rc = queue_post(a->q, rows, n, key, key ? p->hash : NULL, answer, p);
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
    c->deferred = posted;
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

        snprintf(msg, sizeof msg, rc == -EINVAL ? "the query parameter %s holds %%00 or is not UTF-8 text"
                 : "the query parameter %s is too long", name);
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

static void list(const api_ctx *a, db *rd, http_req *r, route_call *c)
{
    char status[16], dataset[4096], run[1024], lim[24], before[24], msg[128];
    long long limit = 50, bef = 0;
    json_object *o;
    int rc;

    if (query_param(r, "status", status, sizeof status) < 0 || query_param(r, "dataset", dataset, sizeof dataset) < 0 ||
        query_param(r, "run", run, sizeof run) < 0 || query_param(r, "limit", lim, sizeof lim) < 0 || query_param(r, "before", before, sizeof before) < 0)
        return;
    if (*status && row_status_of(status) < 0) {
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

/* The summary, the runs and the comparison: api_compare.c. */
static void summary(const api_ctx *a, db *rd, http_req *r, route_call *c) { api_compare_summary(rd, r); }
static void runs(const api_ctx *a, db *rd, http_req *r, route_call *c) { api_compare_runs(rd, r); }
static void compare(const api_ctx *a, db *rd, http_req *r, route_call *c) { api_compare_compare(rd, r); }


/* POST /api/eval/{id}/retry (retry = 1) and DELETE /api/eval/{id}: admin
 * writes, rare, on this thread's connection; the same maint_* calls and
 * rules as `ragrade admin requeue ID` and `delete ID`. */
static void admin_write(db *rd, http_req *r, int64_t id, int retry)
{
    char status[16], err[256];
    int rc = retry ? maint_retry(rd, id, status, err, sizeof err)
                   : maint_delete(rd, id, status, err, sizeof err);

    if (rc == -ENOENT)
        http_send_error(r, 404, "not_found", "no evaluation has this id", NULL);
    else if (rc == -EPERM)
        http_send_error(r, 409, "conflict", retry
                        ? "a running evaluation cannot be retried; retry when it has finished"
                        : "a running evaluation cannot be deleted; retry when it has finished", NULL);
    else if (rc < 0)
        send_db_error(r, rc);
    else if (!retry)
        http_send_text(r, 204, "application/json", "", 0);
    else
        get_one(NULL, rd, r, id);
}

static void metrics(const api_ctx *a, db *rd, http_req *r, route_call *c)
{
    char *text = NULL;
    size_t len = 0;

    if (prom_text(a->cf, a->b, rd, &text, &len) < 0)
        http_send_error(r, 503, "out_of_memory", "the metrics cannot be built just now; try again", NULL);
    else
        http_send_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

static void health(const api_ctx *a, db *rd, http_req *r, route_call *c) { api_health(a, rd, c->cs, r); }

static void status(const api_ctx *a, db *rd, http_req *r, route_call *c)
{
    http_send_json(r, 200, prom_status(a->cf, a->b), NULL);
}

static void get_eval(const api_ctx *a, db *rd, http_req *r, route_call *c) { get_one(a, rd, r, c->id); }
static void delete_eval(const api_ctx *a, db *rd, http_req *r, route_call *c) { admin_write(rd, r, c->id, 0); }
static void retry_eval(const api_ctx *a, db *rd, http_req *r, route_call *c) { admin_write(rd, r, c->id, 1); }
/* Human labels: api_labels.c. */
static void post_labels(const api_ctx *a, db *rd, http_req *r, route_call *c) { api_labels_post(a, rd, r, c->id); }
static void get_labels(const api_ctx *a, db *rd, http_req *r, route_call *c) { api_labels_get(rd, r, c->id); }
static void agreement(const api_ctx *a, db *rd, http_req *r, route_call *c) { api_agreement(rd, r); }
static void review(const api_ctx *a, db *rd, http_req *r, route_call *c) { api_review(rd, r); }

static void traces(const api_ctx *a, db *rd, http_req *r, route_call *c) { api_otlp_export(a, rd, r); }

static void crit_list(const api_ctx *a, db *rd, http_req *r, route_call *c)
{
    api_crit_list(a, c->cs, r);
}

static void crit_get(const api_ctx *a, db *rd, http_req *r, route_call *c)
{
    api_crit_get(a, c->cs, r, c->name, c->name_len);
}

static void crit_put(const api_ctx *a, db *rd, http_req *r, route_call *c)
{
    api_crit_put(a, c->cs, r, c->name, c->name_len);
}

static void crit_delete(const api_ctx *a, db *rd, http_req *r, route_call *c)
{
    api_crit_delete(a, c->cs, r, c->name, c->name_len);
}

static void ping(const api_ctx *a, db *rd, http_req *r, route_call *c)
{
    http_send_json(r, 200, json_object_new_string("pong"), NULL);
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

/* ---------------------------------------------------------------- routes */

/* Methods as bits, in the order an Allow header lists them. */
enum {
    M_GET = 1 << 0, M_HEAD = 1 << 1, M_POST = 1 << 2, M_PUT = 1 << 3, M_PATCH = 1 << 4,
    M_DELETE = 1 << 5, M_OTHER = 1 << 6, M_ANY = (1 << 7) - 1
};
static const char *const method_names[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE" };
#define N_METHODS (sizeof method_names / sizeof method_names[0])

typedef void (*route_fn)(const api_ctx *a, db *rd, http_req *r, route_call *c);

/* A route: a request whose method is one of methods and whose path
 * matches path goes to fn once authorize() has let a token of role need
 * (or stronger) through. In path, "{id}" matches an evaluation id (a
 * positive decimal) and "{name}" one path segment. Several lines may share
 * a path, one per method set; a path's first line gives the counters'
 * label to the requests no line takes (405, OPTIONS). */
struct route {
    unsigned methods;
    const char *path;
    int need;                     /* AUTH_* */
    int label;                    /* BR_* */
    route_fn fn;
};

static const struct route routes[] = {
    { M_GET | M_HEAD, "/api/eval",            AUTH_READ,   BR_LIST,    list },
    { M_POST,         "/api/eval",            AUTH_SUBMIT, BR_SUBMIT,  submit },
    { M_GET | M_HEAD, "/api/eval/{id}",       AUTH_READ,   BR_GET,     get_eval },
    { M_DELETE,       "/api/eval/{id}",       AUTH_ADMIN,  BR_ADMIN,   delete_eval },
    { M_POST,         "/api/eval/{id}/retry", AUTH_ADMIN,  BR_ADMIN,   retry_eval },
    { M_GET | M_HEAD, "/api/eval/{id}/labels", AUTH_READ,  BR_GET,     get_labels },
    { M_POST,         "/api/eval/{id}/labels", AUTH_SUBMIT, BR_OTHER,  post_labels },
    { M_GET | M_HEAD, "/api/agreement",       AUTH_READ,   BR_SUMMARY, agreement },
    { M_GET | M_HEAD, "/api/review",          AUTH_READ,   BR_LIST,    review },
    { M_GET | M_HEAD, "/api/summary",         AUTH_READ,   BR_SUMMARY, summary },
    { M_GET | M_HEAD, "/api/runs",            AUTH_READ,   BR_SUMMARY, runs },
    { M_GET | M_HEAD, "/api/compare",         AUTH_READ,   BR_SUMMARY, compare },
    { M_GET | M_HEAD, "/api/health",          AUTH_OPEN,   BR_HEALTH,  health },
    { M_GET | M_HEAD, "/api/metrics",         AUTH_READ,   BR_METRICS, metrics },
    { M_GET | M_HEAD, "/api/status",          AUTH_READ,   BR_STATUS,  status },
    { M_GET | M_HEAD, "/api/criteria",        AUTH_READ,   BR_OTHER,   crit_list },
    { M_GET | M_HEAD, "/api/criteria/{name}", AUTH_READ,   BR_OTHER,   crit_get },
    { M_PUT,          "/api/criteria/{name}", AUTH_ADMIN,  BR_ADMIN,   crit_put },
    { M_DELETE,       "/api/criteria/{name}", AUTH_ADMIN,  BR_ADMIN,   crit_delete },
    { M_ANY,          "/api/ping",            AUTH_OPEN,   BR_PING,    ping },
    { M_POST,         "/v1/traces",           AUTH_SUBMIT, BR_OTHER,   traces },
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static unsigned method_bit(const char *m)
{
    size_t i;

    for (i = 0; i < N_METHODS; i++)
        if (!strcmp(m, method_names[i]))
            return 1u << i;
    return M_OTHER;
}

/* 1 if path matches pattern; fills what its {id} and {name} capture. */
static int path_match(const char *pattern, const char *path, route_call *c)
{
    char *end;
    size_t n;

    while (*pattern) {
        if (!strncmp(pattern, "{id}", 4)) {
            if (*path < '1' || *path > '9')
                return 0;
            c->id = strtoll(path, &end, 10);
            path = end;
            pattern += 4;
        } else if (!strncmp(pattern, "{name}", 6)) {
            if (!(n = strcspn(path, "/")))
                return 0;
            c->name = path;
            c->name_len = n;
            path += n;
            pattern += 6;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*path;
}

/* The route that takes this request, or NULL. *allow gets the methods the
 * path takes (0: no route has this path), c->route the counters' label. */
static const struct route *find_route(const http_req *r, route_call *c, unsigned *allow)
{
    const struct route *found = NULL;
    unsigned m = method_bit(r->method);
    size_t i;

    *allow = 0;
    c->route = BR_OTHER;
    for (i = 0; i < N_ROUTES; i++) {
        route_call at = *c;

        if (!path_match(routes[i].path, r->path, &at))
            continue;
        if (!*allow)
            c->route = routes[i].label;
        *allow |= routes[i].methods;
        if (!found && (routes[i].methods & m)) {
            found = &routes[i];
            *c = at;
            c->route = routes[i].label;
        }
    }
    return found;
}

/* "GET, HEAD, POST" for the methods in m, then ", OPTIONS" if options. */
static void method_list(unsigned m, int options, char *buf, size_t len)
{
    size_t i, off = 0;

    buf[0] = '\0';
    for (i = 0; i < N_METHODS; i++)
        if (m & (1u << i))
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", method_names[i]);
    if (options)
        snprintf(buf + off, len - off, "%sOPTIONS", off ? ", " : "");
}

/* OPTIONS on any path: what it takes (every method of the API for a path
 * no route has), and the CORS preflight's answer for a listed origin. */
static void preflight(http_req *r, int listed, unsigned allow)
{
    char line[160], list[96];

    if (!allow)
        allow = M_GET | M_HEAD | M_POST | M_DELETE;
    if (listed) {
        method_list(allow & ~M_HEAD, 0, list, sizeof list);   /* HEAD needs no preflight */
        snprintf(line, sizeof line, "Access-Control-Allow-Methods: %s", list);
        http_add_header(r, line);
        http_add_header(r, "Access-Control-Allow-Headers: Authorization, Content-Type, Idempotency-Key");
        http_add_header(r, "Access-Control-Max-Age: 600");
    }
    method_list(allow, 1, list, sizeof list);
    snprintf(line, sizeof line, "Allow: %s", list);
    http_add_header(r, line);
    http_send_text(r, 204, "text/plain", "", 0);
}

static void not_allowed(http_req *r, unsigned allow)
{
    char line[160], list[96], msg[128];

    method_list(allow, 1, list, sizeof list);
    snprintf(line, sizeof line, "Allow: %s", list);
    http_add_header(r, line);
    snprintf(msg, sizeof msg, "this route takes %s", list);
    http_send_error(r, 405, "method_not_allowed", msg, NULL);
}

int api_handle(const api_ctx *a, db *rd, critstore *cs, FCGX_Request *fcgi)
{
    const struct route *rt;
    route_call c = { 0 };
    http_req r;
    const char *label;
    unsigned allow;
    int listed;

    c.t0 = clock_mono_us();
    c.cs = cs;
    http_req_init(&r, fcgi);
    listed = cors(a, &r);
    rt = find_route(&r, &c, &allow);
    if (!strcmp(r.method, "OPTIONS")) {
        preflight(&r, listed, allow);
    } else if (!allow) {
        http_send_error(&r, 404, "not_found", "no such API route; see /api/health", NULL);
    } else if (!rt) {
        not_allowed(&r, allow);           /* needs no token */
    } else if (authorize(a, &r, rt->need, &label) == 0) {
        rt->fn(a, rd, &r, &c);
        if (c.deferred)
            return API_DEFERRED;          /* answer() finishes it */
        if (rt->need == AUTH_ADMIN && r.status < 300)
            log_info("request %s: admin %s %s by token%s%s", r.id, r.method, r.path, *label ? " " : "", label);
    }
    account(a, &r, c.route, clock_mono_us() - c.t0);
    http_req_clear(&r);
    return r.status;
}
