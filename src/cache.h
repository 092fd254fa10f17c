/* cache.h - the judge reply cache: the table judge_cache (sql/002), one
 * reply per request key, on a borrowed connection. A storage module: the
 * LLM judge calls these and never sees SQL. */
#ifndef RAGRADE_CACHE_H
#define RAGRADE_CACHE_H

#include <stdint.h>

#include "db.h"

/* The reply stored under key into *reply (malloc, caller frees), or
 * *reply = NULL when none is. 0, -ENOMEM or -EIO. */
int cache_get(db *d, const char *key, char **reply);

/* Store (or replace) reply under key with its token counts: one short
 * write, under the writers' turn (db.h). 0 or a negative code. */
int cache_put(db *d, const char *key, const char *reply, int64_t prompt_tokens,
              int64_t completion_tokens);

#endif
