/* api_crit.c - the handlers of /api/criteria (issue 15): list, get, put and
 * delete a criterion. api.c's route table names them; the definition's
 * rules are criteria.c's and the SQL critstore.c's. Every handler first
 * brings the worker's registry up to date (critstore_refresh), so a change
 * made through any worker is seen at once. */
#include "api_crit.h"
#include "http.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The path's {name} as a string; 0, or -ENAMETOOLONG. */
static int name_of(const char *s, size_t len, char *name)
{
    if (len >= CRIT_NAME_MAX)
        return -ENAMETOOLONG;
    memcpy(name, s, len);
    name[len] = '\0';
    return 0;
}

static void refresh(const api_ctx *a, critstore *cs)
{
    char err[256];

    if (critstore_refresh(cs, a->reg, NULL, err, sizeof err) < 0)
        log_warn("criteria: %s", err);
}

static void store_error(http_req *r, int rc, const char *err)
{
    if (rc == -EBUSY)
        http_send_error(r, 503, "busy", "the database is busy; try again", NULL);
    else if (rc == -ENOSPC)
        http_send_error(r, 507, "no_space", "the disk is full", NULL);
    else
        http_send_error(r, 500, "database_error", err, NULL);
}

void api_crit_list(const api_ctx *a, critstore *cs, http_req *r)
{
    const crit_snapshot *s;

    refresh(a, cs);
    s = crit_registry_acquire(a->reg);
    http_send_json(r, 200, crit_list_json(s), NULL);
    crit_registry_release(a->reg, s);
}

void api_crit_get(const api_ctx *a, critstore *cs, http_req *r, const char *p, size_t len)
{
    const crit_snapshot *s;
    const criterion *c;
    char name[CRIT_NAME_MAX];

    if (name_of(p, len, name) < 0) {
        http_send_error(r, 404, "not_found", "no criterion has this name", NULL);
        return;
    }
    refresh(a, cs);
    s = crit_registry_acquire(a->reg);
    if ((c = crit_find(s, name)) != NULL)
        http_send_json(r, 200, crit_to_json(c), NULL);
    else
        http_send_error(r, 404, "not_found", "no criterion has this name", NULL);
    crit_registry_release(a->reg, s);
}

/* 0 if name may be written through the API; otherwise 400 or 409 was sent. */
static int writable(const api_ctx *a, http_req *r, const char *name)
{
    crit_error e;

    if (crit_check_name(name, &e) < 0) {
        http_send_error(r, 400, "invalid_criterion", e.message, e.field);
        return -EINVAL;
    }
    if (crit_registry_is_config(a->reg, name)) {
        http_send_error(r, 409, "conflict", "this criterion is defined in the configuration file;"
                        " edit it there", "name");
        return -EPERM;
    }
    return 0;
}

void api_crit_put(const api_ctx *a, critstore *cs, http_req *r, const char *p, size_t len)
{
    char name[CRIT_NAME_MAX], err[300];
    criterion c;
    crit_error e;
    int rc, what;

    memset(&c, 0, sizeof c);
    if (name_of(p, len, name) < 0) {
        http_send_error(r, 400, "invalid_criterion", "the name is too long", "name");
        return;
    }
    if (writable(a, r, name) < 0)
        return;
    if ((rc = http_read_body(r, CRIT_BODY_MAX)) == -EMSGSIZE) {
        snprintf(err, sizeof err, "the body is larger than the limit of %d bytes", CRIT_BODY_MAX);
        http_send_error(r, 413, "body_too_large", err, NULL);
        goto out;
    } else if (rc < 0) {
        http_send_error(r, rc == -ENODATA ? 411 : 400, "incomplete_body",
                        "the request needs a complete body with a Content-Length", NULL);
        goto out;
    }
    if ((rc = crit_parse_body(&c, name, r->body, r->body_len, &e)) == -ENOMEM) {
        http_send_error(r, 503, "out_of_memory", "the server is out of memory; try again", NULL);
        goto out;
    } else if (rc < 0) {
        http_send_error(r, 400, "invalid_criterion", e.message, e.field);
        goto out;
    }
    if ((rc = critstore_put(cs, &c, &what, err, sizeof err)) < 0) {
        store_error(r, rc, err);
        goto out;
    }
    refresh(a, cs);
    http_send_json(r, what == CRITSTORE_CREATED ? 201 : 200, crit_to_json(&c), NULL);
out:
    crit_clear(&c);
}

void api_crit_delete(const api_ctx *a, critstore *cs, http_req *r, const char *p, size_t len)
{
    char name[CRIT_NAME_MAX], err[300];
    int rc;

    if (name_of(p, len, name) < 0) {
        http_send_error(r, 404, "not_found", "no criterion has this name", NULL);
        return;
    }
    if (writable(a, r, name) < 0)
        return;
    if ((rc = critstore_delete(cs, name, err, sizeof err)) == -ENOENT) {
        http_send_error(r, 404, "not_found", "no criterion has this name", NULL);
        return;
    } else if (rc < 0) {
        store_error(r, rc, err);
        return;
    }
    refresh(a, cs);
    http_send_text(r, 204, "application/json", "", 0);
}
