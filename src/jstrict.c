/* jstrict.c - what RFC 8259 asks of JSON text and json-c lets pass: a
 * name twice in one object, raw control characters in strings, unpaired
 * surrogate escapes, and "\u0000" in a name. One bounded pass over the
 * text before json-c parses it; syntax errors are left to json-c. */
#include "jstrict.h"
#include "utf8.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64              /* json_tokener_new_ex(64) in row.c */
#define KEYS 32                   /* names remembered per object */
#define KEY_MAX 32                /* longer names are no field of a row: not compared */
#define DUP_DEPTH 2               /* a row object, or one in a batch */

enum { OK = 0, STRICT = 1, SYNTAX = 2 };

struct js {
    const unsigned char *p, *end;
    char path[JSTRICT_FIELD];     /* "[2].contexts[1]" */
    size_t plen;
    char keys[DUP_DEPTH][KEYS][KEY_MAX + 1];
    const char *why;              /* a string's violation, for the caller to report */
    unsigned why_arg;
    char *field, *msg;
    size_t fieldlen, msglen;
};

static void ws(struct js *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* Report the violation at the current path: fmt takes one unsigned. */
static int violation(struct js *j, const char *fmt, unsigned arg)
{
    char what[160];

    utf8_copy(j->field, j->fieldlen, j->path, j->plen);
    snprintf(what, sizeof what, fmt, arg);
    snprintf(j->msg, j->msglen, "%s %s", j->plen ? j->field : "the body", what);
    utf8_trim(j->msg);
    return STRICT;
}

/* Append to the path, cut at a character boundary when it is full. */
static void path_add(struct js *j, const char *s, size_t n)
{
    size_t room = sizeof j->path - 1 - j->plen;

    if (n > room)
        n = room;
    memcpy(j->path + j->plen, s, n);
    j->plen += n;
    j->path[j->plen] = '\0';
    j->plen = utf8_trim(j->path);
}

static int bad(struct js *j, const char *why, unsigned arg)
{
    j->why = why;
    j->why_arg = arg;
    return STRICT;
}

static int hex4(const unsigned char *p, unsigned *v)
{
    int i;

    *v = 0;
    for (i = 0; i < 4; i++) {
        unsigned c = p[i];

        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= c - '0';
        else if ((c | 32) >= 'a' && (c | 32) <= 'f')
            *v |= (c | 32) - 'a' + 10;
        else
            return -1;
    }
    return 0;
}

/* A string at j->p (the opening quote). When key is not NULL, its decoded
 * bytes go there (*klen, or KEY_MAX + 1 if longer), and "\u0000" is a
 * violation. */
static int string(struct js *j, char *key, size_t *klen)
{
    unsigned cp, lo;

    j->p++;
    if (klen)
        *klen = 0;
    while (j->p < j->end && *j->p != '"') {
        unsigned c = *j->p;

        if (c < 0x20)
            return bad(j, "holds a raw control character (U+%04X); escape it", c);
        if (c != '\\') {
            if (key && *klen < KEY_MAX)
                key[*klen] = (char)c;
            if (key && *klen <= KEY_MAX)
                (*klen)++;
            j->p++;
            continue;
        }
        if (j->end - j->p < 2)
            return SYNTAX;
        if (j->p[1] != 'u') {
            c = j->p[1] == 'n' ? '\n' : j->p[1] == 't' ? '\t' : j->p[1] == 'r' ? '\r'
              : j->p[1] == 'b' ? '\b' : j->p[1] == 'f' ? '\f' : j->p[1];
            cp = c;
            j->p += 2;
        } else {
            if (j->end - j->p < 6 || hex4(j->p + 2, &cp) < 0)
                return SYNTAX;
            j->p += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return bad(j, "holds an unpaired low surrogate (\\u%04X)", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return bad(j, "holds an unpaired high surrogate (\\u%04X)", cp);
                j->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (key && cp == 0)
                return bad(j, "is a field name holding \\u%04X (NUL)", cp);
        }
        if (key) {
            char u[4];
            size_t n = utf8_put(cp, u), i;

            for (i = 0; i < n; i++) {
                if (*klen < KEY_MAX)
                    key[*klen] = u[i];
                if (*klen <= KEY_MAX)
                    (*klen)++;
            }
        }
    }
    if (j->p >= j->end)
        return SYNTAX;
    j->p++;
    return OK;
}

static int value(struct js *j, int depth);

static int object(struct js *j, int depth)
{
    char key[KEY_MAX + 1];
    const unsigned char *k0, *k1;
    size_t klen, plen = j->plen, nkeys = 0, i;
    int rc;

    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return OK;
    }
    for (;;) {
        ws(j);
        if (j->p >= j->end || *j->p != '"')
            return SYNTAX;
        k0 = j->p + 1;
        j->plen = plen;
        j->path[plen] = '\0';
        if (plen)
            path_add(j, ".", 1);
        rc = string(j, key, &klen);
        /* The name as written (escapes kept): what the client can find. */
        if (rc == SYNTAX)
            return rc;
        k1 = j->p - 1;            /* the closing quote */
        if (rc == STRICT)         /* the whole name, up to its closing quote */
            for (k1 = j->p; k1 < j->end && *k1 != '"'; k1 += *k1 == '\\' ? 2 : 1)
                ;
        if (k1 > j->end)
            k1 = j->end;
        path_add(j, (const char *)k0, (size_t)(k1 - k0));
        if (rc == STRICT)
            return violation(j, j->why, j->why_arg);
        if (depth < DUP_DEPTH && klen <= KEY_MAX) {
            key[klen] = '\0';
            for (i = 0; i < nkeys && i < KEYS; i++)
                if (!strcmp(j->keys[depth][i], key))
                    return violation(j, "appears twice in one object%.0u", 0);
            if (nkeys < KEYS)
                memcpy(j->keys[depth][nkeys], key, klen + 1);
            nkeys++;
        }
        ws(j);
        if (j->p >= j->end || *j->p != ':')
            return SYNTAX;
        j->p++;
        if ((rc = value(j, depth + 1)))
            return rc;
        ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            j->plen = plen;
            j->path[plen] = '\0';
            return OK;
        }
        return SYNTAX;
    }
}

static int array(struct js *j, int depth)
{
    char idx[24];
    size_t plen = j->plen, i;
    int rc;

    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return OK;
    }
    for (i = 0;; i++) {
        j->plen = plen;
        j->path[plen] = '\0';
        path_add(j, idx, (size_t)snprintf(idx, sizeof idx, "[%zu]", i));
        if ((rc = value(j, depth + 1)))
            return rc;
        ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            j->plen = plen;
            j->path[plen] = '\0';
            return OK;
        }
        return SYNTAX;
    }
}

static int value(struct js *j, int depth)
{
    int rc;

    ws(j);
    if (j->p >= j->end || depth > MAX_DEPTH)
        return SYNTAX;
    if (*j->p == '{')
        return object(j, depth);
    if (*j->p == '[')
        return array(j, depth);
    if (*j->p == '"')
        return (rc = string(j, NULL, NULL)) == STRICT ? violation(j, j->why, j->why_arg) : rc;
    while (j->p < j->end && strchr("+-.0123456789eEtrufalsn", *j->p) && *j->p)
        j->p++;
    return OK;
}

int jstrict_check(const char *text, size_t len, char *field, size_t fieldlen, char *msg, size_t msglen)
{
    struct js j;

    memset(&j, 0, sizeof j);
    j.p = (const unsigned char *)text;
    j.end = j.p + len;
    j.field = field;
    j.fieldlen = fieldlen;
    j.msg = msg;
    j.msglen = msglen;
    return value(&j, 0) == STRICT ? -EINVAL : 0;
}
