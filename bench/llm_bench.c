/* llm_bench.c - throughput of the LLM judge: faithfulness (two calls per
 * row) on N rows against t/lib/fakellm.py answering after a fixed delay,
 * driven the way the scheduler drives it (submit up to max_concurrency,
 * then llmjudge_run). The ceiling is max_concurrency / (2 x delay) rows/s;
 * the target is 90% of it.
 *
 * usage: llm_bench [ROWS [CONCURRENCY [DELAY_MS]]]   (RAGRADE_SRCDIR: tree) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "conf.h"
#include "llm.h"
#include "llmjudge.h"

struct tally {
    int done, failed;
};

static void on_done(void *arg, const judge_result *res)
{
    struct tally *t = arg;

    t->done++;
    if (res->status != 0 || res->n_scores != 1 || res->scores[0].is_null)
        t->failed++;
}

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static int control(const char *base, const char *body)
{
    char url[128];
    CURL *c = curl_easy_init();
    int rc;

    snprintf(url, sizeof url, "%s/_control", base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    rc = curl_easy_perform(c) == CURLE_OK ? 0 : -EIO;
    curl_easy_cleanup(c);
    return rc;
}

int main(int argc, char **argv)
{
    int rows = argc > 1 ? atoi(argv[1]) : 2000, conc = argc > 2 ? atoi(argv[2]) : 32;
    int delay = argc > 3 ? atoi(argv[3]) : 50, submitted = 0, in[2], out[2], rc = 1;
    const char *src = getenv("RAGRADE_SRCDIR");
    static const char *ctx[] = { "Paris is the capital of France.", NULL };
    static const char *metric[] = { "faithfulness", NULL };
    char path[1024], buf[64], base[64], body[64], err[256];
    struct tally t = { 0, 0 };
    llmjudge *lj = NULL;
    int64_t t0, t1;
    double rate, ceiling;
    ssize_t n;
    pid_t pid;
    conf cf;
    row r;

    snprintf(path, sizeof path, "%s/t/lib/fakellm.py", src ? src : ".");
    if (pipe(in) < 0 || pipe(out) < 0)
        return 1;
    if ((pid = fork()) == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl("/usr/bin/python3", "python3", path, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if ((n = read(out[0], buf, sizeof buf - 1)) <= 0)
        goto out;
    buf[n] = '\0';
    snprintf(base, sizeof base, "http://127.0.0.1:%d", atoi(buf));
    curl_global_init(CURL_GLOBAL_DEFAULT);

    conf_defaults(&cf);
    snprintf(cf.backend, sizeof cf.backend, "openai");
    snprintf(cf.urls[0], sizeof cf.urls[0], "%s", base);
    cf.n_urls = 1;
    snprintf(cf.model, sizeof cf.model, "judge-model");
    cf.max_concurrency = conc;
    cf.cache = 0;
    if (!(lj = llmjudge_new(&cf, NULL, err, sizeof err)) || llmjudge_start_init(lj) < 0)
        goto out;
    while (llmjudge_state(lj, NULL, 0) == JUDGE_INITIALIZING)
        llmjudge_run(lj, 100);
    if (llmjudge_state(lj, err, sizeof err) != JUDGE_READY) {
        fprintf(stderr, "llm_bench: judge not ready: %s\n", err);
        goto out;
    }
    snprintf(body, sizeof body, "{\"reset\": true, \"delay_ms\": %d}", delay);
    if (control(base, body) < 0)
        goto out;
    memset(&r, 0, sizeof r);
    r.question = "What is Paris?";
    r.answer = "Paris is the capital of France. Paris has ten million cats.";
    r.contexts = (char **)ctx;
    r.n_contexts = 1;
    r.metrics = (char **)metric;
    r.n_metrics = 1;
    t0 = clock_mono_ms();
    while (t.done < rows) {
        while (submitted < rows && llmjudge_submit(lj, &r, on_done, &t) == 0)
            submitted++;
        llmjudge_run(lj, 1000);
    }
    t1 = clock_mono_ms();
    rate = rows * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1);
    ceiling = conc / (2.0 * delay / 1000.0);
    printf("llm_bench: faithfulness, %d rows, max_concurrency %d, fake delay %d ms: "
           "%.1f rows/s in %.2f s (%.0f%% of the %.0f rows/s ceiling; target 90%%), %d failed\n",
           rows, conc, delay, rate, (t1 - t0) / 1000.0, 100.0 * rate / ceiling, ceiling, t.failed);
    rc = rate >= 0.9 * ceiling && t.failed == 0 ? 0 : 1;
out:
    llmjudge_free(lj);
    close(in[1]);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return rc;
}
