/* judge.h - the thing that scores rows: the built-in metrics, or an LLM
 * endpoint (OpenAI-compatible or Ollama) driven over libcurl multi.
 *
 * A judge belongs to one thread (the scheduler's, or `ragrade eval`'s) and
 * is never touched by request handlers. It is asynchronous: judge_submit()
 * starts an evaluation and judge_run() drives I/O and calls the done
 * callback for each evaluation that finishes. The built-in judge finishes
 * inside judge_submit(); LLM judges finish later. judge_wakeup() is the one
 * function other threads may call. */
#ifndef RAGRADE_JUDGE_H
#define RAGRADE_JUDGE_H

#include <stdint.h>

#include <json-c/json.h>

#include "conf.h"
#include "row.h"

enum judge_state {
    JUDGE_UNINITIALIZED = 0,
    JUDGE_INITIALIZING = 1,
    JUDGE_READY = 2,
    JUDGE_FAILED = 3,             /* init failed; retried after a backoff */
};

/* One metric's score. reason is malloc'd (owned by the result) and may be
 * NULL; for LLM metrics it holds the reasoning as JSON text (statements and
 * verdicts). version is stored in evaluation_scores.version. */
typedef struct judge_score {
    char metric[ROW_METRIC_NAME];
    double score;
    int is_null;
    char *reason;
    char version[17];             /* a criterion's version (criteria.h), "" for other metrics */
} judge_score;

/* The outcome of one row. status: 0 scored (some scores may be null);
 * -EAGAIN a transient failure (the scheduler retries the row after a
 * backoff); any other negative code a permanent failure. error says why
 * when status < 0. Owned by the judge; valid only during the callback. */
typedef struct judge_result {
    int64_t id;
    int status;
    char error[512];
    judge_score *scores;
    size_t n_scores;
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int retry_after_ms;           /* hint for -EAGAIN, 0 if none */
} judge_result;

typedef void (*judge_done_fn)(void *arg, const judge_result *res);

typedef struct judge judge;

/* A new judge for cf->backend. Does no I/O: initialisation is lazy
 * (judge_start_init). d is the calling thread's connection (borrowed; the
 * judge keeps its reply cache there, writing under the writers' turn), or
 * NULL for no cache. NULL with err filled on failure. */
struct db;                        /* db.h, which includes this header */
judge *judge_new(const conf *cf, struct db *d, char *err, size_t errlen);
void judge_free(judge *j);        /* NULL is a no-op; abandons evaluations in flight */

/* "builtin/-", "openai/MODEL" or "ollama/MODEL" (stored per row). */
const char *judge_name(const judge *j);

/* 1 if the judge can compute this metric name. Thread-safe (no state). */
int judge_metric_known(const conf *cf, const char *name);

/* The same, or a criterion of reg (a crit_registry, borrowed) when the
 * judge is an LLM: row_metric_known_arg_fn for row_parse_body_arg. */
int judge_metric_or_criterion(void *reg, const conf *cf, const char *name);

/* The criteria rows may name (borrowed; outlives j). LLM judges score
 * them; the built-in judge gives null. */
struct crit_registry;
void judge_set_criteria(judge *j, struct crit_registry *reg);

/* Every metric known under cf, and the defaults, as JSON arrays (new
 * references for the caller), for /api/health and the page. */
json_object *judge_metrics_json(const conf *cf, int defaults_only);

/* Begin initialisation (the built-in judge loads its resources at once;
 * LLM judges probe the endpoint asynchronously, with a timeout and retries
 * with backoff). State and last error through judge_state(). */
int judge_start_init(judge *j);
int judge_state(const judge *j, char *err, size_t errlen);

/* Start evaluating r (the judge copies what it needs; r may be freed on
 * return). done is called exactly once, from judge_submit or judge_run.
 * 0, or -EBUSY when the judge is not ready. */
int judge_submit(judge *j, const row *r, judge_done_fn done, void *arg);

/* Evaluations started and not yet done. */
int judge_inflight(const judge *j);

/* Drive I/O for up to timeout_ms (less when there is work to do or
 * judge_wakeup is called). Calls done callbacks. 0 or a negative code. */
int judge_run(judge *j, int timeout_ms);

/* Make judge_run return soon. Async-signal-unsafe, thread-safe. */
void judge_wakeup(judge *j);

/* Abandon every evaluation in flight: done is called with -ECANCELED for
 * each (used on shutdown, after which the scheduler requeues them). */
void judge_cancel_all(judge *j);

#endif
