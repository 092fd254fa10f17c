/* auth.h - bearer tokens for the API, kept only as SHA-256 hashes.
 *
 * Roles, weakest first: read (GET routes), submit (POST /api/eval and
 * reads), admin (everything, and alone the admin routes: POST
 * /api/eval/{id}/retry and DELETE /api/eval/{id}). Reads and submits are
 * open until some read or submit token is configured; admin routes are
 * refused (403) until some admin token is configured, so that a fresh
 * install never lets anyone delete rows. /api/ping and /api/health are
 * always open. Tokens come from [auth] read_tokens, submit_tokens,
 * admin_tokens ("sha256:<hex>", comma or space separated) and tokens_file
 * (lines "role sha256:<hex> [label]"; # comments). */
#ifndef RAGRADE_AUTH_H
#define RAGRADE_AUTH_H

#include <stddef.h>

#include "conf.h"

enum auth_role { AUTH_OPEN = 0, AUTH_READ = 1, AUTH_SUBMIT = 2, AUTH_ADMIN = 3 };

/* What auth_check found. */
enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING,                 /* 401: no Authorization header */
    AUTH_MALFORMED,               /* 401: not "Bearer <token>" */
    AUTH_UNKNOWN,                 /* 401: no such token */
    AUTH_FORBIDDEN,               /* 403: a token of a weaker role */
    AUTH_DISABLED                 /* 403: admin route, no admin token configured */
};

typedef struct auth auth;

/* Parse the tokens of cf (and read cf->tokens_file). NULL with err filled
 * on a malformed hash, an unknown role or an unreadable file. */
auth *auth_new(const conf *cf, char *err, size_t errlen);
void auth_free(auth *a);                   /* NULL is a no-op */
/* How many tokens of each role; for the startup line. */
int auth_count(const auth *a, int role);

/* May a request with this Authorization header value (NULL if absent) do
 * something that needs role need? *label: the matching token's label from
 * tokens_file, or "" (never the token). Compares in constant time. */
int auth_check(const auth *a, const char *header, int need, const char **label);

#endif
