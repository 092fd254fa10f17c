/* api_crit.h - the /api/criteria handlers, for api.c's route table (see
 * api_crit.c). p and len: the path's {name} segment (not terminated). */
#ifndef RAGRADE_API_CRIT_H
#define RAGRADE_API_CRIT_H

#include "api.h"
#include "http.h"

void api_crit_list(const api_ctx *a, critstore *cs, http_req *r);
void api_crit_get(const api_ctx *a, critstore *cs, http_req *r, const char *p, size_t len);
void api_crit_put(const api_ctx *a, critstore *cs, http_req *r, const char *p, size_t len);
void api_crit_delete(const api_ctx *a, critstore *cs, http_req *r, const char *p, size_t len);

#endif
