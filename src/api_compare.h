/* api_compare.h - the API's routes about runs: GET /api/summary (with each
 * mean's interval, by run), GET /api/runs and GET /api/compare. Handlers
 * only: api.c's routes call them on a request thread with its own
 * connection; they validate the query, answer 400 in words, and send the
 * JSON that runs.c and compare.c build. */
#ifndef RAGRADE_API_COMPARE_H
#define RAGRADE_API_COMPARE_H

#include "db.h"
#include "http.h"

/* GET /api/summary?dataset=&run= */
void api_compare_summary(db *rd, http_req *r);
/* GET /api/runs?dataset= */
void api_compare_runs(db *rd, http_req *r);
/* GET /api/compare?dataset=&baseline=&candidate=[&baseline_dataset=]
 * [&candidate_dataset=][&metrics=][&alpha=][&min_delta=] */
void api_compare_compare(db *rd, http_req *r);

#endif
