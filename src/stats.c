/* stats.c - means with intervals, the paired comparison of two runs, Holm's
 * adjustment and the verdict (see stats.h). Pure: every allocation is freed
 * before return and the randomness comes from the caller's stats_rng. */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void stats_rng_seed(stats_rng *g, uint64_t seed)
{
    int i;

    for (i = 0; i < 4; i++)
        g->s[i] = splitmix64(&seed);
}

uint64_t stats_rng_next(stats_rng *g)
{
    uint64_t *s = g->s, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

double stats_rng_uniform(stats_rng *g)
{
    return (double)(stats_rng_next(g) >> 11) * 0x1.0p-53;
}

/* Lemire's multiply-shift; the bias (n / 2^64) is far below what a
 * bootstrap could show. */
size_t stats_rng_below(stats_rng *g, size_t n)
{
    return (size_t)(((unsigned __int128)stats_rng_next(g) * n) >> 64);
}

double stats_rng_normal(stats_rng *g)
{
    double u = 1.0 - stats_rng_uniform(g), v = stats_rng_uniform(g);

    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

const char *stats_method_name(int method)
{
    switch (method) {
    case STATS_BOOTSTRAP: return "bootstrap";
    case STATS_NORMAL: return "normal";
    case STATS_EXACT: return "exact";
    case STATS_PERMUTATION: return "permutation";
    default: return "none";
    }
}

void stats_mean_sd(const double *x, size_t n, double *mean, double *sd)
{
    double s = 0, ss = 0, m;
    size_t i;

    *mean = *sd = NAN;
    if (n == 0)
        return;
    for (i = 0; i < n; i++)
        s += x[i];
    m = s / (double)n;
    *mean = m;
    if (n < 2)
        return;
    for (i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    *sd = sqrt(ss / (double)(n - 1));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double stats_quantile_sorted(const double *sorted, size_t n, double q)
{
    double h = q * (double)(n - 1), f = floor(h);
    size_t k = (size_t)f;

    if (k + 1 >= n)
        return sorted[n - 1];
    return sorted[k] + (h - f) * (sorted[k + 1] - sorted[k]);
}

/* Percentile bootstrap interval of the mean of x[0..n). */
static int bootstrap(const double *x, size_t n, stats_rng *g, double *lo, double *hi)
{
    double *means = malloc(STATS_BOOT_RESAMPLES * sizeof *means), s;
    size_t b, i;

    if (!means)
        return -ENOMEM;
    for (b = 0; b < STATS_BOOT_RESAMPLES; b++) {
        s = 0;
        for (i = 0; i < n; i++)
            s += x[stats_rng_below(g, n)];
        means[b] = s / (double)n;
    }
    qsort(means, STATS_BOOT_RESAMPLES, sizeof *means, cmp_double);
    *lo = stats_quantile_sorted(means, STATS_BOOT_RESAMPLES, 0.025);
    *hi = stats_quantile_sorted(means, STATS_BOOT_RESAMPLES, 0.975);
    free(means);
    return 0;
}

int stats_summarize(const double *x, size_t n, stats_rng *g, stats_summary *out)
{
    int rc = 0;

    memset(out, 0, sizeof *out);
    out->n = n;
    stats_mean_sd(x, n, &out->mean, &out->sd);
    out->se = n >= 2 ? out->sd / sqrt((double)n) : NAN;
    out->lo = out->hi = NAN;
    out->method = STATS_NONE;
    if (n < 2)
        goto out;
    if (n <= STATS_BOOT_MAX) {
        if ((rc = bootstrap(x, n, g, &out->lo, &out->hi)) < 0)
            goto out;
        out->method = STATS_BOOTSTRAP;
    } else {
        out->lo = out->mean - STATS_Z975 * out->se;
        out->hi = out->mean + STATS_Z975 * out->se;
        out->method = STATS_NORMAL;
    }
out:
    return rc;
}

void stats_summarize_moments(size_t n, double sum, double sum2, stats_summary *out)
{
    double var;

    memset(out, 0, sizeof *out);
    out->n = n;
    out->mean = n ? sum / (double)n : NAN;
    out->sd = out->se = out->lo = out->hi = NAN;
    out->method = STATS_NONE;
    if (n < 2)
        return;
    var = (sum2 - sum * out->mean) / (double)(n - 1);
    out->sd = sqrt(var > 0 ? var : 0);
    out->se = out->sd / sqrt((double)n);
    out->lo = out->mean - STATS_Z975 * out->se;
    out->hi = out->mean + STATS_Z975 * out->se;
    out->method = STATS_NORMAL;
}

/* Ties between sign flips are judged with this slack, relative to sum |d|,
 * so that rounding in the sums does not split equal statistics. */
#define TIE_SLACK 1e-9

static double exact_p(const double *d, size_t n, double obs, double slack)
{
    uint32_t mask, total = 1u << n, hits = 0;
    size_t i;
    double s;

    for (mask = 0; mask < total; mask++) {
        s = 0;
        for (i = 0; i < n; i++)
            s += (mask >> i) & 1 ? -d[i] : d[i];
        if (fabs(s) >= obs - slack)
            hits++;
    }
    return (double)hits / (double)total;
}

/* Random sign flips, 8 pairs at a time: for each group of 8 differences a
 * table of its 256 flipped sums, so that one flip costs n / 8 lookups. */
static double random_p(const double *d, size_t n, double obs, double slack, stats_rng *g)
{
    size_t groups = (n + 7) / 8, b, k, m, hits = 0;
    double *t = malloc(groups * 256 * sizeof *t), s;
    uint64_t bits = 0;

    if (!t)
        return NAN;
    for (k = 0; k < groups; k++) {
        double *tk = t + k * 256;

        tk[0] = 0;
        for (m = 0; m < 8 && k * 8 + m < n; m++)
            tk[0] += d[k * 8 + m];
        for (m = 1; m < 256; m++) {     /* clear the lowest set bit, flip that pair */
            size_t low = (size_t)__builtin_ctz((unsigned)m);

            tk[m] = tk[m & (m - 1)] - (k * 8 + low < n ? 2 * d[k * 8 + low] : 0);
        }
    }
    for (b = 0; b < STATS_PERM_FLIPS; b++) {
        s = 0;
        for (k = 0; k < groups; k++) {
            if (k % 8 == 0)
                bits = stats_rng_next(g);
            s += t[k * 256 + (bits & 255)];
            bits >>= 8;
        }
        if (fabs(s) >= obs - slack)
            hits++;
    }
    free(t);
    return (double)(hits + 1) / (double)(STATS_PERM_FLIPS + 1);
}

double stats_signflip_p(const double *d, size_t n, stats_rng *g, int *method)
{
    double obs = 0, abs_sum = 0, ss = 0, slack;
    size_t i;

    *method = STATS_NONE;
    if (n == 0)
        return NAN;
    for (i = 0; i < n; i++) {
        obs += d[i];
        abs_sum += fabs(d[i]);
        ss += d[i] * d[i];
    }
    obs = fabs(obs);
    slack = TIE_SLACK * abs_sum;
    if (n < STATS_EXACT_BELOW) {
        *method = STATS_EXACT;
        return exact_p(d, n, obs, slack);
    }
    if (n <= STATS_PERM_MAX) {
        *method = STATS_PERMUTATION;
        return random_p(d, n, obs, slack, g);
    }
    /* Under the null the flipped sum has mean 0 and variance sum d^2. */
    *method = STATS_NORMAL;
    if (ss == 0 || obs <= slack)
        return 1.0;
    return erfc(obs / sqrt(ss) / M_SQRT2);
}

int stats_paired_compare(const double *base, const double *cand, size_t n, stats_rng *g,
                         stats_paired *out)
{
    stats_summary sd;
    double *d = NULL, sd_unused;
    size_t i;
    int rc = -ENOMEM;

    memset(out, 0, sizeof *out);
    out->n = n;
    out->base_mean = out->cand_mean = out->delta = out->se = out->lo = out->hi = out->p = NAN;
    if (n == 0) {
        rc = 0;
        goto out;
    }
    if (!(d = malloc(n * sizeof *d)))
        goto out;
    for (i = 0; i < n; i++)
        d[i] = cand[i] - base[i];
    stats_mean_sd(base, n, &out->base_mean, &sd_unused);
    stats_mean_sd(cand, n, &out->cand_mean, &sd_unused);
    if ((rc = stats_summarize(d, n, g, &sd)) < 0)
        goto out;
    out->delta = sd.mean;
    out->se = sd.se;
    out->lo = sd.lo;
    out->hi = sd.hi;
    out->ci_method = sd.method;
    out->p = stats_signflip_p(d, n, g, &out->p_method);
    rc = isnan(out->p) ? -ENOMEM : 0;
out:
    free(d);
    return rc;
}

struct ranked {
    double p;
    size_t i;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;

    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int stats_holm(const double *p, size_t m, double *adj)
{
    struct ranked *r = malloc((m ? m : 1) * sizeof *r);
    size_t i, k = 0;
    double run = 0, v;

    if (!r)
        return -ENOMEM;
    for (i = 0; i < m; i++)
        if (!isnan(p[i]))
            r[k].p = p[i], r[k++].i = i;
    for (i = 0; i < m; i++)
        adj[i] = NAN;
    qsort(r, k, sizeof *r, cmp_ranked);
    for (i = 0; i < k; i++) {
        v = (double)(k - i) * r[i].p;
        if (v > 1)
            v = 1;
        if (v > run)
            run = v;
        adj[r[i].i] = run;
    }
    free(r);
    return 0;
}

int stats_verdict(double delta, double p_holm, double alpha, double min_delta)
{
    if (isnan(delta) || isnan(p_holm) || !(p_holm < alpha) || !(fabs(delta) > min_delta))
        return STATS_NO_DIFFERENCE;
    return delta > 0 ? STATS_BETTER : STATS_WORSE;
}

const char *stats_verdict_name(int verdict)
{
    return verdict == STATS_BETTER ? "better" : verdict == STATS_WORSE ? "worse" : "no_difference";
}
