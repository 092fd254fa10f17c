/* stats.h - the statistics behind every mean ragrade shows: a seeded PRNG,
 * the mean with its standard error and 95 % interval (bootstrap up to
 * STATS_BOOT_MAX values, normal above), the paired comparison of two runs
 * (delta, its interval, a sign-flip permutation p-value), Holm's adjustment
 * and the verdict. Pure functions: no I/O, no global state; the only
 * randomness comes from a stats_rng the caller owns and seeds. */
#ifndef RAGRADE_STATS_H
#define RAGRADE_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_SEED 0x7261677261646531ULL  /* the fixed seed: same data, same interval */
#define STATS_BOOT_MAX 10000              /* bootstrap up to this many values, normal above */
#define STATS_BOOT_RESAMPLES 2000
#define STATS_EXACT_BELOW 20              /* exact sign-flip enumeration below this many pairs */
#define STATS_PERM_MAX 10000              /* random sign flips up to this many pairs, normal above */
#define STATS_PERM_FLIPS 10000
#define STATS_Z975 1.959963984540054      /* the normal 97.5 % quantile */

/* xoshiro256** seeded through splitmix64. Owned by the caller; seed it
 * before each computation that must be reproducible. */
typedef struct stats_rng {
    uint64_t s[4];
} stats_rng;

void stats_rng_seed(stats_rng *g, uint64_t seed);
uint64_t stats_rng_next(stats_rng *g);
double stats_rng_uniform(stats_rng *g);            /* in [0, 1) */
size_t stats_rng_below(stats_rng *g, size_t n);    /* in [0, n), n > 0 */
double stats_rng_normal(stats_rng *g);             /* standard normal (Box-Muller) */

/* How an interval or a p-value was computed. */
enum stats_method {
    STATS_NONE = 0,         /* not computed: too few values */
    STATS_BOOTSTRAP,        /* percentile bootstrap, STATS_BOOT_RESAMPLES resamples */
    STATS_NORMAL,           /* normal approximation */
    STATS_EXACT,            /* every sign flip enumerated */
    STATS_PERMUTATION,      /* STATS_PERM_FLIPS random sign flips */
};
const char *stats_method_name(int method);  /* "bootstrap", "normal", ... or "none" */

/* A mean and its uncertainty. Fields are NaN where undefined (n = 0; se and
 * the interval for n = 1). */
typedef struct stats_summary {
    size_t n;
    double mean;
    double sd;              /* sample standard deviation (n - 1) */
    double se;              /* sd / sqrt(n) */
    double lo, hi;          /* 95 % interval of the mean */
    int method;             /* STATS_BOOTSTRAP, STATS_NORMAL or STATS_NONE */
} stats_summary;

/* Mean, standard error and 95 % interval of x[0..n) (no NaN: the caller
 * leaves null scores out). The bootstrap (n <=
 * STATS_BOOT_MAX) draws from g; seed it with STATS_SEED first for the
 * documented, reproducible interval. 0, or -ENOMEM. */
int stats_summarize(const double *x, size_t n, stats_rng *g, stats_summary *out);

/* The normal interval of the mean of n values from their sum and sum of
 * squares (the aggregates keep both); STATS_NONE below 2 values. For more
 * than STATS_BOOT_MAX values, where stats_summarize is normal too. */
void stats_summarize_moments(size_t n, double sum, double sum2, stats_summary *out);

/* Mean and sample standard deviation only (two-pass); NaN where undefined. */
void stats_mean_sd(const double *x, size_t n, double *mean, double *sd);

/* The paired comparison of candidate with baseline over n pairs. */
typedef struct stats_paired {
    size_t n;
    double base_mean, cand_mean;
    double delta;           /* mean of cand[i] - base[i] */
    double se;              /* standard error of delta */
    double lo, hi;          /* 95 % interval of delta */
    double p;               /* two-sided sign-flip permutation p-value */
    int ci_method;          /* STATS_BOOTSTRAP (paired) or STATS_NORMAL */
    int p_method;           /* STATS_EXACT, STATS_PERMUTATION or STATS_NORMAL */
} stats_paired;

/* Compare cand with base pair by pair. The statistic of the test is
 * |sum of the differences|; the p-value counts the sign flips whose
 * statistic is at least the observed one (the observed included, so p > 0;
 * identical runs give p = 1). g feeds the bootstrap and the random flips:
 * seed it with STATS_SEED first. 0, or -ENOMEM. */
int stats_paired_compare(const double *base, const double *cand, size_t n, stats_rng *g,
                         stats_paired *out);

/* Two-sided p-value of the sign-flip test on differences d[0..n), by the
 * method stats_paired_compare would pick; NaN for n = 0 or out of memory. */
double stats_signflip_p(const double *d, size_t n, stats_rng *g, int *method);

/* Holm's step-down adjustment of m p-values into adj (may alias p). NaN
 * entries are left NaN and do not count in m. 0, or -ENOMEM. */
int stats_holm(const double *p, size_t m, double *adj);

enum stats_verdict { STATS_NO_DIFFERENCE = 0, STATS_BETTER, STATS_WORSE };

/* better / worse when p_holm < alpha and |delta| > min_delta, else
 * no_difference (also when either is NaN). */
int stats_verdict(double delta, double p_holm, double alpha, double min_delta);
const char *stats_verdict_name(int verdict);  /* "better", "worse", "no_difference" */

/* The type-7 (linear) quantile q of sorted[0..n), n > 0. */
double stats_quantile_sorted(const double *sorted, size_t n, double q);

#endif
