/* api_labels.h - the HTTP handlers of human labels: POST and GET
 * /api/eval/{id}/labels, GET /api/agreement and GET /api/review (the review
 * queue). Called by api.c's routing on request threads, with the thread's
 * own connection; they answer the request themselves. */
#ifndef RAGRADE_API_LABELS_H
#define RAGRADE_API_LABELS_H

#include <stdint.h>

#include "api.h"
#include "http.h"

/* POST /api/eval/{id}/labels {"metric", "value", "labeler", "note",
 * "sampled"}: 201 with the stored label (200 when it replaced one). */
void api_labels_post(const api_ctx *a, db *rd, http_req *r, int64_t id);
/* GET /api/eval/{id}/labels[?history=1]. */
void api_labels_get(db *rd, http_req *r, int64_t id);
/* GET /api/agreement?metric=M[&dataset=D][&run=R]. */
void api_agreement(db *rd, http_req *r);
/* GET /api/review?metric=M[&dataset=D][&run=R][&mode=random|disagreements]
 * [&n=N][&seed=S][&labeler=L]. */
void api_review(db *rd, http_req *r);

#endif
