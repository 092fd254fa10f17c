/* llm.c - the judges' HTTP JSON transport: one CURLM, requests as a linked
 * list, each either a running transfer or waiting for its retry time. Every
 * wait goes through curl_multi_poll, so llm_wakeup (curl_multi_wakeup) can
 * interrupt it, and nothing here ever blocks past the caller's timeout.
 * The bodies it carries are built and read by llmwire.c. */
#include "llm.h"
#include "clock.h"
#include "llmwire.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A retry waits min(base * 2^(n-1), max) less up to this share of it. */
#define LLM_JITTER_PCT 25

struct llm_req {
    llm *c;
    CURL *easy;                   /* NULL while waiting to retry */
    struct curl_slist *hdrs;
    char method[8];
    char *path, *body;            /* owned */
    char *resp;                   /* owned, capped at LLM_MAX_BODY */
    size_t resp_len, resp_cap;
    int too_big;
    int retry_after_ms;           /* from the last attempt's headers */
    int attempts;
    int64_t due_ms;               /* when the next attempt may start */
    llm_opts o;
    llm_done_fn done;
    void *arg;
    llm_req *prev, *next;
    char curl_err[CURL_ERROR_SIZE];
    char last_err[512];
    long last_http;
};

struct llm {
    CURLM *multi;
    char **urls;
    int n_urls;
    unsigned next_url;
    char *auth;                   /* "Authorization: Bearer ...", wiped on free */
    llm_req *head;
    uint64_t rng;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static uint64_t rnd(llm *c)          /* xorshift64*: jitter only */
{
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 2685821657736338717ULL;
}

/* Replace every occurrence of the key in s by "***" (endpoints echo keys). */
static void scrub(const llm *c, char *s)
{
    const char *key;
    size_t kl;
    char *p;

    if (!c->auth)
        return;
    key = c->auth + strlen("Authorization: Bearer ");
    kl = strlen(key);
    if (kl < 4)
        return;
    while ((p = strstr(s, key)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + kl, strlen(p + kl) + 1);
    }
}

llm *llm_new(const char *const *urls, int n_urls, const char *api_key, char *err, size_t errlen)
{
    llm *c = NULL, *ret = NULL;
    int i;

    pthread_once(&curl_once, curl_init_once);
    if (n_urls <= 0) {
        snprintf(err, errlen, "no judge URL");
        goto out;
    }
    c = calloc(1, sizeof *c);
    if (!c || !(c->urls = calloc((size_t)n_urls, sizeof *c->urls)))
        goto oom;
    c->n_urls = n_urls;
    for (i = 0; i < n_urls; i++)
        if (!(c->urls[i] = strdup(urls[i])))
            goto oom;
    if (api_key && *api_key) {
        size_t n = strlen("Authorization: Bearer ") + strlen(api_key) + 1;

        if (!(c->auth = malloc(n)))
            goto oom;
        snprintf(c->auth, n, "Authorization: Bearer %s", api_key);
    }
    if (!(c->multi = curl_multi_init()))
        goto oom;
    c->rng = (uint64_t)clock_mono_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() ^ (uintptr_t)c;
    if (!c->rng)
        c->rng = 1;
    ret = c;
    c = NULL;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    llm_free(c);
    return ret;
}

static void req_free(llm_req *q)
{
    if (!q)
        return;
    if (q->easy) {
        curl_multi_remove_handle(q->c->multi, q->easy);
        curl_easy_cleanup(q->easy);
    }
    curl_slist_free_all(q->hdrs);
    free(q->path);
    free(q->body);
    free(q->resp);
    free(q);
}

static void unlink_req(llm *c, llm_req *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        c->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
}

void llm_free(llm *c)
{
    int i;

    if (!c)
        return;
    while (c->head) {
        llm_req *q = c->head;

        unlink_req(c, q);
        req_free(q);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    for (i = 0; c->urls && i < c->n_urls; i++)
        free(c->urls[i]);
    free(c->urls);
    if (c->auth) {
        explicit_bzero(c->auth, strlen(c->auth));
        free(c->auth);
    }
    free(c);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    llm_req *q = ud;
    size_t n = size * nmemb, cap;
    char *p;

    if (q->resp_len + n > LLM_MAX_BODY) {
        q->too_big = 1;
        return 0;
    }
    if (q->resp_len + n + 1 > q->resp_cap) {
        cap = q->resp_cap ? q->resp_cap : 4096;
        while (cap < q->resp_len + n + 1)
            cap *= 2;
        if (!(p = realloc(q->resp, cap)))
            return 0;
        q->resp = p;
        q->resp_cap = cap;
    }
    memcpy(q->resp + q->resp_len, ptr, n);
    q->resp_len += n;
    q->resp[q->resp_len] = '\0';
    return n;
}

/* retry-after-ms: N (OpenAI) or Retry-After: seconds | HTTP date. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    llm_req *q = ud;
    size_t n = size * nmemb;
    char line[256], *v;
    double d;

    if (n >= sizeof line)
        return n;
    memcpy(line, ptr, n);
    line[n] = '\0';
    if (!(v = strchr(line, ':')))
        return n;
    *v++ = '\0';
    while (*v == ' ' || *v == '\t')
        v++;
    if (strcasecmp(line, "retry-after-ms") == 0) {
        d = strtod(v, NULL);
        if (d > 0 && d < 86400000.0)
            q->retry_after_ms = (int)d;
    } else if (strcasecmp(line, "retry-after") == 0 && q->retry_after_ms == 0) {
        char *end;

        d = strtod(v, &end);
        if (end != v && d >= 0 && d < 86400.0) {
            q->retry_after_ms = (int)(d * 1000.0);
        } else {
            time_t t;

            v[strcspn(v, "\r\n")] = '\0';
            t = curl_getdate(v, NULL);
            if (t > 0 && t - time(NULL) > 0 && t - time(NULL) < 86400)
                q->retry_after_ms = (int)(t - time(NULL)) * 1000;
        }
    }
    return n;
}

static int start_attempt(llm *c, llm_req *q, char *err, size_t errlen)
{
    char url[2048];
    int64_t left;
    long tmo;
    int rc = 0;

    left = q->o.deadline_ms ? q->o.deadline_ms - clock_mono_ms() : q->o.timeout_ms;
    if (left <= 0) {
        snprintf(err, errlen, "deadline");
        rc = -ETIMEDOUT;
        goto out;
    }
    tmo = left < q->o.timeout_ms ? (long)left : (long)q->o.timeout_ms;
    snprintf(url, sizeof url, "%s%s", c->urls[c->next_url++ % (unsigned)c->n_urls], q->path);
    q->resp_len = 0;
    q->too_big = 0;
    q->retry_after_ms = 0;
    q->curl_err[0] = '\0';
    if (!(q->easy = curl_easy_init())) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    curl_easy_setopt(q->easy, CURLOPT_URL, url);
    curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
    curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->hdrs);
    curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(q->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(q->easy, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(q->easy, CURLOPT_ERRORBUFFER, q->curl_err);
    curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS, tmo);
    curl_easy_setopt(q->easy, CURLOPT_CONNECTTIMEOUT_MS, tmo);
    curl_easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(q->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(q->easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(q->easy, CURLOPT_ACCEPT_ENCODING, "");
    if (strcmp(q->method, "POST") == 0) {
        curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, q->body ? q->body : "");
        curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE, (long)(q->body ? strlen(q->body) : 0));
    } else {
        curl_easy_setopt(q->easy, CURLOPT_HTTPGET, 1L);
    }
    if (curl_multi_add_handle(c->multi, q->easy) != CURLM_OK) {
        snprintf(err, errlen, "curl_multi_add_handle failed");
        rc = -EIO;
        goto out;
    }
    q->attempts++;
out:
    return rc;
}

llm_req *llm_submit(llm *c, const char *method, const char *path, const char *body,
                    const llm_opts *o, llm_done_fn done, void *arg)
{
    llm_req *q = NULL, *ret = NULL;

    if (!(q = calloc(1, sizeof *q)))
        goto out;
    q->c = c;
    snprintf(q->method, sizeof q->method, "%s", method);
    q->o = *o;
    q->done = done;
    q->arg = arg;
    if (!(q->path = strdup(path)) || (body && !(q->body = strdup(body))))
        goto out;
    if (!(q->hdrs = curl_slist_append(NULL, "Content-Type: application/json")) ||
        !curl_slist_append(q->hdrs, "Accept: application/json") ||
        !curl_slist_append(q->hdrs, "Expect:") ||
        (c->auth && !curl_slist_append(q->hdrs, c->auth)))
        goto out;
    q->due_ms = clock_mono_ms();     /* started by the next llm_run */
    q->next = c->head;
    if (c->head)
        c->head->prev = q;
    c->head = q;
    ret = q;
    q = NULL;
out:
    req_free(q);
    return ret;
}

void llm_cancel(llm *c, llm_req *q)
{
    if (!c || !q)
        return;
    unlink_req(c, q);
    req_free(q);
}

static void finish(llm *c, llm_req *q, int status)
{
    llm_reply rep;

    memset(&rep, 0, sizeof rep);
    rep.status = status;
    rep.http_status = q->last_http;
    rep.body = q->resp ? q->resp : "";
    rep.retry_after_ms = q->retry_after_ms;
    snprintf(rep.error, sizeof rep.error, "%s", q->last_err);
    scrub(c, rep.error);
    unlink_req(c, q);
    q->done(q->arg, &rep);
    req_free(q);
}

/* Whether an HTTP status is worth another attempt: 408, 409, 429 and 5xx
 * are; every other non-2xx is permanent. */
static int http_retryable(long status)
{
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

/* Whether a transfer error is worth another attempt: connection and
 * transport failures are; a bad URL or protocol is not. */
static int curl_retryable(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
           cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_RECV_ERROR ||
           cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE ||
           cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM;
}

/* Schedule the next attempt of a failed, retryable request, or finish it:
 * -EAGAIN when the retries are spent or the endpoint asks for a wait
 * longer than backoff_max_ms (the caller requeues), -ETIMEDOUT when the
 * wait would pass the deadline. Retry-After wins over the backoff. */
static void retry_later(llm *c, llm_req *q)
{
    int64_t delay, now;

    if (q->attempts > q->o.max_retries) {
        finish(c, q, -EAGAIN);
        return;
    }
    delay = clock_backoff_ms(q->attempts, q->o.backoff_base_ms, q->o.backoff_max_ms, LLM_JITTER_PCT,
                             rnd(c));
    if (q->retry_after_ms > q->o.backoff_max_ms) {
        finish(c, q, -EAGAIN);
        return;
    }
    if (q->retry_after_ms > 0)
        delay = q->retry_after_ms;
    now = clock_mono_ms();
    if (q->o.deadline_ms && now + delay >= q->o.deadline_ms) {
        finish(c, q, -ETIMEDOUT);
        return;
    }
    q->due_ms = now + delay;
}

/* A transfer ended: succeed, fail, or schedule the next attempt. */
static void on_transfer(llm *c, llm_req *q, CURLcode cc)
{
    char msg[320];
    int retry = 0, status = -EIO;

    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &q->last_http);
    curl_multi_remove_handle(c->multi, q->easy);
    curl_easy_cleanup(q->easy);
    q->easy = NULL;
    if (cc == CURLE_OK && q->last_http >= 200 && q->last_http < 300) {
        finish(c, q, 0);
        return;
    }
    if (cc == CURLE_OK) {
        llmwire_error_message(q->resp, msg, sizeof msg);
        snprintf(q->last_err, sizeof q->last_err, "HTTP %ld from %s: %s", q->last_http, q->path,
                 msg);
        retry = http_retryable(q->last_http);
    } else if (q->too_big) {
        snprintf(q->last_err, sizeof q->last_err, "reply from %s over %u bytes", q->path,
                 LLM_MAX_BODY);
        status = -EMSGSIZE;
    } else {
        snprintf(q->last_err, sizeof q->last_err, "%s: %s", q->path,
                 q->curl_err[0] ? q->curl_err : curl_easy_strerror(cc));
        retry = curl_retryable(cc);
    }
    if (retry)
        retry_later(c, q);
    else
        finish(c, q, status);
}

/* Start the attempts that are due; returns the ms until the next one (or
 * INT32_MAX). A request that cannot start finishes here. */
static int64_t start_due(llm *c, int *finished)
{
    int64_t now = clock_mono_ms(), next = INT32_MAX;
    llm_req *q, *nx;
    char err[256];
    int rc;

    for (q = c->head; q; q = nx) {
        nx = q->next;
        if (q->easy)
            continue;
        if (q->due_ms > now) {
            if (q->due_ms - now < next)
                next = q->due_ms - now;
            continue;
        }
        rc = start_attempt(c, q, err, sizeof err);
        if (rc < 0) {
            if (rc != -ETIMEDOUT || !q->last_err[0])
                snprintf(q->last_err, sizeof q->last_err, "%s", err);
            finish(c, q, rc == -ETIMEDOUT ? -ETIMEDOUT : -EIO);
            (*finished)++;
            nx = c->head;         /* the callback may have changed the list */
        }
    }
    return next;
}

static int drain(llm *c)
{
    CURLMsg *m;
    int left, n = 0, running;
    llm_req *q;

    curl_multi_perform(c->multi, &running);
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        q = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
        if (q) {
            on_transfer(c, q, m->data.result);
            n++;
        }
    }
    return n;
}

int llm_run(llm *c, int timeout_ms)
{
    int64_t next;
    int finished = 0, rc = 0, wait;

    next = start_due(c, &finished);
    finished += drain(c);
    if (finished)
        goto out;
    next = start_due(c, &finished);
    if (finished)
        goto out;
    wait = next < timeout_ms ? (int)next : timeout_ms;
    if (wait < 0)
        wait = 0;
    if (curl_multi_poll(c->multi, NULL, 0, wait, NULL) != CURLM_OK) {
        rc = -EIO;
        goto out;
    }
    start_due(c, &finished);
    drain(c);
out:
    return rc;
}

void llm_wakeup(llm *c)
{
    curl_multi_wakeup(c->multi);
}
