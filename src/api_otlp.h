/* api_otlp.h - POST /v1/traces, the OTLP/HTTP trace export route, as the
 * route table of api.c calls it once the token has been checked. */
#ifndef RAGRADE_API_OTLP_H
#define RAGRADE_API_OTLP_H

#include "api.h"
#include "http.h"

/* Read the body (chunked ones too), hand it to ingest_export on rd's
 * connection and send its answer: 200 with an ExportTraceServiceResponse,
 * 4xx, or 503 with Retry-After. 404 unless ingest.enabled. */
void api_otlp_export(const api_ctx *a, db *rd, http_req *r);

#endif
