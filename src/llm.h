/* llm.h - a small HTTP JSON client over one libcurl multi handle, for the
 * LLM judges: requests to a set of base URLs taken round-robin, a timeout
 * per attempt, a capped response body, and retries with exponential backoff
 * and jitter on connection errors, timeouts, 408, 409, 429 and 5xx (honouring
 * Retry-After and retry-after-ms). Single-threaded except llm_wakeup().
 * It carries opaque JSON texts: their shapes are llmwire.h's. Which
 * statuses are retried is decided in one place (llm.c's http_retryable and
 * curl_retryable); a client serves one set of base URLs, so an endpoint of
 * its own for embeddings is a second client. */
#ifndef RAGRADE_LLM_H
#define RAGRADE_LLM_H

#include <stddef.h>
#include <stdint.h>

#define LLM_MAX_BODY (4u << 20)     /* response bodies are capped at 4 MiB */

typedef struct llm llm;
typedef struct llm_req llm_req;

/* How a request ended. status: 0 a 2xx reply (body holds it); -EAGAIN a
 * transient failure after the retries; -ETIMEDOUT the deadline passed;
 * -EIO a permanent failure (a 4xx other than 408/409/429, a bad URL);
 * -EMSGSIZE a reply over the cap. error never contains the API key. The
 * struct and body belong to the client and live only during the callback. */
typedef struct llm_reply {
    int status;
    long http_status;             /* of the last attempt, 0 if none */
    const char *body;             /* NUL-terminated */
    int retry_after_ms;           /* the endpoint's last hint, 0 if none */
    char error[512];
} llm_reply;

typedef void (*llm_done_fn)(void *arg, const llm_reply *rep);

typedef struct llm_opts {
    int timeout_ms;               /* one attempt */
    int max_retries;              /* attempts = 1 + max_retries */
    int backoff_base_ms;
    int backoff_max_ms;
    int64_t deadline_ms;          /* clock_mono_ms() (clock.h); 0: none */
} llm_opts;

/* A client for n_urls base URLs (copied). api_key may be NULL or empty (no
 * Authorization header); it is copied and wiped on llm_free. NULL with err
 * filled on failure. */
llm *llm_new(const char *const *urls, int n_urls, const char *api_key, char *err, size_t errlen);
void llm_free(llm *c);            /* NULL is a no-op; drops requests without callbacks */

/* Start a request: method "GET" or "POST", path appended to the next base
 * URL ("/v1/models"), body a JSON text (copied; NULL for none). done is
 * called exactly once from llm_run, unless llm_cancel comes first. NULL on
 * out of memory. */
llm_req *llm_submit(llm *c, const char *method, const char *path, const char *body,
                    const llm_opts *o, llm_done_fn done, void *arg);

/* Drop a request in flight or waiting to retry; done is not called. */
void llm_cancel(llm *c, llm_req *q);

/* Drive transfers and retries for up to timeout_ms; returns sooner when a
 * request finished or llm_wakeup was called. 0 or a negative code. */
int llm_run(llm *c, int timeout_ms);
void llm_wakeup(llm *c);          /* thread-safe */

#endif
