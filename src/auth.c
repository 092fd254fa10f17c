/* auth.c - bearer tokens checked against SHA-256 hashes (see auth.h). The
 * server never holds a raw token beyond the request that carried it, and
 * never logs one. The hashes are sha256.c's. */
#include "auth.h"
#include "sha256.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LABEL_MAX 64
#define TOKEN_MAX 512             /* longest bearer token we look at */

struct entry {
    unsigned char hash[32];
    int role;
    char label[LABEL_MAX];
};

struct auth {
    struct entry *e;
    size_t n, cap;
    int count[4];                 /* per role */
};

/* ---------------------------------------------------------------- tokens */

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "sha256:<64 hex>" of n bytes at s. 0 or -EINVAL. */
static int parse_hash(const char *s, size_t n, unsigned char out[32])
{
    size_t i;

    if (n != 7 + 64 || strncasecmp(s, "sha256:", 7))
        return -EINVAL;
    for (i = 0; i < 32; i++) {
        int hi = hexval(s[7 + 2 * i]), lo = hexval(s[8 + 2 * i]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int add(auth *a, const unsigned char hash[32], int role, const char *label, size_t llen)
{
    struct entry *e;

    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;

        if (!(e = realloc(a->e, cap * sizeof *e)))
            return -ENOMEM;
        a->e = e;
        a->cap = cap;
    }
    e = &a->e[a->n++];
    memcpy(e->hash, hash, 32);
    e->role = role;
    if (llen >= LABEL_MAX)
        llen = LABEL_MAX - 1;
    memcpy(e->label, label, llen);
    e->label[llen] = '\0';
    a->count[role]++;
    return 0;
}

static int add_list(auth *a, const char *list, int role, const char *key, char *err, size_t errlen)
{
    unsigned char h[32];
    const char *p = list;
    size_t n;
    int rc = 0;

    for (;;) {
        p += strspn(p, " ,\t");
        if (!*p)
            break;
        n = strcspn(p, " ,\t");
        if (parse_hash(p, n, h) < 0) {
            snprintf(err, errlen, "auth.%s: want sha256:<64 hex digits>, for example from"
                     " printf %%s TOKEN | sha256sum", key);
            rc = -EINVAL;
            break;
        }
        if ((rc = add(a, h, role, "", 0)) < 0) {
            snprintf(err, errlen, "out of memory");
            break;
        }
        p += n;
    }
    return rc;
}

static int role_of(const char *s, size_t n)
{
    return n == 4 && !strncmp(s, "read", n) ? AUTH_READ : n == 6 && !strncmp(s, "submit", n) ? AUTH_SUBMIT
         : n == 5 && !strncmp(s, "admin", n) ? AUTH_ADMIN : -1;
}

static int read_file(auth *a, const char *path, char *err, size_t errlen)
{
    char line[1024];
    unsigned char h[32];
    FILE *f = fopen(path, "re");
    int lineno = 0, rc = 0, role;

    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "auth.tokens_file %s: %s", path, strerror(errno));
        goto out;
    }
    while (fgets(line, sizeof line, f)) {
        const char *p = line, *r, *hash, *label;
        size_t rn, hn, ln;

        lineno++;
        p += strspn(p, " \t");
        if (!*p || *p == '#' || *p == '\n' || *p == '\r')
            continue;
        r = p, rn = strcspn(p, " \t\r\n"), p += rn, p += strspn(p, " \t");
        hash = p, hn = strcspn(p, " \t\r\n"), p += hn, p += strspn(p, " \t");
        label = p, ln = strcspn(p, "\r\n");
        while (ln && (label[ln - 1] == ' ' || label[ln - 1] == '\t'))
            ln--;
        if ((role = role_of(r, rn)) < 0 || parse_hash(hash, hn, h) < 0) {
            snprintf(err, errlen, "%s:%d: want \"read|submit|admin sha256:<64 hex digits> [label]\"",
                     path, lineno);
            rc = -EINVAL;
            goto out;
        }
        if ((rc = add(a, h, role, label, ln)) < 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
out:
    if (f)
        fclose(f);
    return rc;
}

auth *auth_new(const conf *cf, char *err, size_t errlen)
{
    auth *a = calloc(1, sizeof *a);

    if (!a) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (add_list(a, cf->read_tokens, AUTH_READ, "read_tokens", err, errlen) < 0 ||
        add_list(a, cf->submit_tokens, AUTH_SUBMIT, "submit_tokens", err, errlen) < 0 ||
        add_list(a, cf->admin_tokens, AUTH_ADMIN, "admin_tokens", err, errlen) < 0)
        goto fail;
    if (cf->tokens_file[0] && read_file(a, cf->tokens_file, err, errlen) < 0)
        goto fail;
    return a;
fail:
    auth_free(a);
    return NULL;
}

void auth_free(auth *a)
{
    if (!a)
        return;
    free(a->e);
    free(a);
}

int auth_count(const auth *a, int role) { return role >= 0 && role < 4 ? a->count[role] : 0; }

/* The token of "Bearer <token>" (RFC 6750 b64token), or NULL. */
static const char *bearer(const char *h, size_t *len)
{
    const char *t = NULL;
    size_t n;

    if (strncasecmp(h, "Bearer ", 7))
        goto out;
    t = h + 7;
    t += strspn(t, " ");
    n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");
    n += strspn(t + n, "=");
    if (n == 0 || n > TOKEN_MAX || t[n + strspn(t + n, " ")] != '\0')
        t = NULL;
    *len = n;
out:
    return t;
}

int auth_check(const auth *a, const char *header, int need, const char **label)
{
    unsigned char h[32];
    const char *tok;
    size_t n = 0, i, k;
    int role = -1, rc = AUTH_OK;

    *label = "";
    if (need == AUTH_OPEN)
        goto out;
    if (need == AUTH_ADMIN && a->count[AUTH_ADMIN] == 0) {
        rc = AUTH_DISABLED;
        goto out;
    }
    if (need < AUTH_ADMIN && a->count[AUTH_READ] + a->count[AUTH_SUBMIT] == 0)
        goto out;                           /* reads and submits are open */
    if (!header || !*header) {
        rc = AUTH_MISSING;
        goto out;
    }
    if (!(tok = bearer(header, &n))) {
        rc = AUTH_MALFORMED;
        goto out;
    }
    sha256(tok, n, h);
    for (i = 0; i < a->n; i++) {            /* every entry, every byte: constant time */
        unsigned char d = 0;

        for (k = 0; k < 32; k++)
            d |= (unsigned char)(h[k] ^ a->e[i].hash[k]);
        if (d == 0 && a->e[i].role > role) {
            role = a->e[i].role;
            *label = a->e[i].label;
        }
    }
    memset(h, 0, sizeof h);
    rc = role < 0 ? AUTH_UNKNOWN : role < need ? AUTH_FORBIDDEN : AUTH_OK;
out:
    return rc;
}
