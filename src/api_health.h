/* api_health.h - the handler of GET /api/health, called by api.c's route
 * table on a request thread with its own connection and criteria store. */
#ifndef RAGRADE_API_HEALTH_H
#define RAGRADE_API_HEALTH_H

#include "api.h"
#include "critstore.h"
#include "db.h"
#include "http.h"

/* GET /api/health: 200 "ok" or "degraded", 503 "unavailable". */
void api_health(const api_ctx *a, db *rd, critstore *cs, http_req *r);

#endif
