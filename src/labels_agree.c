/* labels_agree.c - the figures over the labels: how far the judge agrees
 * with people (agree.h over the judge-human pairs, overall and per judge
 * profile and criterion version) and the judge's mean corrected by the
 * labels of a uniform random sample (prediction-powered inference). */
#include "agree.h"
#include "labels_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static json_object *num(double v)
{
    return isfinite(v) ? json_object_new_double(v) : NULL;
}

static json_object *interval(double lo, double hi)
{
    json_object *a;

    if (!isfinite(lo) || !isfinite(hi))
        return NULL;
    a = json_object_new_array_ext(2);
    json_object_array_add(a, json_object_new_double(lo));
    json_object_array_add(a, json_object_new_double(hi));
    return a;
}

/* The figures of n pairs into o, by the metric's kind. */
static int figures(json_object *o, enum labels_kind kind, const double *jv, const double *hv,
                   size_t n)
{
    json_object *m, *line;
    agree_binary b;
    agree_scale s;
    int rc = 0, i, j;

    json_object_object_add(o, "pairs", json_object_new_int64((int64_t)n));
    if (kind == LABELS_BINARY) {
        agree_kappa(jv, hv, n, &b);
        json_object_object_add(o, "accuracy", n ? num(b.accuracy) : NULL);
        json_object_object_add(o, "kappa", n ? num(b.kappa) : NULL);
        json_object_object_add(o, "kappa_se", n ? num(b.se) : NULL);
        json_object_object_add(o, "kappa_ci95", n ? interval(b.lo, b.hi) : NULL);
        /* confusion[judge][human], 0 then 1 */
        m = json_object_new_array_ext(2);
        for (i = 0; i < 2; i++) {
            line = json_object_new_array_ext(2);
            for (j = 0; j < 2; j++)
                json_object_array_add(line, json_object_new_int64(n ? (int64_t)b.matrix[i][j] : 0));
            json_object_array_add(m, line);
        }
        json_object_object_add(o, "confusion", m);
    } else {
        if ((rc = agree_scale_compute(jv, hv, n, &s)) < 0)
            goto out;
        json_object_object_add(o, "spearman", num(s.spearman));
        json_object_object_add(o, "kendall", num(s.kendall));
        json_object_object_add(o, "mae", n ? num(s.mae) : NULL);
    }
out:
    return rc;
}

/* Figures per group (judge profile, criterion version), groups in order
 * of first appearance. */
static int groups_json(const labels_pairs *p, enum labels_kind kind, json_object *arr)
{
    double *j = malloc((p->n ? p->n : 1) * sizeof *j), *h = malloc((p->n ? p->n : 1) * sizeof *h);
    size_t a, b, k;
    int rc = -ENOMEM, seen;

    if (!j || !h)
        goto out;
    for (a = 0; a < p->n; a++) {
        for (seen = 0, b = 0; b < a && !seen; b++)
            seen = !strcmp(p->group[a], p->group[b]);
        if (seen)
            continue;
        for (k = 0, b = a; b < p->n; b++) {
            if (!strcmp(p->group[a], p->group[b])) {
                j[k] = p->judge[b];
                h[k++] = p->human[b];
            }
        }
        json_object *g = json_object_new_object();
        const char *sp = strchr(p->group[a], ' ');

        json_object_object_add(g, "judge", sp ? json_object_new_string_len(p->group[a], (int)(sp - p->group[a]))
                                              : json_object_new_string(p->group[a]));
        json_object_object_add(g, "version", sp ? json_object_new_string(sp + 1) : NULL);
        json_object_array_add(arr, g);
        if ((rc = figures(g, kind, j, h, k)) < 0)
            goto out;
    }
    rc = 0;
out:
    free(j);
    free(h);
    return rc;
}

int labels_agreement_json(db *d, const labels_filter *f, json_object **out)
{
    labels_pairs p = { 0 };
    labels_scale sc;
    json_object *o = NULL, *groups, *corr = NULL;
    size_t i, sampled = 0;
    int rc;

    *out = NULL;
    if ((rc = labels_scale_of(f->metric, &sc)) < 0)
        goto out;
    if ((rc = labels_pairs_get(d, f, &p)) < 0)
        goto out;
    o = json_object_new_object();
    json_object_object_add(o, "dataset", f->dataset ? json_object_new_string(f->dataset) : NULL);
    json_object_object_add(o, "run", f->run ? json_object_new_string(f->run) : NULL);
    json_object_object_add(o, "metric", json_object_new_string(f->metric));
    json_object_object_add(o, "scale", json_object_new_string(labels_kind_name(sc.kind)));
    if ((rc = figures(o, sc.kind, p.judge, p.human, p.n)) < 0)
        goto out;
    for (i = 0; i < p.n; i++)
        sampled += p.sampled[i] != 0;
    json_object_object_add(o, "sampled_pairs", json_object_new_int64((int64_t)sampled));
    groups = json_object_new_array();
    json_object_object_add(o, "groups", groups);
    if ((rc = groups_json(&p, sc.kind, groups)) < 0 || (rc = labels_corrected_json(d, f, &corr)) < 0)
        goto out;
    json_object_object_add(o, "corrected", corr);
    *out = o;
    o = NULL;
out:
    labels_pairs_free(&p);
    json_object_put(o);
    return rc;
}

/* Append the first column of every row of st to *v (malloc'd), growing it. */
static int column_doubles(sqlite3_stmt *st, double **v, size_t *n, double **v2)
{
    size_t cap = 0;
    double *g;
    int s;

    *n = 0;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            if (!(g = realloc(*v, cap * sizeof *g)))
                return -ENOMEM;
            *v = g;
            if (v2) {
                if (!(g = realloc(*v2, cap * sizeof *g)))
                    return -ENOMEM;
                *v2 = g;
            }
        }
        (*v)[*n] = sqlite3_column_double(st, 0);
        if (v2)
            (*v2)[*n] = sqlite3_column_double(st, 1);
        (*n)++;
    }
    return s == SQLITE_DONE ? 0 : db_errno(s);
}

/* Judge and the mean human value (over labelers) on the rows labelled
 * after a random draw, then, if there are enough of them, the judge's
 * scores over every done row. */
static int ppi_inputs(db *d, const labels_filter *f, double **all, size_t *n_all, double **jl,
                      double **hl, size_t *n_lab)
{
    sqlite3_stmt *st = NULL;
    const char *run_sql;
    char sql[1024];
    int rc;

    if ((rc = labels_run_clause(d, f, &run_sql)) < 0)
        goto out;
    snprintf(sql, sizeof sql, "SELECT s.score, avg(l.value) FROM labels l"
             " JOIN evaluations e ON e.id = l.evaluation_id"
             " JOIN evaluation_scores s ON s.evaluation_id = l.evaluation_id AND s.metric = l.metric"
             " WHERE l.superseded_at IS NULL AND l.sampled = 1 AND e.status = 'done'"
             " AND s.score IS NOT NULL AND (?1 IS NULL OR e.dataset = ?1)%s AND l.metric = ?3"
             " GROUP BY l.evaluation_id", run_sql);
    rc = -EIO;
    if (!(st = labels_prepare(d, sql)))
        goto out;
    labels_bind_filter(st, f);
    if ((rc = column_doubles(st, jl, n_lab, hl)) < 0 || *n_lab < AGREE_PPI_MIN_LABELS)
        goto out;             /* too few: the summary need not read every score */
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql, "SELECT s.score FROM evaluation_scores s JOIN evaluations e ON e.id ="
             " s.evaluation_id WHERE e.status = 'done' AND s.score IS NOT NULL"
             " AND (?1 IS NULL OR e.dataset = ?1)%s AND s.metric = ?3", run_sql);
    rc = -EIO;
    if (!(st = labels_prepare(d, sql)))
        goto out;
    labels_bind_filter(st, f);
    rc = column_doubles(st, all, n_all, NULL);
out:
    sqlite3_finalize(st);
    return rc;
}

int labels_corrected_json(db *d, const labels_filter *f, json_object **out)
{
    double *all = NULL, *jl = NULL, *hl = NULL;
    size_t n_all = 0, n_lab = 0;
    agree_ppi p;
    json_object *o;
    char phrase[96];
    int rc;

    *out = NULL;
    if ((rc = ppi_inputs(d, f, &all, &n_all, &jl, &hl, &n_lab)) < 0 || n_lab < AGREE_PPI_MIN_LABELS)
        goto out;
    agree_ppi_mean(all, n_all, jl, hl, n_lab, &p);
    o = json_object_new_object();
    json_object_object_add(o, "estimate", num(p.estimate));
    json_object_object_add(o, "ci95", interval(p.lo, p.hi));
    json_object_object_add(o, "se", num(p.se));
    json_object_object_add(o, "judge_mean", num(p.judge_mean));
    json_object_object_add(o, "judge_ci95", interval(p.judge_lo, p.judge_hi));
    json_object_object_add(o, "rectifier", num(p.rectifier));
    json_object_object_add(o, "rows", json_object_new_int64((int64_t)n_all));
    json_object_object_add(o, "labels", json_object_new_int64((int64_t)n_lab));
    snprintf(phrase, sizeof phrase, "corrected with %zu human labels", n_lab);
    json_object_object_add(o, "phrase", json_object_new_string(phrase));
    *out = o;
out:
    free(all);
    free(jl);
    free(hl);
    return rc;
}

int labels_summary_add(db *d, const char *dataset, json_object *metrics)
{
    labels_filter f = { dataset, NULL, NULL };
    json_object *c;
    int rc = 0;

    json_object_object_foreach(metrics, name, m) {
        f.metric = name;
        if ((rc = labels_corrected_json(d, &f, &c)) < 0)
            break;
        json_object_object_add(m, "corrected", c);
    }
    return rc;
}
