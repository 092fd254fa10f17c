/* stats_test.c - unit tests of stats.c, agree.c and compare.c: the PRNG,
 * quantiles, Holm, the verdict, hand-worked agreement figures, and the
 * pairing of two runs (by item, by question, duplicates, one-sided rows,
 * the largest drops and gains). The figures are checked against an
 * independent Python oracle in t/stats_oracle.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agree.h"
#include "compare.h"
#include "stats.h"

static void test_rng(void **state)
{
    stats_rng a, b;
    size_t i, counts[10] = { 0 };
    double u, sum = 0;

    (void)state;
    stats_rng_seed(&a, 42);
    stats_rng_seed(&b, 42);
    for (i = 0; i < 1000; i++)
        assert_true(stats_rng_next(&a) == stats_rng_next(&b));
    stats_rng_seed(&b, 43);
    assert_true(stats_rng_next(&a) != stats_rng_next(&b));
    for (i = 0; i < 100000; i++) {
        u = stats_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        counts[stats_rng_below(&a, 10)]++;
        sum += stats_rng_normal(&a);
    }
    for (i = 0; i < 10; i++)      /* 10,000 expected, sd 95 */
        assert_true(counts[i] > 9500 && counts[i] < 10500);
    assert_true(fabs(sum / 100000) < 0.02);
}

static void test_quantile_and_summary(void **state)
{
    const double s[] = { 1, 2, 3, 4, 5 }, x[] = { 0.2, 0.4, 0.6, 0.8 };
    stats_summary a, b;
    stats_rng g;

    (void)state;
    assert_true(stats_quantile_sorted(s, 5, 0) == 1);
    assert_true(stats_quantile_sorted(s, 5, 0.5) == 3);
    assert_true(fabs(stats_quantile_sorted(s, 5, 0.1) - 1.4) < 1e-12);
    assert_true(stats_quantile_sorted(s, 5, 1) == 5);
    stats_rng_seed(&g, STATS_SEED);
    assert_int_equal(stats_summarize(x, 4, &g, &a), 0);
    stats_rng_seed(&g, STATS_SEED);
    assert_int_equal(stats_summarize(x, 4, &g, &b), 0);
    assert_true(fabs(a.mean - 0.5) < 1e-12);
    assert_true(fabs(a.sd - sqrt(0.2 / 3)) < 1e-12);
    assert_int_equal(a.method, STATS_BOOTSTRAP);
    assert_true(a.lo == b.lo && a.hi == b.hi);
    assert_true(a.lo >= 0.2 && a.lo < 0.5 && a.hi > 0.5 && a.hi <= 0.8);
    assert_int_equal(stats_summarize(x, 0, &g, &a), 0);
    assert_true(a.n == 0 && isnan(a.mean) && isnan(a.lo) && a.method == STATS_NONE);
}

static void test_holm_verdict(void **state)
{
    double p[] = { 0.01, NAN, 0.04, 0.03, 0.005 }, adj[5];

    (void)state;
    assert_int_equal(stats_holm(p, 5, adj), 0);
    assert_true(fabs(adj[0] - 0.03) < 1e-12 && isnan(adj[1]) && fabs(adj[2] - 0.06) < 1e-12);
    assert_true(fabs(adj[3] - 0.06) < 1e-12 && fabs(adj[4] - 0.02) < 1e-12);
    assert_int_equal(stats_holm(p, 0, adj), 0);
    assert_int_equal(stats_verdict(-0.05, 0.01, 0.05, 0), STATS_WORSE);
    assert_int_equal(stats_verdict(0.05, 0.01, 0.05, 0), STATS_BETTER);
    assert_int_equal(stats_verdict(0.05, 0.05, 0.05, 0), STATS_NO_DIFFERENCE);
    assert_int_equal(stats_verdict(-0.05, 0.01, 0.05, 0.05), STATS_NO_DIFFERENCE);
    assert_int_equal(stats_verdict(NAN, 0.01, 0.05, 0), STATS_NO_DIFFERENCE);
    assert_string_equal(stats_verdict_name(STATS_WORSE), "worse");
}

static void test_signflip(void **state)
{
    const double d3[] = { 1, 1, 1 }, zero[] = { 0, 0, 0, 0 };
    stats_rng g;
    int m;

    (void)state;
    stats_rng_seed(&g, STATS_SEED);
    /* Only all-plus and all-minus reach |3| out of 8 sign vectors. */
    assert_true(fabs(stats_signflip_p(d3, 3, &g, &m) - 0.25) < 1e-15);
    assert_int_equal(m, STATS_EXACT);
    assert_true(stats_signflip_p(zero, 4, &g, &m) == 1.0);
}

static void test_agreement_by_hand(void **state)
{
    /* judge/human: 20 both 1, 5 judge 1 human 0, 10 judge 0 human 1, 15 both 0.
     * po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.4. */
    double j[50], h[50], r[5];
    const double x[] = { 3, 1, 3, 2, 1 };
    agree_binary k;
    agree_ppi p;
    size_t i;

    (void)state;
    for (i = 0; i < 50; i++) {
        j[i] = i < 25 ? 1 : 0;
        h[i] = i < 20 || (i >= 25 && i < 35) ? 1 : 0;
    }
    agree_kappa(j, h, 50, &k);
    assert_int_equal(k.matrix[1][1], 20);
    assert_int_equal(k.matrix[1][0], 5);
    assert_int_equal(k.matrix[0][1], 10);
    assert_int_equal(k.matrix[0][0], 15);
    assert_true(fabs(k.accuracy - 0.7) < 1e-12 && fabs(k.kappa - 0.4) < 1e-12);
    assert_true(k.lo < 0.4 && k.hi > 0.4 && k.se > 0);
    assert_int_equal(agree_ranks(x, 5, r), 0);
    assert_true(r[0] == 4.5 && r[1] == 1.5 && r[2] == 4.5 && r[3] == 3 && r[4] == 1.5);
    agree_ppi_mean(j, 50, j, h, 50, &p);   /* every row labelled: the human mean */
    assert_true(fabs(p.estimate - 0.6) < 1e-12 && fabs(p.rectifier + 0.1) < 1e-12);
}

/* Baseline: items a..e plus a row keyed by question; candidate: b..f, the
 * same question, and a second "c" that replaces the first. */
static void fill(compare_run *b, compare_run *c)
{
    static const char *const items[] = { "a", "b", "c", "d", "e", "f" };
    const double bv[] = { 0.5, 0.9, 0.8, 0.2, 0.6 }, cv[] = { 0.5, 0.4, 0.9, 0.7, 0.0 };
    long i;

    compare_run_init(b, "base");
    compare_run_init(c, "cand");
    for (i = 0; i < 5; i++) {
        assert_int_equal(compare_run_add_row(b, items[i], "q", 100 + i), i);
        assert_int_equal(compare_run_set(b, (size_t)i, "m", bv[i]), 0);
        assert_int_equal(compare_run_add_row(c, items[i + 1], "q", 200 + i), i);
        assert_int_equal(compare_run_set(c, (size_t)i, "m", i == 1 ? 0.1 : cv[i]), 0);
    }
    assert_int_equal(compare_run_add_row(b, NULL, "what is x?", 105), 5);
    assert_int_equal(compare_run_set(b, 5, "m", 0.3), 0);
    assert_int_equal(compare_run_set(b, 5, "other", 1), 0);
    assert_int_equal(compare_run_add_row(c, NULL, "what is x?", 205), 5);
    assert_int_equal(compare_run_set(c, 5, "m", 0.35), 0);
    assert_int_equal(compare_run_add_row(c, "c", "q", 206), 6);   /* replaces c = 0.1 */
    assert_int_equal(compare_run_set(c, 6, "m", 0.4), 0);
}

static void test_compare_pairing(void **state)
{
    compare_run b, c;
    compare_result res;
    compare_opts o;
    const compare_metric *m;
    char err[128];

    (void)state;
    fill(&b, &c);
    compare_opts_default(&o);
    assert_int_equal(compare_runs(&b, &c, &o, &res, err, sizeof err), 0);
    assert_int_equal(res.n_metrics, 2);
    assert_int_equal(res.cand_dups, 1);
    m = &res.metric[0];
    assert_string_equal(m->name, "m");
    /* pairs b (0.9, 0.5), c (0.8, 0.4), d (0.2, 0.9), e (0.6, 0.7), question (0.3, 0.35) */
    assert_int_equal(m->pairs, 5);
    assert_int_equal(m->only_baseline, 1);
    assert_int_equal(m->only_candidate, 1);
    assert_true(fabs(m->st.delta - (-0.4 - 0.4 + 0.7 + 0.1 + 0.05) / 5) < 1e-12);
    assert_int_equal(m->st.p_method, STATS_EXACT);
    assert_int_equal(m->n_drops, 2);
    assert_string_equal(m->drops[0].item, "b");        /* -0.4 first (b comes before c) */
    assert_true(m->drops[0].base_id == 101 && m->drops[0].cand_id == 200);
    assert_true(fabs(m->drops[1].diff + 0.4) < 1e-12 && m->drops[1].cand_id == 206);
    assert_int_equal(m->n_gains, 3);
    assert_string_equal(m->gains[0].item, "d");
    assert_true(m->gains[2].item == NULL && !strcmp(m->gains[2].question, "what is x?"));
    assert_true(m->p_holm >= m->st.p);
    m = &res.metric[1];
    assert_true(m->in_base && !m->in_cand && m->pairs == 0 && m->only_baseline == 1);
    assert_true(isnan(m->st.p) && m->verdict == STATS_NO_DIFFERENCE);
    compare_result_free(&res);
    compare_run_free(&b);
    compare_run_free(&c);
}

static void test_compare_top(void **state)
{
    compare_run b, c;
    compare_result res;
    compare_opts o;
    const char *only[] = { "m" };
    char key[16], err[128];
    long i;

    (void)state;
    compare_run_init(&b, "b");
    compare_run_init(&c, "c");
    for (i = 0; i < 1000; i++) {      /* diff of item i: (i - 500) / 1000 */
        snprintf(key, sizeof key, "k%ld", i);
        assert_true(compare_run_add_row(&b, key, NULL, i) == i);
        assert_true(compare_run_add_row(&c, key, NULL, 1000 + (999 - i)) == i);
        assert_int_equal(compare_run_set(&b, (size_t)i, "m", 0.5), 0);
        assert_int_equal(compare_run_set(&c, (size_t)i, "m", (double)i / 1000), 0);
    }
    compare_opts_default(&o);
    o.metrics = only;
    o.n_metrics = 1;
    assert_int_equal(compare_runs(&b, &c, &o, &res, err, sizeof err), 0);
    assert_int_equal(res.metric[0].pairs, 1000);
    assert_int_equal(res.metric[0].st.p_method, STATS_PERMUTATION);
    assert_int_equal(res.metric[0].n_drops, COMPARE_TOP);
    for (i = 0; i < COMPARE_TOP; i++) {
        assert_true(fabs(res.metric[0].drops[i].diff - (double)(i - 500) / 1000) < 1e-12);
        assert_true(fabs(res.metric[0].gains[i].diff - (double)(499 - i) / 1000) < 1e-12);
    }
    assert_string_equal(res.metric[0].drops[0].item, "k0");
    compare_result_free(&res);
    compare_run_free(&b);
    compare_run_free(&c);
}

static void test_summary_json(void **state)
{
    const double x[] = { 0.25, 0.75 };
    json_object *o = json_object_new_object(), *v;
    stats_summary s;
    stats_rng g;

    (void)state;
    stats_rng_seed(&g, STATS_SEED);
    assert_int_equal(stats_summarize(x, 2, &g, &s), 0);
    compare_summary_json(o, &s);
    assert_true(json_object_object_get_ex(o, "ci95", &v) && json_object_array_length(v) == 2);
    assert_true(json_object_get_double(json_object_array_get_idx(v, 0)) >= 0.25);
    assert_true(json_object_get_double(json_object_array_get_idx(v, 1)) <= 0.75);
    assert_string_equal(json_object_get_string(json_object_object_get(o, "ci_method")), "bootstrap");
    assert_int_equal(stats_summarize(x, 0, &g, &s), 0);
    compare_summary_json(o, &s);   /* replaces the keys */
    assert_true(json_object_object_get_ex(o, "mean", &v) && v == NULL);
    assert_int_equal(json_object_get_int(json_object_object_get(o, "n")), 0);
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_quantile_and_summary),
        cmocka_unit_test(test_holm_verdict),
        cmocka_unit_test(test_signflip),
        cmocka_unit_test(test_agreement_by_hand),
        cmocka_unit_test(test_compare_pairing),
        cmocka_unit_test(test_compare_top),
        cmocka_unit_test(test_summary_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
