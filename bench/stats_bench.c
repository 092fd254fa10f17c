/* stats_bench.c - the speed and the coverage of ragrade's statistics:
 *   - a summary with its interval over 1,000,000 scores (target < 1 s), and
 *     the slowest bootstrap case (10,000 scores);
 *   - a comparison of two runs of 100,000 items with 5 metrics (< 1 s), and
 *     the slowest permutation case (10,000 pairs);
 *   - coverage: over 1,000 simulated datasets with a known mean, how often
 *     the 95 % interval (bootstrap and normal) covers it (target 93-97 %
 *     from 50 scores; 20 is shown too: both intervals run a little short
 *     on so few skewed scores);
 *     and with a judge biased by +0.1, how often the prediction-powered
 *     interval covers the true mean, and how often the judge's own does.
 * Prints "RESULT key=value" lines for bench/run. Usage: stats_bench */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "agree.h"
#include "compare.h"
#include "stats.h"

#define DATASETS 1000

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Beta(2, 5) by the order statistic of uniforms: the 2nd smallest of 6. */
static double beta25(stats_rng *g)
{
    double u[6], t;
    int i, j;

    for (i = 0; i < 6; i++)
        u[i] = stats_rng_uniform(g);
    for (i = 0; i < 2; i++)
        for (j = i + 1; j < 6; j++)
            if (u[j] < u[i])
                t = u[i], u[i] = u[j], u[j] = t;
    return u[1];
}

static int bench_summary(stats_rng *g)
{
    size_t n = 1000000, i;
    double *x = malloc(n * sizeof *x), t;
    stats_summary s;

    if (!x)
        return -1;
    for (i = 0; i < n; i++)
        x[i] = beta25(g);
    t = now();
    stats_rng_seed(g, STATS_SEED);
    if (stats_summarize(x, n, g, &s) < 0)
        return -1;
    printf("RESULT summary_1m_s=%.4f method=%s mean=%.5f ci=[%.5f,%.5f]\n", now() - t,
           stats_method_name(s.method), s.mean, s.lo, s.hi);
    t = now();
    stats_rng_seed(g, STATS_SEED);
    if (stats_summarize(x, STATS_BOOT_MAX, g, &s) < 0)
        return -1;
    printf("RESULT summary_10k_bootstrap_s=%.4f\n", now() - t);
    free(x);
    return 0;
}

static int fill_runs(compare_run *b, compare_run *c, size_t n, size_t metrics, stats_rng *g)
{
    static const char *const names[] = { "faithfulness", "answer_relevancy", "context_precision",
                                         "context_recall", "token_f1" };
    char key[32];
    size_t i, m;

    compare_run_init(b, "baseline");
    compare_run_init(c, "candidate");
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof key, "item-%zu", (i * 7919) % n);   /* not in order */
        if (compare_run_add_row(b, key, NULL, (int64_t)i) < 0)
            return -1;
        snprintf(key, sizeof key, "item-%zu", i);
        if (compare_run_add_row(c, key, NULL, (int64_t)(n + i)) < 0)
            return -1;
        for (m = 0; m < metrics; m++)
            if (compare_run_set(b, i, names[m], beta25(g)) < 0 ||
                compare_run_set(c, i, names[m], beta25(g) - 0.01) < 0)
                return -1;
    }
    return 0;
}

static int bench_compare(stats_rng *g)
{
    compare_run b, c;
    compare_result res;
    compare_opts o;
    char err[128];
    double t;
    int rc = -1;

    compare_opts_default(&o);
    if (fill_runs(&b, &c, 100000, 5, g) < 0)
        goto out;
    t = now();
    if (compare_runs(&b, &c, &o, &res, err, sizeof err) < 0)
        goto out;
    printf("RESULT compare_100k_s=%.4f pairs=%zu metrics=%zu p=%s\n", now() - t, res.metric[0].pairs,
           res.n_metrics, stats_method_name(res.metric[0].st.p_method));
    compare_result_free(&res);
    compare_run_free(&b);
    compare_run_free(&c);
    if (fill_runs(&b, &c, STATS_PERM_MAX, 1, g) < 0)
        goto out;
    t = now();
    if (compare_runs(&b, &c, &o, &res, err, sizeof err) < 0)
        goto out;
    printf("RESULT compare_10k_permutation_s=%.4f p=%s\n", now() - t,
           stats_method_name(res.metric[0].st.p_method));
    compare_result_free(&res);
    rc = 0;
out:
    compare_run_free(&b);
    compare_run_free(&c);
    return rc;
}

/* 1,000 datasets of n scores from Beta(2, 5) (mean 2/7): the share of
 * 95 % intervals that cover the mean, by the bootstrap and the normal. */
static int coverage(stats_rng *g, size_t n)
{
    double *x = malloc(n * sizeof *x), mu = 2.0 / 7.0;
    size_t d, i, boot = 0, norm = 0;
    stats_rng bg;
    stats_summary s;

    if (!x)
        return -1;
    for (d = 0; d < DATASETS; d++) {
        for (i = 0; i < n; i++)
            x[i] = beta25(g);
        stats_rng_seed(&bg, STATS_SEED);
        if (stats_summarize(x, n, &bg, &s) < 0)
            return -1;
        boot += s.lo <= mu && mu <= s.hi;
        norm += fabs(s.mean - mu) <= STATS_Z975 * s.se;
    }
    printf("RESULT coverage_n%zu_bootstrap=%.3f coverage_n%zu_normal=%.3f\n", n,
           (double)boot / DATASETS, n, (double)norm / DATASETS);
    free(x);
    return 0;
}

/* A judge biased by +0.1 over N rows, n of them labelled at random: the
 * human score is Beta(2, 5); the judge says human + 0.1 + N(0, 0.1). */
static int ppi_coverage(stats_rng *g, size_t N, size_t n)
{
    double *all = malloc(N * sizeof *all), *hum = malloc(N * sizeof *hum);
    double *jl = malloc(n * sizeof *jl), *hl = malloc(n * sizeof *hl), mu = 2.0 / 7.0;
    size_t d, i, ppi = 0, own = 0;
    agree_ppi p;

    if (!all || !hum || !jl || !hl)
        return -1;
    for (d = 0; d < DATASETS; d++) {
        for (i = 0; i < N; i++) {
            hum[i] = beta25(g);
            all[i] = hum[i] + 0.1 + 0.1 * stats_rng_normal(g);
        }
        for (i = 0; i < n; i++) {     /* a uniform draw without replacement */
            size_t k = i + stats_rng_below(g, N - i);
            double t = all[i];

            all[i] = all[k], all[k] = t;
            t = hum[i], hum[i] = hum[k], hum[k] = t;
            jl[i] = all[i];
            hl[i] = hum[i];
        }
        agree_ppi_mean(all, N, jl, hl, n, &p);
        ppi += p.lo <= mu && mu <= p.hi;
        own += p.judge_lo <= mu && mu <= p.judge_hi;
    }
    printf("RESULT ppi_coverage=%.3f judge_own_coverage=%.3f (N=%zu, %zu labels, bias +0.1)\n",
           (double)ppi / DATASETS, (double)own / DATASETS, N, n);
    free(all);
    free(hum);
    free(jl);
    free(hl);
    return 0;
}

int main(void)
{
    stats_rng g;

    stats_rng_seed(&g, 20261203);
    if (bench_summary(&g) < 0 || bench_compare(&g) < 0 || coverage(&g, 20) < 0 || coverage(&g, 50) < 0 ||
        coverage(&g, 200) < 0 || ppi_coverage(&g, 2000, 200) < 0) {
        fprintf(stderr, "stats_bench: out of memory\n");
        return 1;
    }
    return 0;
}
