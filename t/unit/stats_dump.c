/* stats_dump.c - test fixture for t/stats_oracle.py: reads one JSON request
 * per line on stdin ({"op": "summary", "x": [...]}, ...), runs the stats.c
 * or agree.c function it names with the fixed seed, and prints the result
 * as one JSON line. The oracle checks the figures against its own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agree.h"
#include "stats.h"

/* The numbers of o[key]; *n set; malloc'd (caller frees). */
static double *arr(json_object *o, const char *key, size_t *n)
{
    json_object *a;
    double *v;
    size_t i;

    *n = 0;
    if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
        return calloc(1, sizeof(double));
    *n = json_object_array_length(a);
    if (!(v = calloc(*n + 1, sizeof *v)))
        exit(3);
    for (i = 0; i < *n; i++) {
        json_object *e = json_object_array_get_idx(a, i);

        v[i] = e ? json_object_get_double(e) : NAN;
    }
    return v;
}

static void put(json_object *o, const char *k, double x)
{
    json_object_object_add(o, k, isnan(x) ? NULL : json_object_new_double(x));
}

static void op_summary(json_object *in, json_object *out, stats_rng *g)
{
    size_t n;
    double *x = arr(in, "x", &n);
    stats_summary s;

    if (stats_summarize(x, n, g, &s) < 0)
        exit(3);
    json_object_object_add(out, "n", json_object_new_int64((int64_t)s.n));
    put(out, "mean", s.mean);
    put(out, "sd", s.sd);
    put(out, "se", s.se);
    put(out, "lo", s.lo);
    put(out, "hi", s.hi);
    json_object_object_add(out, "method", json_object_new_string(stats_method_name(s.method)));
    free(x);
}

static void op_paired(json_object *in, json_object *out, stats_rng *g)
{
    size_t nb, nc;
    double *b = arr(in, "b", &nb), *c = arr(in, "c", &nc);
    stats_paired p;

    if (stats_paired_compare(b, c, nb < nc ? nb : nc, g, &p) < 0)
        exit(3);
    put(out, "base_mean", p.base_mean);
    put(out, "cand_mean", p.cand_mean);
    put(out, "delta", p.delta);
    put(out, "se", p.se);
    put(out, "lo", p.lo);
    put(out, "hi", p.hi);
    put(out, "p", p.p);
    json_object_object_add(out, "ci_method", json_object_new_string(stats_method_name(p.ci_method)));
    json_object_object_add(out, "p_method", json_object_new_string(stats_method_name(p.p_method)));
    free(b);
    free(c);
}

static void op_holm(json_object *in, json_object *out)
{
    size_t n, i;
    double *p = arr(in, "p", &n);
    json_object *a = json_object_new_array();

    if (stats_holm(p, n, p) < 0)
        exit(3);
    for (i = 0; i < n; i++)
        json_object_array_add(a, isnan(p[i]) ? NULL : json_object_new_double(p[i]));
    json_object_object_add(out, "adj", a);
    free(p);
}

static void op_agree(json_object *in, json_object *out)
{
    size_t nj, nh;
    double *j = arr(in, "j", &nj), *h = arr(in, "h", &nh);
    agree_binary k;
    agree_scale s;
    json_object *m = json_object_new_array();
    int x, y;

    agree_kappa(j, h, nj, &k);
    if (agree_scale_compute(j, h, nj, &s) < 0)
        exit(3);
    for (x = 0; x < 2; x++)
        for (y = 0; y < 2; y++)
            json_object_array_add(m, json_object_new_int64((int64_t)k.matrix[x][y]));
    json_object_object_add(out, "matrix", m);
    put(out, "accuracy", k.accuracy);
    put(out, "kappa", k.kappa);
    put(out, "kappa_se", k.se);
    put(out, "kappa_lo", k.lo);
    put(out, "kappa_hi", k.hi);
    put(out, "spearman", s.spearman);
    put(out, "kendall", s.kendall);
    put(out, "mae", s.mae);
    free(j);
    free(h);
}

static void op_ppi(json_object *in, json_object *out)
{
    size_t na, nj, nh;
    double *a = arr(in, "all", &na), *j = arr(in, "jl", &nj), *h = arr(in, "hl", &nh);
    agree_ppi p;

    agree_ppi_mean(a, na, j, h, nj < nh ? nj : nh, &p);
    put(out, "judge_mean", p.judge_mean);
    put(out, "judge_lo", p.judge_lo);
    put(out, "judge_hi", p.judge_hi);
    put(out, "rectifier", p.rectifier);
    put(out, "estimate", p.estimate);
    put(out, "se", p.se);
    put(out, "lo", p.lo);
    put(out, "hi", p.hi);
    free(a);
    free(j);
    free(h);
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    stats_rng g;

    json_c_set_serialization_double_format("%.17g", JSON_C_OPTION_GLOBAL);
    while (getline(&line, &cap, stdin) > 0) {
        json_object *in = json_tokener_parse(line), *out = json_object_new_object(), *v;
        const char *op = in && json_object_object_get_ex(in, "op", &v) ? json_object_get_string(v) : "";

        stats_rng_seed(&g, STATS_SEED);
        if (!strcmp(op, "summary"))
            op_summary(in, out, &g);
        else if (!strcmp(op, "paired"))
            op_paired(in, out, &g);
        else if (!strcmp(op, "holm"))
            op_holm(in, out);
        else if (!strcmp(op, "agree"))
            op_agree(in, out);
        else if (!strcmp(op, "ppi"))
            op_ppi(in, out);
        else
            json_object_object_add(out, "error", json_object_new_string("unknown op"));
        printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
        fflush(stdout);
        json_object_put(in);
        json_object_put(out);
    }
    free(line);
    return 0;
}
