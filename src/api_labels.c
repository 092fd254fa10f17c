/* api_labels.c - the HTTP side of human labels: a label's write and a
 * row's labels, the agreement between judge and people, and the review
 * queue. Validation words and HTTP statuses are picked here; labels.c
 * stores and reads. */
#include "api_labels.h"
#include "labels.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LABEL_BODY_MAX 16384

static void send_db_error(http_req *r, int rc)
{
    http_send_error(r, 503, "database_unavailable", rc == -EBUSY ? "the database is busy; try again"
                    : "the database cannot be used just now", NULL);
}

static int is_json(const char *ct)
{
    size_t n = 16;

    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    return !strncasecmp(ct, "application/json", n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* A query parameter, "" meaning absent. -1 (after answering 400) if too long. */
static int query_param(http_req *r, const char *name, char *buf, size_t len)
{
    int rc = http_query(r, name, buf, len);
    char msg[96];

    if (rc < 0) {
        snprintf(msg, sizeof msg, "the query parameter %s is too long", name);
        http_send_error(r, 400, "invalid_query", msg, name);
        return -1;
    }
    if (rc == 0)
        buf[0] = '\0';
    return 0;
}

/* Read and parse the body as a JSON object; answers and returns NULL on
 * failure. */
static json_object *read_object(http_req *r)
{
    json_tokener *tok = NULL;
    json_object *o = NULL;
    int rc;

    if (!is_json(http_param(r, "CONTENT_TYPE"))) {
        http_send_error(r, 415, "unsupported_media_type", "send the label as JSON with Content-Type: application/json", NULL);
        goto out;
    }
    rc = http_read_body(r, LABEL_BODY_MAX);
    if (rc == -ENODATA) {
        http_send_error(r, 411, "length_required", "the request needs a Content-Length", NULL);
        goto out;
    }
    if (rc == -EMSGSIZE) {
        http_send_error(r, 413, "body_too_large", "a label's body is at most 16384 bytes", NULL);
        goto out;
    }
    if (rc < 0) {
        http_send_error(r, 400, "incomplete_body", "the body ended before its Content-Length", NULL);
        goto out;
    }
    if (!(tok = json_tokener_new())) {
        http_send_error(r, 503, "out_of_memory", "the server is out of memory; try again", NULL);
        goto out;
    }
    o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        tok->char_offset != (int)r->body_len || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
        http_send_error(r, 400, "invalid_request", "the body must be one JSON object", NULL);
    }
out:
    json_tokener_free(tok);
    return o;
}

/* The label of a request body; strings point into o. -1 after a 400. */
static int body_label(http_req *r, json_object *o, int64_t id, label *l)
{
    json_object *v;
    const char *bad = NULL, *msg = NULL;

    memset(l, 0, sizeof *l);
    l->evaluation_id = id;
    if (!json_object_object_get_ex(o, "metric", &v) || !json_object_is_type(v, json_type_string))
        bad = "metric", msg = "metric must be a string naming the metric labelled";
    else
        l->metric = json_object_get_string(v);
    if (!bad && (!json_object_object_get_ex(o, "value", &v) ||
                 !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))))
        bad = "value", msg = "value must be a number on the metric's scale";
    else if (!bad)
        l->value = json_object_get_double(v);
    if (!bad && (!json_object_object_get_ex(o, "labeler", &v) || !json_object_is_type(v, json_type_string)))
        bad = "labeler", msg = "labeler must be a string naming who labels";
    else if (!bad)
        l->labeler = json_object_get_string(v);
    if (!bad && json_object_object_get_ex(o, "note", &v) && v) {
        if (!json_object_is_type(v, json_type_string))
            bad = "note", msg = "note must be a string";
        else
            l->note = json_object_get_string(v);
    }
    if (!bad && json_object_object_get_ex(o, "sampled", &v) && v) {
        if (!json_object_is_type(v, json_type_boolean) &&
            !(json_object_is_type(v, json_type_int) && (json_object_get_int64(v) & ~1LL) == 0))
            bad = "sampled", msg = "sampled must be true or false (or 1 or 0)";
        else
            l->sampled = json_object_get_int(v) != 0;
    }
    if (bad)
        http_send_error(r, 400, "invalid_request", msg, bad);
    return bad ? -1 : 0;
}

void api_labels_post(const api_ctx *a, db *rd, http_req *r, int64_t id)
{
    json_object *o = read_object(r), *out = NULL, *list = NULL;
    const char *field;
    char err[320];
    label l;
    int rc, replaced;

    (void)a;
    if (!o || body_label(r, o, id, &l) < 0)
        goto out;
    rc = labels_put(rd, &l, &replaced, &field, err, sizeof err);
    if (rc == -EINVAL) {
        http_send_error(r, 400, "invalid_request", err, field);
    } else if (rc == -ENOENT) {
        http_send_error(r, 404, "not_found", "no evaluation has this id", NULL);
    } else if (rc < 0) {
        log_error("request %s: label of evaluation %lld not stored: %s", r->id, (long long)id, err);
        send_db_error(r, rc);
    } else if ((rc = labels_list_json(rd, id, 0, &list)) < 0) {
        send_db_error(r, rc);
    } else {
        out = json_object_new_object();
        json_object_object_add(out, "evaluation_id", json_object_new_int64(id));
        json_object_object_add(out, "replaced", json_object_new_boolean(replaced));
        json_object_object_add(out, "labels", list);
        http_send_json(r, replaced ? 200 : 201, out, NULL);
    }
out:
    json_object_put(o);
}

void api_labels_get(db *rd, http_req *r, int64_t id)
{
    json_object *list, *o;
    char hist[8];
    int rc;

    if (query_param(r, "history", hist, sizeof hist) < 0)
        return;
    rc = labels_list_json(rd, id, hist[0] == '1' || !strcmp(hist, "true"), &list);
    if (rc == -ENOENT) {
        http_send_error(r, 404, "not_found", "no evaluation has this id", NULL);
    } else if (rc < 0) {
        send_db_error(r, rc);
    } else {
        o = json_object_new_object();
        json_object_object_add(o, "evaluation_id", json_object_new_int64(id));
        json_object_object_add(o, "labels", list);
        http_send_json(r, 200, o, NULL);
    }
}

/* dataset, run and metric of the query; -1 after a 400. */
static int filter_of(http_req *r, labels_filter *f, char *dataset, size_t dlen, char *run,
                     size_t rlen, char *metric, size_t mlen)
{
    labels_scale sc;

    if (query_param(r, "dataset", dataset, dlen) < 0 || query_param(r, "run", run, rlen) < 0 ||
        query_param(r, "metric", metric, mlen) < 0)
        return -1;
    if (!*metric) {
        http_send_error(r, 400, "invalid_query", "metric= names the metric", "metric");
        return -1;
    }
    if (labels_scale_of(metric, &sc) < 0) {
        http_send_error(r, 400, "invalid_query", "this metric has no known scale to label on", "metric");
        return -1;
    }
    f->dataset = *dataset ? dataset : NULL;
    f->run = *run ? run : NULL;
    f->metric = metric;
    return 0;
}

static void send_filter_error(http_req *r, int rc)
{
    if (rc == -ENOTSUP)
        http_send_error(r, 400, "invalid_query", "this database has no runs: run= needs the runs"
                        " column (issue 16's migration)", "run");
    else if (rc == -ENOMEM)
        http_send_error(r, 503, "out_of_memory", "the server is out of memory; try again", NULL);
    else
        send_db_error(r, rc);
}

void api_agreement(db *rd, http_req *r)
{
    char dataset[4096], run[256], metric[256];
    labels_filter f;
    json_object *o;
    int rc;

    if (filter_of(r, &f, dataset, sizeof dataset, run, sizeof run, metric, sizeof metric) < 0)
        return;
    if ((rc = labels_agreement_json(rd, &f, &o)) < 0)
        send_filter_error(r, rc);
    else
        http_send_json(r, 200, o, NULL);
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *v)
{
    char *end;

    if (!*s)
        return 0;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno || *end || *v > max ? -1 : 1;
}

void api_review(db *rd, http_req *r)
{
    char dataset[4096], run[256], metric[256], mode[24], num[24], seedtxt[24], labeler[256];
    unsigned long long n = 20, seed = 1;
    labels_filter f;
    json_object *o;
    int rc;

    if (filter_of(r, &f, dataset, sizeof dataset, run, sizeof run, metric, sizeof metric) < 0 ||
        query_param(r, "mode", mode, sizeof mode) < 0 || query_param(r, "n", num, sizeof num) < 0 ||
        query_param(r, "seed", seedtxt, sizeof seedtxt) < 0 ||
        query_param(r, "labeler", labeler, sizeof labeler) < 0)
        return;
    if (!*mode)
        snprintf(mode, sizeof mode, "random");
    if (strcmp(mode, "random") && strcmp(mode, "disagreements")) {
        http_send_error(r, 400, "invalid_query", "mode must be random or disagreements", "mode");
        return;
    }
    if (parse_u64(num, LABELS_QUEUE_MAX, &n) < 0 || n == 0) {
        http_send_error(r, 400, "invalid_query", "n must be a whole number from 1 to 1000", "n");
        return;
    }
    if (parse_u64(seedtxt, UINT64_MAX, &seed) < 0) {
        http_send_error(r, 400, "invalid_query", "seed must be a whole number", "seed");
        return;
    }
    rc = labels_queue_json(rd, &f, mode, (size_t)n, (uint64_t)seed, *labeler ? labeler : NULL, &o);
    if (rc < 0) {
        send_filter_error(r, rc);
        return;
    }
    json_object_object_add(o, "seed", json_object_new_uint64(seed));
    http_send_json(r, 200, o, NULL);
}
