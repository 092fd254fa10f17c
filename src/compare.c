/* compare.c - pair two runs' rows by item (else question) and compare each
 * metric with stats.c; the result as JSON for the API and the CLI. */
#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void compare_run_init(compare_run *r, const char *name)
{
    memset(r, 0, sizeof *r);
    r->name = name ? strdup(name) : NULL;
}

void compare_run_free(compare_run *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->n_rows; i++) {
        free(r->item[i]);
        free(r->question[i]);
    }
    for (i = 0; i < r->n_metrics; i++)
        free(r->values[i]);
    free(r->item);
    free(r->question);
    free(r->id);
    free(r->name);
    memset(r, 0, sizeof *r);
}

static int grow(compare_run *r)
{
    size_t cap = r->cap_rows ? r->cap_rows * 2 : 256, i, k;
    void *p;

    if (!(p = realloc(r->item, cap * sizeof *r->item)))
        return -ENOMEM;
    r->item = p;
    if (!(p = realloc(r->question, cap * sizeof *r->question)))
        return -ENOMEM;
    r->question = p;
    if (!(p = realloc(r->id, cap * sizeof *r->id)))
        return -ENOMEM;
    r->id = p;
    for (i = 0; i < r->n_metrics; i++) {
        if (!(p = realloc(r->values[i], cap * sizeof *r->values[i])))
            return -ENOMEM;
        r->values[i] = p;
        for (k = r->cap_rows; k < cap; k++)
            r->values[i][k] = NAN;
    }
    r->cap_rows = cap;
    return 0;
}

long compare_run_add_row(compare_run *r, const char *item, const char *question, int64_t id)
{
    size_t n = r->n_rows;

    if (n == r->cap_rows && grow(r) < 0)
        return -ENOMEM;
    r->item[n] = item ? strdup(item) : NULL;
    r->question[n] = question ? strdup(question) : NULL;
    if ((item && !r->item[n]) || (question && !r->question[n])) {
        free(r->item[n]);
        free(r->question[n]);
        return -ENOMEM;
    }
    r->id[n] = id;
    r->n_rows++;
    return (long)n;
}

int compare_run_metric(const compare_run *r, const char *metric)
{
    size_t i;

    for (i = 0; i < r->n_metrics; i++)
        if (!strcmp(r->metric[i], metric))
            return (int)i;
    return -1;
}

int compare_run_set(compare_run *r, size_t row, const char *metric, double value)
{
    int m = compare_run_metric(r, metric);
    size_t k;

    if (m < 0) {
        if (r->n_metrics == COMPARE_MAX_METRICS || strlen(metric) >= COMPARE_METRIC_LEN)
            return -ENOSPC;
        if (!(r->values[r->n_metrics] = malloc((r->cap_rows ? r->cap_rows : 1) * sizeof(double))))
            return -ENOMEM;
        for (k = 0; k < r->cap_rows; k++)
            r->values[r->n_metrics][k] = NAN;
        snprintf(r->metric[r->n_metrics], COMPARE_METRIC_LEN, "%s", metric);
        m = (int)r->n_metrics++;
    }
    if (row < r->n_rows)
        r->values[m][row] = value;
    return 0;
}

void compare_opts_default(compare_opts *o)
{
    memset(o, 0, sizeof *o);
    o->alpha = 0.05;
    o->min_delta = 0;
    o->seed = STATS_SEED;
}

/* ---- pairing ---- */

struct key {
    const compare_run *r;
    size_t row;
};

static int cmp_key(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    const char *ix = x->r->item[x->row], *iy = y->r->item[y->row];
    int c;

    if (!ix != !iy)
        return ix ? -1 : 1;
    c = ix ? strcmp(ix, iy) : strcmp(x->r->question[x->row], y->r->question[y->row]);
    if (c)
        return c;
    if (x->r->id[x->row] != y->r->id[y->row])
        return x->r->id[x->row] < y->r->id[y->row] ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* The run's keyed rows sorted by key, one per key (the last one, by id).
 * *keys malloc'd; counts the rows without a key and the duplicates. */
static int sorted_keys(const compare_run *r, struct key **keys, size_t *n, size_t *unkeyed,
                       size_t *dups)
{
    struct key *k = malloc((r->n_rows ? r->n_rows : 1) * sizeof *k);
    size_t i, m = 0, w = 0;

    *keys = k;
    *n = *unkeyed = *dups = 0;
    if (!k)
        return -ENOMEM;
    for (i = 0; i < r->n_rows; i++) {
        if (!r->item[i] && !r->question[i]) {
            (*unkeyed)++;
            continue;
        }
        k[m].r = r;
        k[m++].row = i;
    }
    qsort(k, m, sizeof *k, cmp_key);
    for (i = 0; i < m; i++) {
        if (i + 1 < m && (!r->item[k[i].row] == !r->item[k[i + 1].row]) &&
            !strcmp(r->item[k[i].row] ? r->item[k[i].row] : r->question[k[i].row],
                    r->item[k[i + 1].row] ? r->item[k[i + 1].row] : r->question[k[i + 1].row])) {
            (*dups)++;
            continue;
        }
        k[w++] = k[i];
    }
    *n = w;
    return 0;
}

/* Matched rows: pb[i] in base with pc[i] in cand; ob / oc flag the rows
 * of each run that found no partner (1) among the keyed ones. */
struct pairing {
    size_t n, *pb, *pc;
    unsigned char *ob, *oc;
};

static int pair_runs(const compare_run *b, const compare_run *c, struct pairing *p,
                     compare_result *res)
{
    struct key *kb = NULL, *kc = NULL;
    size_t nb, nc, i = 0, j = 0;
    int rc = -ENOMEM, d;

    memset(p, 0, sizeof *p);
    if (sorted_keys(b, &kb, &nb, &res->base_unkeyed, &res->base_dups) < 0 ||
        sorted_keys(c, &kc, &nc, &res->cand_unkeyed, &res->cand_dups) < 0)
        goto out;
    if (!(p->pb = malloc((nb < nc ? nb : nc) * sizeof *p->pb + 1)) ||
        !(p->pc = malloc((nb < nc ? nb : nc) * sizeof *p->pc + 1)) ||
        !(p->ob = calloc(b->n_rows + 1, 1)) || !(p->oc = calloc(c->n_rows + 1, 1)))
        goto out;
    while (i < nb || j < nc) {
        if (i == nb)
            d = 1;
        else if (j == nc)
            d = -1;
        else {
            const char *ib = b->item[kb[i].row], *ic = c->item[kc[j].row];

            d = !ib != !ic ? (ib ? -1 : 1)
                : strcmp(ib ? ib : b->question[kb[i].row], ic ? ic : c->question[kc[j].row]);
        }
        if (d < 0)
            p->ob[kb[i++].row] = 1;
        else if (d > 0)
            p->oc[kc[j++].row] = 1;
        else {
            p->pb[p->n] = kb[i++].row;
            p->pc[p->n++] = kc[j++].row;
        }
    }
    rc = 0;
out:
    free(kb);
    free(kc);
    return rc;
}

static void pairing_free(struct pairing *p)
{
    free(p->pb);
    free(p->pc);
    free(p->ob);
    free(p->oc);
}

/* Keep the COMPARE_TOP largest moves in one direction, largest first. */
static void top_insert(compare_item *top, size_t *n, const compare_item *it, int sign)
{
    size_t k = *n;

    if (k == COMPARE_TOP && sign * it->diff <= sign * top[k - 1].diff)
        return;
    if (k < COMPARE_TOP)
        (*n)++;
    else
        k--;
    while (k > 0 && sign * it->diff > sign * top[k - 1].diff) {
        top[k] = top[k - 1];
        k--;
    }
    top[k] = *it;
}

static int one_metric(const compare_run *b, const compare_run *c, const struct pairing *p,
                      double *vb, double *vc, stats_rng *g, compare_metric *cm)
{
    int mb = compare_run_metric(b, cm->name), mc = compare_run_metric(c, cm->name);
    const double *xb = mb >= 0 ? b->values[mb] : NULL, *xc = mc >= 0 ? c->values[mc] : NULL;
    size_t i, n = 0;

    for (i = 0; xb && i < b->n_rows; i++) {
        cm->in_base |= !isnan(xb[i]);
        cm->only_baseline += p->ob[i] && !isnan(xb[i]);
    }
    for (i = 0; xc && i < c->n_rows; i++) {
        cm->in_cand |= !isnan(xc[i]);
        cm->only_candidate += p->oc[i] && !isnan(xc[i]);
    }
    for (i = 0; i < p->n; i++) {
        double x = xb ? xb[p->pb[i]] : NAN, y = xc ? xc[p->pc[i]] : NAN;
        compare_item it;

        if (isnan(x) || isnan(y)) {
            cm->only_baseline += !isnan(x);
            cm->only_candidate += !isnan(y);
            continue;
        }
        vb[n] = x;
        vc[n++] = y;
        it.item = b->item[p->pb[i]];
        it.question = b->question[p->pb[i]];
        it.base_id = b->id[p->pb[i]];
        it.cand_id = c->id[p->pc[i]];
        it.base = x;
        it.cand = y;
        it.diff = y - x;
        if (it.diff < 0)
            top_insert(cm->drops, &cm->n_drops, &it, -1);
        else if (it.diff > 0)
            top_insert(cm->gains, &cm->n_gains, &it, 1);
    }
    cm->pairs = n;
    return stats_paired_compare(vb, vc, n, g, &cm->st);
}

/* The metrics to compare: those named, else the union in order of first
 * appearance (baseline first). */
static int pick_metrics(const compare_run *b, const compare_run *c, const compare_opts *o,
                        compare_result *res, char *err, size_t errlen)
{
    size_t i, k = 0, max = o->metrics ? o->n_metrics : b->n_metrics + c->n_metrics;

    if (o->metrics && o->n_metrics > COMPARE_MAX_METRICS) {
        snprintf(err, errlen, "at most %d metrics can be compared", COMPARE_MAX_METRICS);
        return -EINVAL;
    }
    if (!(res->metric = calloc(max ? max : 1, sizeof *res->metric)))
        return -ENOMEM;
    for (i = 0; i < max; i++) {
        const char *name = o->metrics ? o->metrics[i]
                           : i < b->n_metrics ? b->metric[i] : c->metric[i - b->n_metrics];
        size_t j;

        for (j = 0; j < k && strcmp(res->metric[j].name, name); j++)
            ;
        if (j < k)
            continue;
        if (strlen(name) >= COMPARE_METRIC_LEN) {
            snprintf(err, errlen, "metric name too long: %.64s...", name);
            return -EINVAL;
        }
        snprintf(res->metric[k++].name, COMPARE_METRIC_LEN, "%s", name);
    }
    res->n_metrics = k;
    return 0;
}

int compare_runs(const compare_run *b, const compare_run *c, const compare_opts *o,
                 compare_result *res, char *err, size_t errlen)
{
    struct pairing p;
    double *vb = NULL, *vc = NULL, *ps = NULL;
    stats_rng g;
    size_t i;
    int rc;

    memset(res, 0, sizeof *res);
    memset(&p, 0, sizeof p);
    res->base_rows = b->n_rows;
    res->cand_rows = c->n_rows;
    if ((rc = pick_metrics(b, c, o, res, err, errlen)) < 0 || (rc = pair_runs(b, c, &p, res)) < 0)
        goto out;
    rc = -ENOMEM;
    if (!(vb = malloc((p.n + 1) * sizeof *vb)) || !(vc = malloc((p.n + 1) * sizeof *vc)) ||
        !(ps = malloc((res->n_metrics + 1) * sizeof *ps)))
        goto out;
    for (i = 0; i < res->n_metrics; i++) {
        stats_rng_seed(&g, o->seed);   /* each metric reproducible on its own */
        if ((rc = one_metric(b, c, &p, vb, vc, &g, &res->metric[i])) < 0)
            goto out;
        ps[i] = res->metric[i].st.p;
    }
    if ((rc = stats_holm(ps, res->n_metrics, ps)) < 0)
        goto out;
    for (i = 0; i < res->n_metrics; i++) {
        res->metric[i].p_holm = ps[i];
        res->metric[i].verdict = stats_verdict(res->metric[i].st.delta, ps[i], o->alpha, o->min_delta);
    }
    rc = 0;
out:
    if (rc < 0 && rc != -EINVAL)
        snprintf(err, errlen, "out of memory");
    pairing_free(&p);
    free(vb);
    free(vc);
    free(ps);
    return rc;
}

void compare_result_free(compare_result *res)
{
    if (!res)
        return;
    free(res->metric);
    memset(res, 0, sizeof *res);
}

static json_object *num(double x)
{
    return isnan(x) || isinf(x) ? NULL : json_object_new_double(x);
}

static json_object *items_json(const compare_item *v, size_t n)
{
    json_object *a = json_object_new_array();
    size_t i;

    for (i = 0; i < n; i++) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "item", v[i].item ? json_object_new_string(v[i].item) : NULL);
        if (!v[i].item)
            json_object_object_add(o, "question", json_object_new_string(v[i].question));
        json_object_object_add(o, "baseline_id", json_object_new_int64(v[i].base_id));
        json_object_object_add(o, "candidate_id", json_object_new_int64(v[i].cand_id));
        json_object_object_add(o, "baseline", num(v[i].base));
        json_object_object_add(o, "candidate", num(v[i].cand));
        json_object_object_add(o, "delta", num(v[i].diff));
        json_object_array_add(a, o);
    }
    return a;
}

static json_object *metric_json(const compare_metric *m)
{
    json_object *o = json_object_new_object(), *ci = json_object_new_array();

    json_object_object_add(o, "metric", json_object_new_string(m->name));
    json_object_object_add(o, "pairs", json_object_new_int64((int64_t)m->pairs));
    json_object_object_add(o, "only_baseline", json_object_new_int64((int64_t)m->only_baseline));
    json_object_object_add(o, "only_candidate", json_object_new_int64((int64_t)m->only_candidate));
    json_object_object_add(o, "in_baseline", json_object_new_boolean(m->in_base));
    json_object_object_add(o, "in_candidate", json_object_new_boolean(m->in_cand));
    json_object_object_add(o, "baseline_mean", num(m->st.base_mean));
    json_object_object_add(o, "candidate_mean", num(m->st.cand_mean));
    json_object_object_add(o, "delta", num(m->st.delta));
    json_object_array_add(ci, num(m->st.lo));
    json_object_array_add(ci, num(m->st.hi));
    json_object_object_add(o, "ci95", ci);
    json_object_object_add(o, "se", num(m->st.se));
    json_object_object_add(o, "ci_method", json_object_new_string(stats_method_name(m->st.ci_method)));
    json_object_object_add(o, "p_value", num(m->st.p));
    json_object_object_add(o, "p_method", json_object_new_string(stats_method_name(m->st.p_method)));
    json_object_object_add(o, "p_holm", num(m->p_holm));
    json_object_object_add(o, "verdict", json_object_new_string(stats_verdict_name(m->verdict)));
    json_object_object_add(o, "drops", items_json(m->drops, m->n_drops));
    json_object_object_add(o, "gains", items_json(m->gains, m->n_gains));
    return o;
}

json_object *compare_result_json(const compare_result *res, const compare_opts *o)
{
    json_object *root = json_object_new_object(), *a = json_object_new_array();
    size_t i;

    json_object_object_add(root, "alpha", json_object_new_double(o->alpha));
    json_object_object_add(root, "min_delta", json_object_new_double(o->min_delta));
    json_object_object_add(root, "baseline_rows", json_object_new_int64((int64_t)res->base_rows));
    json_object_object_add(root, "candidate_rows", json_object_new_int64((int64_t)res->cand_rows));
    json_object_object_add(root, "baseline_duplicates", json_object_new_int64((int64_t)res->base_dups));
    json_object_object_add(root, "candidate_duplicates", json_object_new_int64((int64_t)res->cand_dups));
    for (i = 0; i < res->n_metrics; i++)
        json_object_array_add(a, metric_json(&res->metric[i]));
    json_object_object_add(root, "metrics", a);
    return root;
}

void compare_summary_json(json_object *obj, const stats_summary *s)
{
    json_object *ci = json_object_new_array();

    json_object_array_add(ci, num(s->lo));
    json_object_array_add(ci, num(s->hi));
    json_object_object_add(obj, "n", json_object_new_int64((int64_t)s->n));
    json_object_object_add(obj, "mean", num(s->mean));
    json_object_object_add(obj, "se", num(s->se));
    json_object_object_add(obj, "ci95", ci);
    json_object_object_add(obj, "ci_method", json_object_new_string(stats_method_name(s->method)));
}
