/* agree.c - judge-versus-human agreement and the prediction-powered mean
 * (see agree.h). Pure: nothing kept between calls. */
#include "agree.h"
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void agree_kappa(const double *judge, const double *human, size_t n, agree_binary *out)
{
    double p[2][2], pj[2], ph[2], po, pe, a = 0, b = 0, c, var, N = (double)n;
    size_t i;
    int x, y;

    memset(out, 0, sizeof *out);
    out->n = n;
    out->accuracy = out->kappa = out->se = out->lo = out->hi = NAN;
    for (i = 0; i < n; i++)
        out->matrix[judge[i] >= 0.5][human[i] >= 0.5]++;
    if (n == 0)
        return;
    for (x = 0; x < 2; x++)
        for (y = 0; y < 2; y++)
            p[x][y] = (double)out->matrix[x][y] / N;
    for (x = 0; x < 2; x++) {
        pj[x] = p[x][0] + p[x][1];
        ph[x] = p[0][x] + p[1][x];
    }
    po = p[0][0] + p[1][1];
    pe = pj[0] * ph[0] + pj[1] * ph[1];
    out->accuracy = po;
    if (pe >= 1.0)
        return;
    out->kappa = (po - pe) / (1.0 - pe);
    /* Fleiss, Cohen & Everitt (1969), the large-sample variance of kappa. */
    for (x = 0; x < 2; x++) {
        double t = (1.0 - pe) - (pj[x] + ph[x]) * (1.0 - po);

        a += p[x][x] * t * t;
    }
    for (x = 0; x < 2; x++)
        for (y = 0; y < 2; y++)
            if (x != y)
                b += p[x][y] * (ph[x] + pj[y]) * (ph[x] + pj[y]);
    b *= (1.0 - po) * (1.0 - po);
    c = po * pe - 2.0 * pe + po;
    var = (a + b - c * c) / (N * pow(1.0 - pe, 4));
    out->se = sqrt(var > 0 ? var : 0);
    out->lo = fmax(-1.0, out->kappa - STATS_Z975 * out->se);
    out->hi = fmin(1.0, out->kappa + STATS_Z975 * out->se);
}

struct idx {
    double v;
    size_t i;
};

static int cmp_idx(const void *a, const void *b)
{
    const struct idx *x = a, *y = b;

    return (x->v > y->v) - (x->v < y->v);
}

int agree_ranks(const double *x, size_t n, double *rank)
{
    struct idx *s = malloc((n ? n : 1) * sizeof *s);
    size_t i, j, k;

    if (!s)
        return -ENOMEM;
    for (i = 0; i < n; i++)
        s[i].v = x[i], s[i].i = i;
    qsort(s, n, sizeof *s, cmp_idx);
    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && s[j].v == s[i].v; j++)
            ;
        for (k = i; k < j; k++)    /* positions i+1 .. j share their mean */
            rank[s[k].i] = (double)(i + 1 + j) / 2.0;
    }
    free(s);
    return 0;
}

static double pearson(const double *x, const double *y, size_t n)
{
    double mx, my, sx, sy, sxy = 0, vx = 0, vy = 0;
    size_t i;

    stats_mean_sd(x, n, &mx, &sx);
    stats_mean_sd(y, n, &my, &sy);
    for (i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        vx += (x[i] - mx) * (x[i] - mx);
        vy += (y[i] - my) * (y[i] - my);
    }
    if (vx == 0 || vy == 0)
        return NAN;
    return sxy / sqrt(vx * vy);
}

/* tau-b = (C - D) / sqrt((n0 - n1)(n0 - n2)), n1 and n2 the pairs tied in
 * each rater; pairs tied in both count in n1 and n2 but not in C or D. */
static double kendall_tau_b(const double *x, const double *y, size_t n)
{
    double cd = 0, tx = 0, ty = 0, n0 = (double)n * (double)(n - 1) / 2.0, den;
    size_t i, j;

    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++) {
            double dx = x[i] - x[j], dy = y[i] - y[j];

            if (dx == 0)
                tx++;
            if (dy == 0)
                ty++;
            if (dx != 0 && dy != 0)
                cd += (dx > 0) == (dy > 0) ? 1 : -1;
        }
    den = sqrt((n0 - tx) * (n0 - ty));
    return den > 0 ? cd / den : NAN;
}

int agree_scale_compute(const double *judge, const double *human, size_t n, agree_scale *out)
{
    double *rj = NULL, *rh = NULL, s = 0;
    size_t i;
    int rc = -ENOMEM;

    memset(out, 0, sizeof *out);
    out->n = n;
    out->spearman = out->kendall = out->mae = NAN;
    for (i = 0; i < n; i++)
        s += fabs(judge[i] - human[i]);
    if (n)
        out->mae = s / (double)n;
    if (n < 2) {
        rc = 0;
        goto out;
    }
    if (!(rj = malloc(n * sizeof *rj)) || !(rh = malloc(n * sizeof *rh)))
        goto out;
    if ((rc = agree_ranks(judge, n, rj)) < 0 || (rc = agree_ranks(human, n, rh)) < 0)
        goto out;
    out->spearman = pearson(rj, rh, n);
    out->kendall = kendall_tau_b(judge, human, n);
    rc = 0;
out:
    free(rj);
    free(rh);
    return rc;
}

void agree_ppi_mean(const double *judge_all, size_t n_all, const double *judge_lab,
                    const double *human_lab, size_t n_lab, agree_ppi *out)
{
    double sd_all, m = 0, ss = 0, d;
    size_t i;

    memset(out, 0, sizeof *out);
    out->n_all = n_all;
    out->n_labelled = n_lab;
    out->judge_lo = out->judge_hi = out->rectifier = out->estimate = NAN;
    out->se = out->lo = out->hi = NAN;
    stats_mean_sd(judge_all, n_all, &out->judge_mean, &sd_all);
    if (n_all >= 2) {
        out->judge_lo = out->judge_mean - STATS_Z975 * sd_all / sqrt((double)n_all);
        out->judge_hi = out->judge_mean + STATS_Z975 * sd_all / sqrt((double)n_all);
    }
    if (n_lab < 2 || n_all < 2)
        return;
    for (i = 0; i < n_lab; i++)
        m += judge_lab[i] - human_lab[i];
    m /= (double)n_lab;
    for (i = 0; i < n_lab; i++) {
        d = judge_lab[i] - human_lab[i] - m;
        ss += d * d;
    }
    out->rectifier = m;
    out->estimate = out->judge_mean - m;
    out->se = sqrt(sd_all * sd_all / (double)n_all + ss / (double)(n_lab - 1) / (double)n_lab);
    out->lo = out->estimate - STATS_Z975 * out->se;
    out->hi = out->estimate + STATS_Z975 * out->se;
}
