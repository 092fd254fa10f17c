/* http.h - one FastCGI request seen as HTTP: its method, path, query and
 * headers, a body read under a cap, and JSON responses and errors. */
#ifndef RAGRADE_HTTP_H
#define RAGRADE_HTTP_H

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stddef.h>

typedef struct http_req {
    FCGX_Request *fcgi;           /* borrowed */
    const char *method;
    const char *path;             /* without the query string */
    const char *query;            /* "" if none */
    char pathbuf[512];
    char *body;                   /* malloc'd by http_read_body, NUL-terminated */
    size_t body_len;
    int status;                   /* status sent, for the log and metrics */
} http_req;

/* Fill method, path and query from the FastCGI parameters. */
void http_req_init(http_req *r, FCGX_Request *fcgi);
void http_req_clear(http_req *r);
/* A CGI parameter such as "CONTENT_TYPE" or "HTTP_IDEMPOTENCY_KEY"; NULL if absent. */
const char *http_param(const http_req *r, const char *name);

/* Read the body, at most cap bytes. 0; -ENODATA when there is no
 * Content-Length (411); -EMSGSIZE when it is over cap (413); -EIO when the
 * connection ends early. */
int http_read_body(http_req *r, size_t cap);

/* Copy the value of query parameter name, URL-decoded, into buf. 1 if
 * present, 0 if not, -EMSGSIZE if longer than len - 1. */
int http_query(const http_req *r, const char *name, char *buf, size_t len);

/* Send a JSON response and consume o. extra: more header lines, each ending
 * in "\r\n", or NULL. */
void http_send_json(http_req *r, int status, json_object *o, const char *extra);
/* {"error": {"code", "message", "field"}}; field may be NULL. */
void http_send_error(http_req *r, int status, const char *code, const char *message,
                     const char *field);
/* A non-JSON body (for example Prometheus text). */
void http_send_text(http_req *r, int status, const char *content_type, const char *text,
                    size_t len);

#endif
