/* metrics_test.c - the built-in metrics against values worked out by hand,
 * in English, Russian, Chinese, accented Latin and emoji, and their nulls
 * and caps. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "text.h"

#define EPS 1e-12
#define assert_close(a, b) check_close((a), (b), __FILE__, __LINE__)

static void check_close(double got, double want, const char *file, int line)
{
    if (fabs(got - want) > EPS) {
        print_error("%s:%d: got %.17g, want %.17g\n", file, line, got, want);
        _fail(file, line);
    }
}

/* A row over caller-owned strings (the metrics only read it). */
static row mk(const char *answer, const char *gt, char **ctx, size_t nctx, char **refs,
              size_t nrefs)
{
    row r;

    memset(&r, 0, sizeof(r));
    r.question = (char *)"q";
    r.answer = (char *)answer;
    r.ground_truth = (char *)gt;
    r.contexts = ctx;
    r.n_contexts = nctx;
    r.reference_contexts = refs;
    r.n_reference_contexts = nrefs;
    return r;
}

static double score_of(void **state, const char *name, const row *r, int jw)
{
    metrics_opts o = {jw};
    metric_result res;

    assert_int_equal(metrics_compute(*state, &o, name, r, &res), 0);
    assert_int_equal(res.is_null, 0);
    return res.score;
}

static void is_null_metric(void **state, const char *name, const row *r)
{
    metric_result res;

    assert_int_equal(metrics_compute(*state, NULL, name, r, &res), 0);
    assert_int_equal(res.is_null, 1);
    assert_true(strlen(res.reason) > 0);
}

static int setup(void **state)
{
    *state = metrics_ctx_new();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    metrics_ctx_free(*state);
    return 0;
}

static void test_names(void **state)
{
    size_t i;
    metric_result res;
    row r = mk("a", "a", NULL, 0, NULL, 0);

    for (i = 0; metrics_builtin_defaults[i]; i++)
        assert_true(metrics_is_builtin(metrics_builtin_defaults[i]));
    assert_false(metrics_is_builtin("faithfulness"));
    assert_int_equal(metrics_compute(*state, NULL, "faithfulness", &r, &res), -ENOENT);
}

static void test_exact_and_presence(void **state)
{
    row a = mk("Paris", "Paris", NULL, 0, NULL, 0), b = mk("Paris", "paris", NULL, 0, NULL, 0);
    row c = mk("The capital is Paris.", "Paris", NULL, 0, NULL, 0);
    row none = mk("Paris", NULL, NULL, 0, NULL, 0);
    row empty = mk("Paris", "", NULL, 0, NULL, 0);

    assert_close(score_of(state, "exact_match", &a, 0), 1);
    assert_close(score_of(state, "exact_match", &b, 0), 0);
    assert_close(score_of(state, "string_presence", &c, 0), 1);
    assert_close(score_of(state, "string_presence", &b, 0), 0);
    is_null_metric(state, "exact_match", &none);
    is_null_metric(state, "string_presence", &none);
    is_null_metric(state, "string_presence", &empty);
}

static void test_bleu(void **state)
{
    row same = mk("Paris", "Paris", NULL, 0, NULL, 0);
    row shorter = mk("the cat sat", "the cat sat on the mat", NULL, 0, NULL, 0);
    row half = mk("the cat", "the dog", NULL, 0, NULL, 0);
    row miss = mk("abc", "xyz", NULL, 0, NULL, 0);
    row two = mk("It is Paris. It is big.", "It is Paris. It is big.", NULL, 0, NULL, 0);
    row none = mk("x", NULL, NULL, 0, NULL, 0), empty = mk("x", "", NULL, 0, NULL, 0);

    /* one unigram of one, no higher orders: effective order 1 */
    assert_close(score_of(state, "bleu_score", &same, 0), 1);
    /* precisions 3/3, 2/2, 1/1; brevity penalty exp(1 - 6/3) */
    assert_close(score_of(state, "bleu_score", &shorter, 0), 0.36787944117144233);
    /* 1/2, and the bigram 0/1 smoothed to 1/(2*1): sqrt(1/2 * 1/2) */
    assert_close(score_of(state, "bleu_score", &half, 0), 0.5);
    assert_close(score_of(state, "bleu_score", &miss, 0), 0);
    /* the whole answer, not the first sentence (ragas bug 2888) */
    assert_close(score_of(state, "bleu_score", &two, 0), 1);
    is_null_metric(state, "bleu_score", &none);
    is_null_metric(state, "bleu_score", &empty);
}

/* A Chinese reference picks sacrebleu's zh tokens: the right answer
 * is 7 tokens against 2; 1-grams 2/7, 2-grams 1/6, then 0/5 and 0/4
 * smoothed to 1/(2*5) and 1/(4*4): (2/7 * 1/6 * 1/10 * 1/16)^(1/4). */
static void test_bleu_cjk(void **state)
{
    row zh = mk("它于1889年建成。", "1889年", NULL, 0, NULL, 0);
    row same = mk("埃菲尔铁塔于1889年建成。", "埃菲尔铁塔于1889年建成。", NULL, 0, NULL, 0);
    row en = mk("It was built in 1889 (铁塔).", "Built in 1889.", NULL, 0, NULL, 0);

    assert_close(score_of(state, "bleu_score", &zh, 0), pow(1.0 / 3360.0, 0.25));
    assert_close(score_of(state, "bleu_score", &same, 0), 1);
    /* an English reference stays 13a: "(铁塔)." is split at ( ) and . only */
    assert_close(score_of(state, "bleu_score", &en, 0),
                 pow(3.0 / 9 * 1.0 / 8 * 1.0 / (2 * 7) * 1.0 / (4 * 6), 0.25));
}

static void test_script(void **state)
{
    assert_int_equal(text_script(""), TEXT_SCRIPT_NONE);
    assert_int_equal(text_script("1889 ..."), TEXT_SCRIPT_NONE);
    assert_int_equal(text_script("The Eiffel Tower"), TEXT_SCRIPT_OTHER);
    assert_int_equal(text_script("1889年"), TEXT_SCRIPT_HAN);
    assert_int_equal(text_script("iPhone 15 是苹果公司发布的手机"), TEXT_SCRIPT_HAN);
    assert_int_equal(text_script("The Forbidden City (紫禁城) is in Beijing"), TEXT_SCRIPT_OTHER);
    assert_int_equal(text_script("東京タワーは1958年に完成しました"), TEXT_SCRIPT_JA);
    assert_int_equal(text_script("에펠탑은 1889년에 완공되었습니다"), TEXT_SCRIPT_KO);
    assert_int_equal(text_script("Москва"), TEXT_SCRIPT_OTHER);
    (void)state;
}

/* zh: no 13a clean-up, no padding, strip() first, U+2001..U+2A6D split as
 * sacrebleu's table reads in Python, Extension B (U+20000) not split. */
static void test_zh_tokens(void **state)
{
    static const char *const want[] = {
        "5", ".", "&", "amp", ";", "\xe2\x80\x9c", "x", "\xe2\x80\x9d", "\xe5\xb9\xb4",
        "\xf0\xa0\x80\x80", "\xe5\xb9\xb4", "\xe2\x82\xac",
    };
    text_tokens t;
    size_t i;

    text_tokens_init(&t);
    assert_int_equal(text_zh(" 5. &amp;\xe2\x80\x9cx\xe2\x80\x9d\xe5\xb9\xb4 "
                             "\xf0\xa0\x80\x80\xe5\xb9\xb4\xe2\x82\xac\n", &t), 0);
    assert_int_equal(t.n, sizeof(want) / sizeof(want[0]));
    for (i = 0; i < t.n; i++)
        assert_string_equal(t.buf + t.off[i], want[i]);
    text_tokens_reset(&t);
    /* after strip() nothing follows the period, so "5." stays one token
     * (13a pads the line and splits it) */
    assert_int_equal(text_zh(" 5.\n", &t), 0);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.buf, "5.");
    text_tokens_free(&t);
    (void)state;
}

static void test_rouge(void **state)
{
    row en = mk("The cats are running", "the cat runs", NULL, 0, NULL, 0);
    row ru = mk("Москва — столица России.", "Столица России: Москва", NULL, 0, NULL, 0);
    row zh = mk("巴黎是法国的首都", "法国的首都是巴黎", NULL, 0, NULL, 0);
    row de = mk("STRASSE", "Straße", NULL, 0, NULL, 0);
    row acc = mk("Café crème", "cafe\xcc\x81 CRÈME", NULL, 0, NULL, 0);
    row emo = mk("I love 😀 Paris", "paris", NULL, 0, NULL, 0);
    row noword = mk("Paris", "!!", NULL, 0, NULL, 0);

    /* [the cat are run] vs [the cat run]: LCS 3, P 3/4, R 1 */
    assert_close(score_of(state, "rouge_score", &en, 0), 6.0 / 7.0);
    /* [москва столица россии] vs [столица россии москва]: LCS 2 of 3 */
    assert_close(score_of(state, "rouge_score", &ru, 0), 2.0 / 3.0);
    /* one token per Han character: LCS 法国的首都 = 5 of 8 */
    assert_close(score_of(state, "rouge_score", &zh, 0), 5.0 / 8.0);
    /* case folding: ß is ss */
    assert_close(score_of(state, "rouge_score", &de, 0), 1);
    /* composed and decomposed é are one token */
    assert_close(score_of(state, "rouge_score", &acc, 0), 1);
    /* [i love paris] vs [paris]: P 1/3, R 1 */
    assert_close(score_of(state, "rouge_score", &emo, 0), 0.5);
    is_null_metric(state, "rouge_score", &noword);
}

static void test_similarity(void **state)
{
    row k = mk("kitten", "sitting", NULL, 0, NULL, 0);
    row cafe = mk("café", "cafe", NULL, 0, NULL, 0);
    row thumbs = mk("👍🏽", "👍", NULL, 0, NULL, 0);
    row ru = mk("Москва", "москва", NULL, 0, NULL, 0);
    row empty = mk("", "", NULL, 0, NULL, 0), one = mk("", "x", NULL, 0, NULL, 0);
    row martha = mk("martha", "marhta", NULL, 0, NULL, 0);
    row dixon = mk("dixon", "dicksonx", NULL, 0, NULL, 0);

    assert_close(score_of(state, "non_llm_string_similarity", &k, 0), 1 - 3.0 / 7);
    assert_close(score_of(state, "non_llm_string_similarity", &cafe, 0), 0.75);
    /* two code points against one */
    assert_close(score_of(state, "non_llm_string_similarity", &thumbs, 0), 0.5);
    assert_close(score_of(state, "non_llm_string_similarity", &ru, 0), 1 - 1.0 / 6);
    assert_close(score_of(state, "non_llm_string_similarity", &empty, 0), 1);
    assert_close(score_of(state, "non_llm_string_similarity", &one, 0), 0);
    /* Jaro 17/18, prefix 3: 17/18 + 0.3/18 */
    assert_close(score_of(state, "non_llm_string_similarity", &martha, 1), 17.3 / 18);
    /* Jaro (4/5 + 4/8 + 1)/3 = 23/30, prefix 2 */
    assert_close(score_of(state, "non_llm_string_similarity", &dixon, 1),
                        23.0 / 30 + 0.2 * 7.0 / 30);
    assert_close(score_of(state, "non_llm_string_similarity", &empty, 1), 1);
}

static void test_similarity_cap(void **state)
{
    size_t n = 20000;
    char *a = malloc(n + 1), *b = malloc(n + 1);
    row r;

    assert_non_null(a);
    assert_non_null(b);
    memset(a, 'a', n);
    memset(b, 'b', n);
    a[n] = b[n] = '\0';
    r = mk(a, b, NULL, 0, NULL, 0);
    /* 4e8 cells is over the cap of 2^27 */
    is_null_metric(state, "non_llm_string_similarity", &r);
    /* the common prefix costs nothing: equal long texts are fine */
    r = mk(a, a, NULL, 0, NULL, 0);
    assert_close(score_of(state, "non_llm_string_similarity", &r, 0), 1);
    free(a);
    free(b);
}

static void test_token_f1(void **state)
{
    row en = mk("The Eiffel Tower is in Paris.", "Paris", NULL, 0, NULL, 0);
    row arts = mk("the", "a", NULL, 0, NULL, 0), onesided = mk("the", "x", NULL, 0, NULL, 0);
    row zh = mk("巴黎", "巴黎是首都", NULL, 0, NULL, 0);
    row ru = mk("«Москва»", "москва", NULL, 0, NULL, 0);
    row none = mk("x", NULL, NULL, 0, NULL, 0);

    /* [eiffel tower is in paris] vs [paris]: P 1/5, R 1 */
    assert_close(score_of(state, "token_f1", &en, 0), 1.0 / 3);
    assert_close(score_of(state, "token_f1", &arts, 0), 1);
    assert_close(score_of(state, "token_f1", &onesided, 0), 0);
    /* [巴 黎] vs [巴 黎 是 首 都]: P 1, R 2/5 */
    assert_close(score_of(state, "token_f1", &zh, 0), 4.0 / 7);
    assert_close(score_of(state, "token_f1", &ru, 0), 1);
    is_null_metric(state, "token_f1", &none);
}

static void test_context_recall_precision(void **state)
{
    char *r1[] = {"abcdefghij"}, *c1[] = {"abcdefghiX", "zzzz"};
    char *r2[] = {"abcd", "wxyz"}, *c2[] = {"abcf"};
    char *r3[] = {"ab"}, *c3[] = {"ax"};
    char *r4[] = {"abcd"}, *c4[] = {"zzzz", "abcd"};
    char *rzh[] = {"巴黎是法国的首都"}, *czh[] = {"巴黎是法国首都"};
    row a = mk("x", NULL, c1, 2, r1, 1), b = mk("x", NULL, c2, 1, r2, 2);
    row c = mk("x", NULL, c3, 1, r3, 1), d = mk("x", NULL, c4, 2, r4, 1);
    row zh = mk("x", NULL, czh, 1, rzh, 1);
    row norefs = mk("x", NULL, c1, 2, NULL, 0), emptyrefs = mk("x", NULL, c1, 2, r1, 0);
    row noctx = mk("x", NULL, NULL, 0, r1, 1);

    assert_close(score_of(state, "non_llm_context_recall", &a, 0), 1);
    assert_close(score_of(state, "non_llm_context_recall", &b, 0), 0.5);
    /* similarity exactly 0.5: not a hit for recall (> 0.5), relevant for precision */
    assert_close(score_of(state, "non_llm_context_recall", &c, 0), 0);
    assert_close(score_of(state, "non_llm_context_precision_with_reference", &c, 0),
                        1 / (1 + 1e-10));
    /* v = [0, 1]: (1/2 * 1) / 1 */
    assert_close(score_of(state, "non_llm_context_precision_with_reference", &d, 0),
                        0.5 / (1 + 1e-10));
    /* 1 - 1/8 */
    assert_close(score_of(state, "non_llm_context_recall", &zh, 0), 1);
    assert_close(score_of(state, "non_llm_context_recall", &noctx, 0), 0);
    is_null_metric(state, "non_llm_context_recall", &norefs);
    is_null_metric(state, "non_llm_context_recall", &emptyrefs);
    is_null_metric(state, "non_llm_context_precision_with_reference", &norefs);
    is_null_metric(state, "non_llm_context_precision_with_reference", &noctx);
}

static void test_context_overlap(void **state)
{
    char *c1[] = {"The tower stands 330 metres high."};
    char *cru[] = {"Москва является столицей России"};
    char *czh[] = {"巴黎是法国首都。"};
    row en = mk("The tower is 330 metres tall", NULL, c1, 1, NULL, 0);
    row ru = mk("Москва — столица России.", NULL, cru, 1, NULL, 0);
    row zh = mk("巴黎是法国的首都", NULL, czh, 1, NULL, 0);
    row stop = mk("It is the", NULL, c1, 1, NULL, 0);
    row noctx = mk("tower", NULL, NULL, 0, NULL, 0);

    /* [tower 330 metr tall]: all but tall */
    assert_close(score_of(state, "context_overlap", &en, 0), 0.75);
    /* [москва столица россии]: столица is not in the context (столицей) */
    assert_close(score_of(state, "context_overlap", &ru, 0), 2.0 / 3);
    /* 8 characters, 的 missing */
    assert_close(score_of(state, "context_overlap", &zh, 0), 7.0 / 8);
    is_null_metric(state, "context_overlap", &stop);
    is_null_metric(state, "context_overlap", &noctx);
}

static void test_no_answer(void **state)
{
    row r = mk(NULL, "x", NULL, 0, NULL, 0);
    size_t i;

    for (i = 0; metrics_builtin_names[i]; i++)
        is_null_metric(state, metrics_builtin_names[i], &r);
}

static void test_stems(void **state)
{
    static const char *const cases[][2] = {
        {"running", "run"}, {"days", "day"}, {"used", "use"}, {"hopefully", "hope"},
        {"possibly", "possibl"}, {"archaeology", "archaeolog"}, {"conditionally", "condit"},
        {"dies", "die"}, {"spry", "spri"}, {"eyes", "eye"}, {"mekking", "mek"},
        {"generously", "gener"}, {"skies", "sky"},
    };
    text_stemmer *st = text_stemmer_new();
    const char *out;
    size_t i, k, pass;

    assert_non_null(st);
    for (pass = 0; pass < 2; pass++) {             /* the second pass hits the cache */
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            assert_int_equal(text_stem(st, cases[i][0], strlen(cases[i][0]), &out, &k), 0);
            assert_int_equal(k, strlen(cases[i][1]));
            assert_memory_equal(out, cases[i][1], k);
        }
    }
    text_stemmer_free(st);
    (void)state;
}

static void test_13a(void **state)
{
    /* periods split unless between digits, so "U.S." is four tokens */
    static const char *const want[] = {"Hello", ",", "world", "!", "1,000.5", "1990", "-",
                                       "2000", "&", "U", ".", "S", ".", "don't"};
    text_tokens t;
    size_t i;

    text_tokens_init(&t);
    assert_int_equal(text_13a("Hello, world! 1,000.5 1990-2000 &amp; U.S. don't", &t), 0);
    assert_int_equal(t.n, sizeof(want) / sizeof(want[0]));
    for (i = 0; i < t.n; i++)
        assert_string_equal(t.buf + t.off[i], want[i]);
    text_tokens_free(&t);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_and_presence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bleu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bleu_cjk, setup, teardown),
        cmocka_unit_test(test_script),
        cmocka_unit_test(test_zh_tokens),
        cmocka_unit_test_setup_teardown(test_rouge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_similarity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_similarity_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_f1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_recall_precision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_answer, setup, teardown),
        cmocka_unit_test(test_stems),
        cmocka_unit_test(test_13a),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
