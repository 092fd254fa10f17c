/* http.c - HTTP over one FastCGI request: parameters, a capped body, and
 * JSON responses. nginx has already parsed HTTP; we trust its framing and
 * distrust everything the client wrote. */
#include "http.h"
#include "utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <time.h>

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void request_id(http_req *r)
{
    static const char hex[] = "0123456789abcdef";
    const char *v = FCGX_GetParam("HTTP_X_REQUEST_ID", r->fcgi->envp);
    unsigned char rnd[16];
    struct timespec ts;
    size_t n, i;

    if (v && (n = strlen(v)) > 0 && n < sizeof r->id &&
        strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n) {
        memcpy(r->id, v, n + 1);
        goto out;
    }
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        clock_gettime(CLOCK_REALTIME, &ts);   /* unique enough for a log line */
        memset(rnd, 0, sizeof rnd);
        memcpy(rnd, &ts, sizeof ts < sizeof rnd ? sizeof ts : sizeof rnd);
    }
    for (i = 0; i < sizeof rnd; i++) {
        r->id[2 * i] = hex[rnd[i] >> 4];
        r->id[2 * i + 1] = hex[rnd[i] & 15];
    }
    r->id[2 * sizeof rnd] = '\0';
out:
    return;
}

void http_req_init(http_req *r, FCGX_Request *fcgi)
{
    const char *uri, *q;
    size_t n;

    memset(r, 0, sizeof *r);
    r->fcgi = fcgi;
    r->method = FCGX_GetParam("REQUEST_METHOD", fcgi->envp);
    if (!r->method)
        r->method = "GET";
    uri = FCGX_GetParam("DOCUMENT_URI", fcgi->envp);   /* normalised by nginx */
    if (!uri && (uri = FCGX_GetParam("REQUEST_URI", fcgi->envp)) == NULL)
        uri = "/";
    n = strcspn(uri, "?");
    if (n >= sizeof r->pathbuf)
        n = sizeof r->pathbuf - 1;
    memcpy(r->pathbuf, uri, n);
    r->pathbuf[n] = '\0';
    r->path = r->pathbuf;
    q = FCGX_GetParam("QUERY_STRING", fcgi->envp);
    r->query = q ? q : "";
    request_id(r);
}

int http_add_header(http_req *r, const char *line)
{
    size_t n = strlen(line);
    int rc = 0;

    if (r->head_len + n + 2 >= sizeof r->head) {
        rc = -ENOSPC;
        goto out;
    }
    memcpy(r->head + r->head_len, line, n);
    memcpy(r->head + r->head_len + n, "\r\n", 3);
    r->head_len += n + 2;
out:
    return rc;
}

#define DRAIN_MAX 65536
int http_finish(FCGX_Request *req)
{
    char scratch[4096];
    size_t drained = 0;
    int got, asked = req->keepConnection, clean, fd = -1;

    while (req->in && !FCGX_HasSeenEOF(req->in) && drained < DRAIN_MAX &&
           (got = FCGX_GetStr(scratch, sizeof scratch, req->in)) > 0)
        drained += (size_t)got;
    clean = req->in && FCGX_HasSeenEOF(req->in) && !FCGX_GetError(req->in);
    req->keepConnection = clean;
    FCGX_Finish_r(req);               /* closes (lingering) unless keepConnection */
    if (req->keepConnection && req->ipcFd >= 0) {
        /* FCGX_Finish_r keeps it only if the output flushed, too */
        if (asked)
            fd = req->ipcFd;
        else
            close(req->ipcFd);
        req->ipcFd = -1;
    }
    return fd;
}

void http_req_move(http_req *dst, http_req *src)
{
    *dst = *src;
    if (src->path == src->pathbuf)
        dst->path = dst->pathbuf;
    src->body = NULL;
}

void http_req_clear(http_req *r)
{
    free(r->body);
    r->body = NULL;
}

const char *http_param(const http_req *r, const char *name)
{
    return FCGX_GetParam(name, r->fcgi->envp);
}

int http_read_body(http_req *r, size_t cap)
{
    const char *cl = http_param(r, "CONTENT_LENGTH");
    char *end;
    unsigned long long len;
    int rc = 0, got;

    if (!cl || !*cl) {
        rc = -ENODATA;
        goto out;
    }
    errno = 0;
    len = strtoull(cl, &end, 10);
    if (errno || *end || end == cl) {
        rc = -ENODATA;
        goto out;
    }
    if (len > cap) {
        rc = -EMSGSIZE;
        goto out;
    }
    if (!(r->body = malloc((size_t)len + 1))) {
        rc = -ENOMEM;
        goto out;
    }
    got = len ? FCGX_GetStr(r->body, (int)len, r->fcgi->in) : 0;
    if (got != (int)len) {
        rc = -EIO;
        goto out;
    }
    r->body[len] = '\0';
    r->body_len = (size_t)len;
out:
    return rc;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int http_query(const http_req *r, const char *name, char *buf, size_t len)
{
    const char *p = r->query;
    size_t nlen = strlen(name), o;
    int rc = 0;

    while (*p) {
        const char *amp = p + strcspn(p, "&");

        if ((size_t)(amp - p) > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
            p += nlen + 1;
            for (o = 0; p < amp; p++) {
                int c = *p;

                if (c == '+')
                    c = ' ';
                else if (c == '%' && amp - p >= 3 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
                    c = hexval(p[1]) * 16 + hexval(p[2]);
                    p += 2;
                }
                if (o + 1 >= len) {
                    rc = -EMSGSIZE;
                    goto out;
                }
                if (c == 0) {         /* %00 would cut the C string short */
                    rc = -EINVAL;
                    goto out;
                }
                buf[o++] = (char)c;
            }
            buf[o] = '\0';
            rc = utf8_valid(buf, o) ? 1 : -EINVAL;
            goto out;
        }
        if ((size_t)(amp - p) == nlen && !strncmp(p, name, nlen)) {   /* "?name" */
            if (len)
                buf[0] = '\0';
            rc = 1;
            goto out;
        }
        p = *amp ? amp + 1 : amp;
    }
out:
    return rc;
}

/* libfcgi's FCGX_FPrintF knows no %zu: headers are formatted here. */
static void put_head(http_req *r, int status, const char *content_type, size_t len, const char *extra)
{
    char head[2560];
    int n;

    r->status = status;
    n = snprintf(head, sizeof head, "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: %s\r\n"
                 "%.*s%s\r\n", status, reason(status), content_type, len, r->id, (int)r->head_len,
                 r->head, extra ? extra : "");
    if (n >= (int)sizeof head)
        n = (int)sizeof head - 1;
    FCGX_PutStr(head, n, r->fcgi->out);
}

void http_send_text(http_req *r, int status, const char *content_type, const char *text, size_t len)
{
    put_head(r, status, content_type, len, NULL);
    FCGX_PutStr(text, (int)len, r->fcgi->out);
}

void http_send_json(http_req *r, int status, json_object *o, const char *extra)
{
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    put_head(r, status, "application/json; charset=utf-8", len + 1, extra);
    FCGX_PutStr(s, (int)len, r->fcgi->out);
    FCGX_PutChar('\n', r->fcgi->out);
    json_object_put(o);
}

void http_send_error(http_req *r, int status, const char *code, const char *message,
                     const char *field)
{
    json_object *o = json_object_new_object(), *e = json_object_new_object();
    char msg[512], fld[160];

    /* Messages and fields may quote the request: never echo a byte that is
     * not UTF-8, nor half a character. */
    utf8_escape(msg, sizeof msg, message);
    utf8_escape(fld, sizeof fld, field ? field : "");
    snprintf(r->code, sizeof r->code, "%s", code);
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(msg));
    json_object_object_add(e, "field", *fld ? json_object_new_string(fld) : NULL);
    json_object_object_add(o, "error", e);
    http_send_json(r, status, o, NULL);   /* a 405 names its Allow header (api.c) */
}
