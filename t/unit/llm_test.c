/* llm_test.c - the LLM judges against t/lib/fakellm.py: each metric's
 * formula on scripted replies, retries and Retry-After, repair prompts,
 * permanent failures, timeouts, deadlines, init states, the cache, and the
 * concurrency bound (the fake counts requests in flight); and the exact
 * request bodies of both wire formats (the cache keys hash them). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "clock.h"
#include "conf.h"
#include "db.h"
#include "llm.h"
#include "llmjudge.h"
#include "llmwire.h"
#include "prompts.h"

static pid_t fake_pid;
static int fake_stdin = -1;
static char base[64];

/* A deep copy of a judge_result, made in the callback. */
struct outcome {
    int done, status, retry_after_ms;
    char error[512];
    size_t n;
    judge_score s[16];
    int64_t ptok, ctok;
};

static void on_done(void *arg, const judge_result *res)
{
    struct outcome *o = arg;
    size_t i;

    o->done++;
    o->status = res->status;
    o->retry_after_ms = res->retry_after_ms;
    snprintf(o->error, sizeof o->error, "%s", res->error);
    o->n = res->n_scores;
    o->ptok = res->prompt_tokens;
    o->ctok = res->completion_tokens;
    for (i = 0; i < res->n_scores && i < 16; i++) {
        o->s[i] = res->scores[i];
        o->s[i].reason = res->scores[i].reason ? strdup(res->scores[i].reason) : NULL;
    }
}

static void outcome_clear(struct outcome *o)
{
    size_t i;

    for (i = 0; i < o->n && i < 16; i++)
        free(o->s[i].reason);
    memset(o, 0, sizeof *o);
}

struct buf {
    char *p;
    size_t n;
};

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    struct buf *b = ud;
    char *q = realloc(b->p, b->n + sz * n + 1);

    if (!q)
        return 0;
    memcpy(q + b->n, p, sz * n);
    b->p = q;
    b->n += sz * n;
    b->p[b->n] = '\0';
    return sz * n;
}

/* POST /_control (body != NULL) or GET /_stats; the parsed reply. */
static json_object *fake(const char *body)
{
    CURL *c = curl_easy_init();
    json_object *out = NULL;
    struct buf b = { NULL, 0 };
    char url[128];

    snprintf(url, sizeof url, "%s/%s", base, body ? "_control" : "_stats");
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    out = b.p ? json_tokener_parse(b.p) : NULL;
    free(b.p);
    assert_non_null(out);
    return out;
}

static void control(const char *body) { json_object_put(fake(body)); }

static int stat_int(const char *key)
{
    json_object *s = fake(NULL), *v;
    int n;

    assert_true(json_object_object_get_ex(s, key, &v));
    n = json_object_get_int(v);
    json_object_put(s);
    return n;
}

static int kind_count(const char *kind)
{
    json_object *s = fake(NULL), *bk, *v;
    int n = 0;

    json_object_object_get_ex(s, "by_kind", &bk);
    if (json_object_object_get_ex(bk, kind, &v))
        n = json_object_get_int(v);
    json_object_put(s);
    return n;
}

static int start_fake(void **state)
{
    int in[2], out[2];
    char path[1024], buf[64];
    const char *src = getenv("RAGRADE_SRCDIR");
    ssize_t n = 0;
    size_t got;

    (void)state;
    snprintf(path, sizeof path, "%s/t/lib/fakellm.py", src ? src : ".");
    if (pipe(in) < 0 || pipe(out) < 0)
        return -1;
    if ((fake_pid = fork()) == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl("/usr/bin/python3", "python3", path, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    fake_stdin = in[1];
    /* Read the whole port line: the fake may write the number and the
     * newline separately (PYTHONUNBUFFERED), and closing the pipe before
     * the newline would kill it with EPIPE. */
    for (got = 0; got < sizeof buf - 1 && (got == 0 || buf[got - 1] != '\n'); got += (size_t)n)
        if ((n = read(out[0], buf + got, sizeof buf - 1 - got)) <= 0)
            break;
    close(out[0]);
    if (got == 0 || buf[got - 1] != '\n')
        return -1;
    buf[got] = '\0';
    snprintf(base, sizeof base, "http://127.0.0.1:%d", atoi(buf));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int stop_fake(void **state)
{
    (void)state;
    close(fake_stdin);            /* the fake exits at EOF */
    kill(fake_pid, SIGTERM);
    waitpid(fake_pid, NULL, 0);
    return 0;
}

static void base_conf(conf *cf, const char *backend)
{
    conf_defaults(cf);
    snprintf(cf->backend, sizeof cf->backend, "%s", backend);
    snprintf(cf->urls[0], sizeof cf->urls[0], "%s", base);
    cf->n_urls = 1;
    snprintf(cf->model, sizeof cf->model, "judge-model");
    snprintf(cf->embedding_model, sizeof cf->embedding_model, "embed-model");
    cf->backoff_base_ms = 5;
    cf->backoff_max_ms = 2000;
    cf->request_timeout_ms = 5000;
    cf->init_timeout_ms = 5000;
    cf->row_deadline_ms = 20000;
    cf->max_retries = 3;
    cf->max_repairs = 2;
    cf->cache = 0;
}

/* Run the judge until pred says stop or 20 s pass. */
static void run_until(llmjudge *lj, int (*pred)(llmjudge *, void *), void *arg)
{
    int64_t end = clock_mono_ms() + 20000;

    while (!pred(lj, arg) && clock_mono_ms() < end)
        assert_int_equal(llmjudge_run(lj, 100), 0);
    assert_true(pred(lj, arg));
}

static int not_initializing(llmjudge *lj, void *arg)
{
    (void)arg;
    return llmjudge_state(lj, NULL, 0) != JUDGE_INITIALIZING;
}

static int outcome_done(llmjudge *lj, void *arg)
{
    (void)lj;
    return ((struct outcome *)arg)->done > 0;
}

static llmjudge *ready_judge(const conf *cf, db *cache)
{
    char err[256];
    llmjudge *lj = llmjudge_new(cf, cache, err, sizeof err);

    assert_non_null(lj);
    assert_int_equal(llmjudge_start_init(lj), 0);
    run_until(lj, not_initializing, NULL);
    assert_int_equal(llmjudge_state(lj, err, sizeof err), JUDGE_READY);
    return lj;
}

/* Evaluate one row with the named metrics (NULL-terminated). */
static void eval_row(llmjudge *lj, const char *q, const char *a, const char *gt,
                     const char **ctx, const char **metrics, struct outcome *o)
{
    row r;
    size_t n = 0;

    memset(&r, 0, sizeof r);
    memset(o, 0, sizeof *o);
    r.id = 7;
    r.question = (char *)q;
    r.answer = (char *)a;
    r.ground_truth = (char *)gt;
    r.contexts = (char **)ctx;
    while (ctx && ctx[r.n_contexts])
        r.n_contexts++;
    r.metrics = (char **)metrics;
    while (metrics && metrics[n])
        n++;
    r.n_metrics = n;
    assert_int_equal(llmjudge_submit(lj, &r, on_done, o), 0);
    run_until(lj, outcome_done, o);
    assert_int_equal(o->done, 1);
}

#define CLOSE(x, y) assert_true(fabs((x) - (y)) < 1e-6)

static const char *paris_ctx[] = { "Paris is the capital of France.", "It has a river.", NULL };
static const char *paris_answer = "Paris is the capital of France. Paris has ten million cats.";

static void faithfulness_on(const char *backend)
{
    const char *m[] = { "faithfulness", NULL };
    struct outcome o;
    llmjudge *lj;
    conf cf;

    control("{\"reset\": true}");
    base_conf(&cf, backend);
    lj = ready_judge(&cf, NULL);
    eval_row(lj, "What is Paris?", paris_answer, NULL, paris_ctx, m, &o);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.s[0].metric, "faithfulness");
    assert_false(o.s[0].is_null);
    CLOSE(o.s[0].score, 0.5);
    assert_non_null(strstr(o.s[0].reason, "\"verdict\":0"));
    assert_int_equal(o.ptok, 20);             /* two calls of 10 + 5 tokens */
    assert_int_equal(o.ctok, 10);
    outcome_clear(&o);
    llmjudge_free(lj);
}

static void test_faithfulness_openai(void **state) { (void)state; faithfulness_on("openai"); }

static void test_faithfulness_ollama(void **state)
{
    json_object *s, *last, *req, *v;
    size_t i, n;
    int seen = 0;

    (void)state;
    faithfulness_on("ollama");
    s = fake(NULL);
    json_object_object_get_ex(s, "last", &last);
    n = json_object_array_length(last);
    for (i = 0; i < n; i++) {
        req = json_object_array_get_idx(last, i);
        json_object_object_get_ex(req, "body", &v);
        if (strcmp(json_object_get_string(json_object_object_get(req, "path")), "/api/chat"))
            continue;
        assert_false(json_object_get_boolean(json_object_object_get(v, "stream")));
        assert_true(json_object_is_type(json_object_object_get(v, "format"), json_type_object));
        assert_non_null(json_object_object_get(json_object_object_get(v, "options"), "seed"));
        seen++;
    }
    assert_true(seen >= 2);
    json_object_put(s);
}

static void test_answer_relevancy(void **state)
{
    const char *m[] = { "answer_relevancy", NULL };
    struct outcome o;
    llmjudge *lj;
    conf cf;

    (void)state;
    control("{\"reset\": true, \"embeddings\": {\"Q?\": [1, 0], \"g1\": [1, 0], \"g2\": [0, 1],"
            " \"g3\": [1, 1]}, \"faults\": ["
            "{\"match\": \"question\", \"mode\": \"reply\", \"content\": {\"question\": \"g1\","
            " \"noncommittal\": 0}},"
            "{\"match\": \"question\", \"mode\": \"reply\", \"content\": {\"question\": \"g2\","
            " \"noncommittal\": 1}},"
            "{\"match\": \"question\", \"mode\": \"reply\", \"content\": {\"question\": \"g3\","
            " \"noncommittal\": 0}}]}");
    base_conf(&cf, "openai");
    lj = ready_judge(&cf, NULL);
    eval_row(lj, "Q?", "Some answer.", NULL, NULL, m, &o);
    assert_int_equal(o.status, 0);
    CLOSE(o.s[0].score, (1.0 + 0.0 + 1.0 / sqrt(2.0)) / 3.0);
    assert_int_equal(kind_count("question"), 3);
    outcome_clear(&o);
    /* every generation noncommittal: 0 */
    control("{\"faults\": [{\"match\": \"question\", \"mode\": \"reply\", \"count\": 3,"
            " \"content\": {\"question\": \"g1\", \"noncommittal\": 1}}]}");
    eval_row(lj, "Q?", "I don't know.", NULL, NULL, m, &o);
    assert_false(o.s[0].is_null);
    CLOSE(o.s[0].score, 0.0);
    outcome_clear(&o);
    llmjudge_free(lj);
}

static void test_context_precision_recall(void **state)
{
    const char *m[] = { "context_precision", "context_recall", NULL };
    const char *ctx[] = { "c1", "c2", "c3", NULL };
    const char *ctx2[] = { "Alpha is Beta.", NULL };
    struct outcome o;
    llmjudge *lj;
    conf cf;

    (void)state;
    control("{\"reset\": true, \"faults\": ["
            "{\"match\": \"ctx_precision\", \"mode\": \"reply\", \"content\": {\"reason\": \"r\","
            " \"verdict\": 1}},"
            "{\"match\": \"ctx_precision\", \"mode\": \"reply\", \"content\": {\"reason\": \"r\","
            " \"verdict\": 0}},"
            "{\"match\": \"ctx_precision\", \"mode\": \"reply\", \"content\": {\"reason\": \"r\","
            " \"verdict\": 1}}]}");
    base_conf(&cf, "openai");
    lj = ready_judge(&cf, NULL);
    eval_row(lj, "Q?", "ans", "A is B. C is D.", ctx, m, &o);
    assert_int_equal(o.status, 0);
    CLOSE(o.s[0].score, (1.0 / 1 + 2.0 / 3) / 2);
    CLOSE(o.s[1].score, 0.0);                 /* no sentence is in c1..c3 */
    outcome_clear(&o);
    eval_row(lj, "Q?", "ans", "Alpha is Beta. Gamma is Delta.", ctx2, m, &o);
    CLOSE(o.s[0].score, 1.0);
    CLOSE(o.s[1].score, 0.5);
    outcome_clear(&o);
    llmjudge_free(lj);
}

static void test_correctness_metrics(void **state)
{
    const char *m[] = { "answer_correctness", "semantic_similarity", "correctness", NULL };
    struct outcome o;
    llmjudge *lj;
    conf cf;

    (void)state;
    control("{\"reset\": true, \"embeddings\": {\"X is 1. Y is 2.\": [1, 0],"
            " \"X is 1. Z is 3.\": [1, 1]}}");
    base_conf(&cf, "openai");
    lj = ready_judge(&cf, NULL);
    eval_row(lj, "Q?", "X is 1. Y is 2.", "X is 1. Z is 3.", NULL, m, &o);
    assert_int_equal(o.status, 0);
    /* TP 1, FP 1, FN 1: F1 = 1 / (1 + 1) */
    CLOSE(o.s[0].score, 0.75 * 0.5 + 0.25 / sqrt(2.0));
    CLOSE(o.s[1].score, 1.0 / sqrt(2.0));
    CLOSE(o.s[2].score, 3.0);
    assert_non_null(strstr(o.s[2].reason, "\"passing\":false"));
    outcome_clear(&o);
    eval_row(lj, "Q?", "X is 1.", "X is 1.", NULL, m, &o);
    CLOSE(o.s[0].score, 1.0);
    CLOSE(o.s[2].score, 5.0);
    assert_non_null(strstr(o.s[2].reason, "\"passing\":true"));
    outcome_clear(&o);
    llmjudge_free(lj);
}

static void test_missing_inputs_and_builtins(void **state)
{
    const char *m[] = { "faithfulness", "context_recall", "exact_match", "bogus",
                        "semantic_similarity", NULL };
    struct outcome o;
    llmjudge *lj;
    conf cf;
    int before;

    (void)state;
    control("{\"reset\": true, \"embeddings\": {\"zero\": [0, 0], \"one\": [1, 0]}}");
    base_conf(&cf, "openai");
    lj = ready_judge(&cf, NULL);
    before = stat_int("requests");
    eval_row(lj, "Q?", "zero", NULL, NULL, m, &o);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.n, 5);
    assert_true(o.s[0].is_null);
    assert_string_equal(o.s[0].reason, "needs at least one context");
    assert_true(o.s[1].is_null);
    assert_string_equal(o.s[1].reason, "needs a ground truth");
    assert_true(o.s[2].is_null);
    assert_true(o.s[3].is_null);
    assert_string_equal(o.s[3].reason, "unknown metric");
    assert_true(o.s[4].is_null);
    assert_int_equal(stat_int("requests"), before);   /* nothing was asked */
    outcome_clear(&o);
    /* a zero embedding makes the cosine NaN: null, never NaN */
    eval_row(lj, "Q?", "zero", "one", NULL, m, &o);
    assert_false(o.s[2].is_null);
    CLOSE(o.s[2].score, 0.0);
    assert_true(o.s[4].is_null);
    assert_non_null(strstr(o.s[4].reason, "finite"));
    outcome_clear(&o);
    llmjudge_free(lj);
}

static void test_retry_after(void **state)
{
    const char *m[] = { "correctness", NULL };
    struct outcome o;
    llmjudge *lj;
    int64_t t0;
    conf cf;

    (void)state;
    control("{\"reset\": true, \"faults\": [{\"match\": \"correctness\", \"mode\": \"status\","
            " \"status\": 429, \"retry_after_ms\": 300, \"count\": 2}]}");
    base_conf(&cf, "openai");
    lj = ready_judge(&cf, NULL);
    t0 = clock_mono_ms();
    eval_row(lj, "Q?", "a", "b", NULL, m, &o);
    assert_int_equal(o.status, 0);
    assert_true(clock_mono_ms() - t0 >= 600);    /* backoff base is 5 ms */
    assert_int_equal(kind_count("correctness"), 3);
    outcome_clear(&o);
    /* Retry-After in seconds, 503 */
    control("{\"faults\": [{\"match\": \"correctness\", \"mode\": \"status\", \"status\": 503,"
            " \"retry_after\": 1}]}");
    t0 = clock_mono_ms();
    eval_row(lj, "Q?", "a", "b", NULL, m, &o);
    assert_int_equal(o.status, 0);
    assert_true(clock_mono_ms() - t0 >= 1000);
    outcome_clear(&o);
    /* longer than backoff_max_ms: the row goes back with the hint */
    control("{\"faults\": [{\"match\": \"correctness\", \"mode\": \"status\", \"status\": 429,"
            " \"retry_after\": 30}]}");
    eval_row(lj, "Q?", "a", "b", NULL, m, &o);
    assert_int_equal(o.status, -EAGAIN);
    assert_int_equal(o.retry_after_ms, 30000);
    outcome_clear(&o);
    llmjudge_free(lj);
}

static void test_retries_exhausted(void **state)
{
    const char *m[] = { "correctness", NULL };
    struct outcome o;
    llmjudge *lj;
    conf cf;

    (void)state;
    control("{\"reset\": true}");
    base_conf(&cf, "openai");
    cf.max_retries = 2;
    lj = ready_judge(&cf, NULL);
    control("{\"faults\": [{\"match\": \"correctness\", \"mode\": \"status\", \"status\": 500,"
            " \"count\": -1}]}");
    eval_row(lj, "Q?", "a", "b", NULL, m, &o);
    assert_int_equal(o.status, -EAGAIN);
    assert_int_equal(o.n, 0);
    assert_non_null(strstr(o.error, "HTTP 500"));
    assert_int_equal(kind_count("correctness"), 3);   /* 1 + max_retries */
    outcome_clear(&o);
    llmjudge_free(lj);
}

static void test_permanent_4xx(void **state)
{
    const char *m[] = { "correctness", "semantic_similarity", NULL };
    struct outcome o;
    llmjudge *lj;
    conf cf;

    (void)state;
    control("{\"reset\": true}");
    setenv("RAGRADE_API_KEY", "sk-secret-4242", 1);
    base_conf(&cf, "openai");
    lj = ready_judge(&cf, NULL);
    unsetenv("RAGRADE_API_KEY");
    control("{\"faults\": [{\"match\": \"correctness\", \"mode\": \"status\", \"status\": 401,"
            " \"message\": \"Incorrect API key provided: sk-secret-4242\"}]}");
    eval_row(lj, "Q?", "a", "b", NULL, m, &o);
    assert_int_equal(o.status, -EIO);
    assert_non_null(strstr(o.error, "HTTP 401"));
    assert_non_null(strstr(o.error, "Incorrect API key"));
    assert_null(strstr(o.error, "sk-secret-4242"));
    assert_int_equal(kind_count("correctness"), 1);   /* no retry */
    {
        json_object *s = fake(NULL), *last;

        json_object_object_get_ex(s, "last", &last);
        last = json_object_array_get_idx(last, json_object_array_length(last) - 1);
        assert_string_equal(json_object_get_string(json_object_object_get(last, "authorization")),
                            "Bearer sk-secret-4242");
        json_object_put(s);
    }
    outcome_clear(&o);
    /* 400: this prompt was rejected; the metric is null, the row goes on */
    control("{\"faults\": [{\"match\": \"correctness\", \"mode\": \"status\", \"status\": 400,"
            " \"message\": \"context length exceeded\"}]}");
    eval_row(lj, "Q?", "a", "b", NULL, m, &o);
    assert_int_equal(o.status, 0);
    assert_true(o.s[0].is_null);
    assert_non_null(strstr(o.s[0].reason, "context length exceeded"));
    assert_false(o.s[1].is_null);
    outcome_clear(&o);
    llmjudge_free(lj);
}

static void repaired(llmjudge *lj, const char *mode)
{
    const char *m[] = { "correctness", NULL };
    char ctl[256];
    struct outcome o;
    json_object *s, *last, *msgs;
    int before = kind_count("correctness");

    snprintf(ctl, sizeof ctl, "{\"faults\": [{\"match\": \"correctness\", \"mode\": \"%s\"}]}",
             mode);
    control(ctl);
    eval_row(lj, "Q?", "a", "a", NULL, m, &o);
    assert_int_equal(o.status, 0);
    assert_false(o.s[0].is_null);
    CLOSE(o.s[0].score, 5.0);
    assert_int_equal(kind_count("correctness"), before + 2);
    s = fake(NULL);
    json_object_object_get_ex(s, "last", &last);
    last = json_object_array_get_idx(last, json_object_array_length(last) - 1);
    msgs = json_object_object_get(json_object_object_get(last, "body"), "messages");
    assert_int_equal(json_object_array_length(msgs), 3);   /* prompt, bad reply, repair */
    assert_non_null(strstr(json_object_get_string(json_object_object_get(
        json_object_array_get_idx(msgs, 2), "content")), "did not satisfy"));
    json_object_put(s);
    outcome_clear(&o);
}

static void test_repairs(void **state)
{
    const char *m[] = { "correctness", NULL };
    struct outcome o;
    llmjudge *lj;
    conf cf;

    (void)state;
    control("{\"reset\": true}");
    base_conf(&cf, "openai");
    lj = ready_judge(&cf, NULL);
    repaired(lj, "malformed");
    repaired(lj, "wrong_schema");
    repaired(lj, "truncated");
    repaired(lj, "refusal");
    repaired(lj, "garbage");
    control("{\"faults\": [{\"match\": \"correctness\", \"mode\": \"malformed\", \"count\": -1}]}");
    eval_row(lj, "Q?", "a", "a", NULL, m, &o);
    assert_int_equal(o.status, 0);
    assert_true(o.s[0].is_null);
    assert_non_null(strstr(o.s[0].reason, "no valid reply after 2 repairs"));
    outcome_clear(&o);
    llmjudge_free(lj);
}

static void test_hung_endpoint(void **state)
{
    const char *m[] = { "correctness", "semantic_similarity", NULL };
    struct outcome o;
    llmjudge *lj;
    int64_t t0, dt;
    conf cf;

    (void)state;
    control("{\"reset\": true}");
    base_conf(&cf, "openai");
    cf.request_timeout_ms = 300;
    cf.max_retries = 1;
    lj = ready_judge(&cf, NULL);
    control("{\"faults\": [{\"match\": \"correctness\", \"mode\": \"hang\", \"count\": -1}]}");
    t0 = clock_mono_ms();
    eval_row(lj, "Q?", "a", "b", NULL, m, &o);
    dt = clock_mono_ms() - t0;
    assert_int_equal(o.status, -EAGAIN);
    assert_non_null(strstr(o.error, "imeout") ? o.error : strstr(o.error, "timed out"));
    assert_in_range(dt, 599, 4999);           /* two attempts of 300 ms (whole ms clocks: 1 ms short at most) */
    outcome_clear(&o);
    llmjudge_free(lj);
    /* the row deadline: remaining metrics null with "deadline" */
    base_conf(&cf, "openai");
    cf.request_timeout_ms = 5000;
    cf.row_deadline_ms = 400;
    lj = ready_judge(&cf, NULL);
    t0 = clock_mono_ms();
    eval_row(lj, "Q?", "a", "b", NULL, m, &o);
    dt = clock_mono_ms() - t0;
    assert_int_equal(o.status, 0);
    assert_true(o.s[0].is_null && o.s[1].is_null);
    assert_non_null(strstr(o.s[0].reason, "deadline"));
    assert_non_null(strstr(o.s[1].reason, "deadline"));
    assert_in_range(dt, 399, 4999);           /* whole ms clocks at both ends: 1 ms short at most */
    outcome_clear(&o);
    llmjudge_free(lj);
    control("{\"reset\": true}");             /* releases the hung requests */
}

static void test_init_states(void **state)
{
    char err[256];
    llmjudge *lj;
    conf cf;

    (void)state;
    control("{\"reset\": true, \"models\": [\"other\"]}");
    base_conf(&cf, "ollama");
    lj = llmjudge_new(&cf, NULL, err, sizeof err);
    assert_non_null(lj);
    assert_int_equal(llmjudge_state(lj, err, sizeof err), JUDGE_UNINITIALIZED);
    assert_int_equal(llmjudge_start_init(lj), 0);
    assert_int_equal(llmjudge_state(lj, err, sizeof err), JUDGE_INITIALIZING);
    run_until(lj, not_initializing, NULL);
    assert_int_equal(llmjudge_state(lj, err, sizeof err), JUDGE_FAILED);
    assert_non_null(strstr(err, "judge-model"));
    control("{\"models\": [\"judge-model\", \"embed-model\"],"
            " \"faults\": [{\"match\": \"probe\", \"mode\": \"status\", \"status\": 500}]}");
    assert_int_equal(llmjudge_start_init(lj), 0);     /* retried after FAILED */
    run_until(lj, not_initializing, NULL);
    assert_int_equal(llmjudge_state(lj, err, sizeof err), JUDGE_READY);
    assert_int_equal(kind_count("probe"), 2);         /* the 500 was retried */
    llmjudge_free(lj);
    /* a hung endpoint: FAILED after init_timeout_ms, never blocking */
    control("{\"faults\": [{\"match\": \"models\", \"mode\": \"hang\", \"count\": -1}]}");
    cf.init_timeout_ms = 300;
    lj = llmjudge_new(&cf, NULL, err, sizeof err);
    assert_int_equal(llmjudge_start_init(lj), 0);
    run_until(lj, not_initializing, NULL);
    assert_int_equal(llmjudge_state(lj, err, sizeof err), JUDGE_FAILED);
    assert_true(err[0] != '\0');
    llmjudge_free(lj);
    control("{\"reset\": true}");
}

struct many {
    struct outcome o[40];
    int n_done;
};

static void on_many(void *arg, const judge_result *res)
{
    struct many *m = arg;

    m->n_done++;
    assert_int_equal(res->status, 0);
    assert_false(res->scores[0].is_null);
}

static void test_concurrency_bound(void **state)
{
    const char *m[] = { "faithfulness", NULL };
    struct many mm;
    llmjudge *lj;
    int submitted = 0, busy = 0;
    int64_t end;
    conf cf;
    row r;

    (void)state;
    control("{\"reset\": true}");
    base_conf(&cf, "openai");
    cf.max_concurrency = 4;
    lj = ready_judge(&cf, NULL);
    control("{\"reset\": true, \"delay_ms\": 30}");
    memset(&mm, 0, sizeof mm);
    memset(&r, 0, sizeof r);
    r.question = "What is Paris?";
    r.answer = (char *)paris_answer;
    r.contexts = (char **)paris_ctx;
    r.n_contexts = 2;
    r.metrics = (char **)m;
    r.n_metrics = 1;
    end = clock_mono_ms() + 20000;
    while (mm.n_done < 40 && clock_mono_ms() < end) {
        while (submitted < 40) {
            int rc = llmjudge_submit(lj, &r, on_many, &mm);

            if (rc == -EBUSY) {
                busy++;
                break;
            }
            assert_int_equal(rc, 0);
            submitted++;
        }
        assert_true(llmjudge_inflight(lj) <= 4);
        llmjudge_run(lj, 100);
    }
    assert_int_equal(mm.n_done, 40);
    assert_true(busy > 0);
    assert_int_equal(stat_int("max_in_flight"), 4);   /* reached, never exceeded */
    llmjudge_free(lj);
    control("{\"reset\": true}");
}

static void test_cache(void **state)
{
    const char *m[] = { "faithfulness", "semantic_similarity", NULL };
    char dir[64], path[96], err[256];
    struct outcome o;
    db *cache;
    llmjudge *lj;
    conf cf;
    double first;
    int before;

    (void)state;
    control("{\"reset\": true}");
    snprintf(dir, sizeof dir, "/tmp/ragrade-llm-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cache.db", dir);
    assert_non_null(cache = db_open(path, 1000, 0, err, sizeof err));
    base_conf(&cf, "openai");
    cf.cache = 1;
    lj = ready_judge(&cf, cache);
    eval_row(lj, "What is Paris?", paris_answer, "Paris.", paris_ctx, m, &o);
    first = o.s[0].score;
    assert_true(o.ptok > 0);
    outcome_clear(&o);
    before = stat_int("requests");
    eval_row(lj, "What is Paris?", paris_answer, "Paris.", paris_ctx, m, &o);
    assert_int_equal(stat_int("requests"), before);   /* all from the cache */
    CLOSE(o.s[0].score, first);
    assert_false(o.s[1].is_null);
    assert_int_equal(o.ptok, 0);
    assert_int_equal(o.ctok, 0);
    outcome_clear(&o);
    llmjudge_free(lj);
    cf.cache = 0;                             /* off: asks again */
    lj = ready_judge(&cf, cache);
    before = stat_int("requests");
    eval_row(lj, "What is Paris?", paris_answer, "Paris.", paris_ctx, m, &o);
    assert_int_equal(stat_int("requests"), before + 3);
    outcome_clear(&o);
    llmjudge_free(lj);
    db_close(cache);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

static int n_cancelled;

static void on_cancel(void *arg, const judge_result *res)
{
    (void)arg;
    assert_int_equal(res->status, -ECANCELED);
    n_cancelled++;
}

static void test_cancel_all(void **state)
{
    const char *m[] = { "correctness", NULL };
    llmjudge *lj;
    conf cf;
    row r;
    int i;

    (void)state;
    control("{\"reset\": true}");
    base_conf(&cf, "openai");
    lj = ready_judge(&cf, NULL);
    control("{\"faults\": [{\"mode\": \"hang\", \"count\": -1}]}");
    memset(&r, 0, sizeof r);
    r.question = "q";
    r.answer = "a";
    r.metrics = (char **)m;
    r.n_metrics = 1;
    n_cancelled = 0;
    assert_int_equal(llmjudge_submit(lj, &r, on_cancel, NULL), 0);
    assert_int_equal(llmjudge_submit(lj, &r, on_cancel, NULL), 0);
    for (i = 0; i < 3; i++)
        llmjudge_run(lj, 50);
    assert_int_equal(n_cancelled, 0);
    llmjudge_cancel_all(lj);
    assert_int_equal(n_cancelled, 2);
    assert_int_equal(llmjudge_inflight(lj), 0);
    llmjudge_free(lj);
    control("{\"reset\": true}");
}

/* The bodies byte for byte: the judge cache keys are their SHA-256, so a
 * change here silently empties every cache. */
static void test_wire_bodies(void **state)
{
    json_object *msgs = json_tokener_parse("[{\"role\":\"user\",\"content\":\"Say \\\"hi\\\" / bye\"}]");
    json_object *schema = json_tokener_parse("{\"type\":\"object\",\"required\":[\"ok\"]}");
    json_object *in = json_tokener_parse("[\"a\",\"b\"]");
    llmwire_chat_req req = { "m-1", msgs, "probe", schema, 0.0, 43 };
    char *b;

    (void)state;
    b = llmwire_chat_body(LLMWIRE_OPENAI, &req);
    assert_string_equal(b, "{\"model\":\"m-1\",\"messages\":[{\"role\":\"user\",\"content\":"
                        "\"Say \\\"hi\\\" / bye\"}],\"temperature\":0.0,\"seed\":43,"
                        "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
                        "{\"name\":\"probe\",\"schema\":{\"type\":\"object\",\"required\":"
                        "[\"ok\"]},\"strict\":true}}}");
    free(b);
    req.temperature = 0.5;
    b = llmwire_chat_body(LLMWIRE_OLLAMA, &req);
    assert_string_equal(b, "{\"model\":\"m-1\",\"messages\":[{\"role\":\"user\",\"content\":"
                        "\"Say \\\"hi\\\" / bye\"}],\"stream\":false,\"format\":"
                        "{\"type\":\"object\",\"required\":[\"ok\"]},\"options\":"
                        "{\"temperature\":0.5,\"seed\":43}}");
    free(b);
    b = llmwire_embed_body(LLMWIRE_OLLAMA, "e-1", in);
    assert_string_equal(b, "{\"model\":\"e-1\",\"input\":[\"a\",\"b\"]}");
    free(b);
    assert_string_equal(llmwire_path_chat(LLMWIRE_OPENAI), "/v1/chat/completions");
    assert_string_equal(llmwire_path_embed(LLMWIRE_OLLAMA), "/api/embed");
    assert_string_equal(llmwire_path_models(LLMWIRE_OLLAMA), "/api/tags");
    assert_int_equal(llmwire_api_of("ollama"), LLMWIRE_OLLAMA);
    assert_int_equal(llmwire_api_of("builtin"), -1);
    json_object_put(msgs);
    json_object_put(schema);
    json_object_put(in);
}

static void test_validate(void **state)
{
    json_object *v;
    char err[256];

    (void)state;
    assert_int_equal(prompts_validate(PROMPT_CORRECTNESS, "```json\n{\"score\": 4, \"reasoning\": "
                                      "\"ok\"}\n```", -1, &v, err, sizeof err), 0);
    json_object_put(v);
    assert_int_equal(prompts_validate(PROMPT_CORRECTNESS, "{\"score\": 7, \"reasoning\": \"x\"}",
                                      -1, &v, err, sizeof err), -EINVAL);
    assert_int_equal(prompts_validate(PROMPT_CORRECTNESS, "{\"score\": NaN, \"reasoning\": \"x\"}",
                                      -1, &v, err, sizeof err), -EINVAL);
    assert_int_equal(prompts_validate(PROMPT_CTX_PRECISION, "{\"reason\": \"x\", \"verdict\": 2}",
                                      -1, &v, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "verdict"));
    assert_int_equal(prompts_validate(PROMPT_QUESTION, "{\"question\": \"x\", \"noncommittal\": 0}"
                                      " trailing", -1, &v, err, sizeof err), -EINVAL);
    assert_int_equal(prompts_validate(PROMPT_NLI, "{\"statements\": [{\"statement\": \"s\", "
                                      "\"reason\": \"r\", \"verdict\": 1}]}", 2, &v, err,
                                      sizeof err), -EINVAL);
    assert_int_equal(prompts_validate(PROMPT_STATEMENTS, "{\"statements\": [1]}", -1, &v, err,
                                      sizeof err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_wire_bodies),
        cmocka_unit_test(test_init_states),
        cmocka_unit_test(test_faithfulness_openai),
        cmocka_unit_test(test_faithfulness_ollama),
        cmocka_unit_test(test_answer_relevancy),
        cmocka_unit_test(test_context_precision_recall),
        cmocka_unit_test(test_correctness_metrics),
        cmocka_unit_test(test_missing_inputs_and_builtins),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_permanent_4xx),
        cmocka_unit_test(test_repairs),
        cmocka_unit_test(test_hung_endpoint),
        cmocka_unit_test(test_concurrency_bound),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cancel_all),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, start_fake, stop_fake);
}
