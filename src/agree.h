/* agree.h - how far a judge agrees with people, and the judge's mean
 * corrected by human labels: Cohen's kappa with its confusion matrix for
 * binary metrics, Spearman's rho, Kendall's tau-b and the mean absolute
 * error for scores, and the prediction-powered estimate of a mean
 * (Angelopoulos et al., 2023). Pure functions, like stats.h. */
#ifndef RAGRADE_AGREE_H
#define RAGRADE_AGREE_H

#include <stddef.h>

/* Binary agreement. Values are read as 1 when >= 0.5, else 0. Undefined
 * figures (kappa when both raters always give the same single value) are
 * NaN. */
typedef struct agree_binary {
    size_t n;
    size_t matrix[2][2];    /* [judge][human]: matrix[1][0] = judge 1, human 0 */
    double accuracy;        /* observed agreement p_o */
    double kappa;           /* (p_o - p_e) / (1 - p_e) */
    double se;              /* asymptotic SE (Fleiss, Cohen & Everitt 1969) */
    double lo, hi;          /* kappa -/+ 1.96 se, clipped to [-1, 1] */
} agree_binary;

void agree_kappa(const double *judge, const double *human, size_t n, agree_binary *out);

/* Agreement on a scale: rank correlations and the mean absolute error.
 * Figures are NaN when undefined (n < 2, or a constant rater). */
typedef struct agree_scale {
    size_t n;
    double spearman;        /* Pearson correlation of the average ranks */
    double kendall;         /* tau-b, ties in either rater accounted for */
    double mae;             /* mean |judge - human| */
} agree_scale;

/* 0, or -ENOMEM. Kendall's tau is O(n^2): meant for human-labelled sets
 * (hundreds to a few thousand pairs). */
int agree_scale_compute(const double *judge, const double *human, size_t n, agree_scale *out);

/* Average ranks (1-based; ties share the mean of their positions) of
 * x[0..n) into rank. 0, or -ENOMEM. */
int agree_ranks(const double *x, size_t n, double *rank);

/* The summary and the comparison show the corrected mean from this many
 * randomly sampled labels on (issue 18). */
#define AGREE_PPI_MIN_LABELS 30

/* Prediction-powered estimate of the mean of the human scale. */
typedef struct agree_ppi {
    size_t n_all, n_labelled;
    double judge_mean;      /* the judge's mean over all rows */
    double judge_lo, judge_hi;  /* its own normal 95 % interval */
    double rectifier;       /* mean of judge - human over the labelled rows */
    double estimate;        /* judge_mean - rectifier */
    double se;              /* sqrt(var(judge)/n_all + var(judge - human)/n_labelled) */
    double lo, hi;          /* estimate -/+ 1.96 se */
} agree_ppi;

/* judge_all[0..n_all): the judge's score on every row; judge_lab and
 * human_lab[0..n_lab): judge and human on the rows labelled after a uniform
 * random draw (rows labelled on purpose must be left out). NaN where
 * undefined (n_lab < 2 or n_all < 2). */
void agree_ppi_mean(const double *judge_all, size_t n_all, const double *judge_lab,
                    const double *human_lab, size_t n_lab, agree_ppi *out);

#endif
