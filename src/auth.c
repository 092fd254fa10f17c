/* auth.c - bearer tokens checked against SHA-256 hashes (see auth.h). The
 * server never holds a raw token beyond the request that carried it, and
 * never logs one. SHA-256 is FIPS 180-4, written out here to need no
 * crypto library. */
#include "auth.h"

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

/* ---------------------------------------------------------------- SHA-256 */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               p[4 * i + 3];
    for (i = 16; i < 64; i++)
        w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
               (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (i = 0; i < 64; i++) {
        t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void auth_sha256(const void *data, size_t len, unsigned char out[32])
{
    uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    const unsigned char *p = data;
    unsigned char tail[128];
    uint64_t bits = (uint64_t)len * 8;
    size_t rest, padded, i;

    for (; len >= 64; p += 64, len -= 64)
        block(h, p);
    rest = len;
    memset(tail, 0, sizeof tail);
    memcpy(tail, p, rest);
    tail[rest] = 0x80;
    padded = rest + 1 + 8 <= 64 ? 64 : 128;
    for (i = 0; i < 8; i++)
        tail[padded - 1 - i] = (unsigned char)(bits >> (8 * i));
    block(h, tail);
    if (padded == 128)
        block(h, tail + 64);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

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
    auth_sha256(tok, n, h);
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
