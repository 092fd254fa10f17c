/* http.h - one FastCGI request seen as HTTP: its method, path, query and
 * headers, a body read under a cap, and JSON responses and errors. Every
 * response carries the request's id (X-Request-Id) and the header lines
 * added with http_add_header. */
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
    char code[40];                /* the error code sent, "" if none */
    char id[65];                  /* nginx's $request_id, or one of ours */
    char head[1024];              /* header lines for the response, each ending in "\r\n" */
    size_t head_len;
} http_req;

/* Fill method, path, query and the request id from the FastCGI parameters:
 * HTTP_X_REQUEST_ID when nginx passes one of 1 to 64 characters
 * [A-Za-z0-9._-], or else 32 random hex digits. */
void http_req_init(http_req *r, FCGX_Request *fcgi);
void http_req_clear(http_req *r);
/* Move a request to other storage (say, from a stack to the heap): dst
 * takes the body; src keeps nothing to free. */
void http_req_move(http_req *dst, http_req *src);
/* End a FastCGI request. When nginx asked to keep the connection
 * (FCGI_KEEP_CONN, fastcgi_keep_conn on) and the request's input was read
 * to its end without error, the connection stays open for nginx's next
 * request: its fd is returned and belongs to the caller. Otherwise the
 * connection is closed and -1 returned. libfcgi's own close shuts the
 * connection down and then waits for nginx to close first, so that input
 * left unread never resets the connection under the response; once the
 * input has been read to its end there is none, and a plain close answers
 * as surely without that wait. Unread input is drained up to 64 KiB; past
 * that, libfcgi closes its own way. req stays the caller's to free. */
int http_finish(FCGX_Request *req);
/* A CGI parameter such as "CONTENT_TYPE" or "HTTP_IDEMPOTENCY_KEY"; NULL if absent. */
const char *http_param(const http_req *r, const char *name);

/* Read the body, at most cap bytes. 0; -ENODATA when there is no
 * Content-Length (411); -EMSGSIZE when it is over cap (413); -EIO when the
 * connection ends early. */
int http_read_body(http_req *r, size_t cap);

/* Copy the value of query parameter name, URL-decoded, into buf. 1 if
 * present, 0 if not, -EMSGSIZE if longer than len - 1, -EINVAL if it
 * holds %00 or is not UTF-8 once decoded. */
int http_query(const http_req *r, const char *name, char *buf, size_t len);

/* Add one header line (without "\r\n") to the response. 0, or -ENOSPC when
 * it does not fit (the line is dropped). */
int http_add_header(http_req *r, const char *line);

/* Send a JSON response and consume o. extra: more header lines, each ending
 * in "\r\n", or NULL. */
void http_send_json(http_req *r, int status, json_object *o, const char *extra);
/* {"error": {"code", "message", "field"}}; field may be NULL. message and
 * field are sent as valid UTF-8: bytes that are not are written \xNN, and
 * they are cut (at 511 and 159 bytes) between characters. */
void http_send_error(http_req *r, int status, const char *code, const char *message,
                     const char *field);
/* A non-JSON body (for example Prometheus text). */
void http_send_text(http_req *r, int status, const char *content_type, const char *text,
                    size_t len);

#endif
