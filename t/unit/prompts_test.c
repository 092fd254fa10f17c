/* prompts_test.c - the prompts show the judge both verdicts (the negative
 * worked examples ragas's prompts have), carry the language instruction,
 * pick Chinese examples for a Chinese row, follow LlamaIndex's
 * system/user layout for correctness, and every worked example fits the
 * schema of its own prompt. Read through the public API only: the
 * examples are taken back out of the rendered text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prompts.h"

/* Inputs for each prompt: an English row and a Chinese row. */
static const char *const en_input[PROMPT_N] = {
    [PROMPT_STATEMENTS] = "{\"question\":\"When was it built?\",\"answer\":\"It was built in 1889.\"}",
    [PROMPT_NLI] = "{\"context\":\"c\",\"statements\":[\"It was built in 1889.\"]}",
    [PROMPT_QUESTION] = "{\"response\":\"It was built in 1889.\"}",
    [PROMPT_CTX_PRECISION] = "{\"question\":\"q\",\"context\":\"c\",\"answer\":\"In 1889.\"}",
    [PROMPT_CTX_RECALL] = "{\"question\":\"q\",\"context\":\"c\",\"answer\":\"In 1889.\"}",
    [PROMPT_CLASSIFY] = "{\"question\":\"q\",\"answer\":[\"In 1889.\"],\"ground_truth\":[\"1889\"]}",
    [PROMPT_CORRECTNESS] = "{\"query\":\"q\",\"reference_answer\":\"r\",\"generated_answer\":\"In 1889.\"}",
    [PROMPT_CTX_RELEVANCE] = "{\"question\":\"When?\",\"context\":\"c\"}",
    [PROMPT_CTX_RELEVANCE_ALT] = "{\"question\":\"When?\",\"context\":\"c\"}",
    [PROMPT_PROBE] = "{}",
};

static const char *const zh_input[PROMPT_N] = {
    [PROMPT_STATEMENTS] = "{\"question\":\"q\",\"answer\":\"它于1889年建成。\"}",
    [PROMPT_NLI] = "{\"context\":\"The tower\",\"statements\":[\"它于1889年建成。\"]}",
    [PROMPT_QUESTION] = "{\"response\":\"它于1889年建成。\"}",
    [PROMPT_CTX_PRECISION] = "{\"question\":\"q\",\"context\":\"c\",\"answer\":\"1889年\"}",
    [PROMPT_CTX_RECALL] = "{\"question\":\"q\",\"context\":\"c\",\"answer\":\"1889年\"}",
    [PROMPT_CLASSIFY] = "{\"question\":\"q\",\"answer\":[\"1889年\"],\"ground_truth\":[\"1889年\"]}",
    [PROMPT_CORRECTNESS] = "{\"query\":\"q\",\"generated_answer\":\"它于1889年建成。\"}",
    [PROMPT_CTX_RELEVANCE] = "{\"question\":\"它是哪一年建成的？\",\"context\":\"c\"}",
    [PROMPT_CTX_RELEVANCE_ALT] = "{\"question\":\"它是哪一年建成的？\",\"context\":\"c\"}",
    [PROMPT_PROBE] = "{}",
};

/* Render k for the input text; the caller frees both. */
static void render(enum prompt_kind k, const char *input, char **sys, char **user)
{
    json_object *in = json_tokener_parse(input);

    assert_non_null(in);
    assert_int_equal(prompts_render_chat(k, in, sys, user), 0);
    assert_non_null(*user);
    json_object_put(in);
}

/* The worked examples of a rendered prompt: each "Output: " line (or the
 * "Example reply:" line) parsed and checked against k's schema, with the
 * matching "Input: " line's statement count for the NLI prompt. Fills
 * out[] (the caller puts them) and returns how many. */
static size_t examples(enum prompt_kind k, const char *text, json_object **out, size_t cap)
{
    const char *p = text, *in = NULL;
    size_t n = 0;
    char err[256], line[8192];

    while (n < cap && (p = strstr(p, "\n"))) {
        size_t len;
        p++;
        if (strncmp(p, "Input: ", 7) == 0)
            in = p + 7;
        if (strncmp(p, "Output: ", 8) != 0 && strncmp(p, "Example reply:\n", 15) != 0)
            continue;
        p = strchr(p, p[0] == 'O' ? ' ' : '\n') + 1;
        len = strcspn(p, "\n");
        if (len == 0)                 /* the final "Output: " waiting for the reply */
            break;
        assert_true(len < sizeof line);
        memcpy(line, p, len);
        line[len] = '\0';
        {
            long items = -1;
            if (k == PROMPT_NLI) {
                char inl[8192];
                json_object *iv, *st;
                size_t il = strcspn(in, "\n");
                memcpy(inl, in, il);
                inl[il] = '\0';
                iv = json_tokener_parse(inl);
                assert_true(json_object_object_get_ex(iv, "statements", &st));
                items = (long)json_object_array_length(st);
                json_object_put(iv);
            }
            if (prompts_validate(k, line, items, &out[n], err, sizeof err) < 0)
                fail_msg("prompt %d, example %zu does not fit its schema: %s\n%s", k, n + 1,
                         err, line);
        }
        n++;
    }
    return n;
}

static int count_int(json_object *list, const char *key, int v)
{
    size_t i;
    int n = 0;
    json_object *x;

    for (i = 0; i < json_object_array_length(list); i++)
        if (json_object_object_get_ex(json_object_array_get_idx(list, i), key, &x) &&
            json_object_get_int(x) == v)
            n++;
    return n;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;

    json_object_object_get_ex(o, key, &v);
    return v;
}

static void put_all(json_object **ex, size_t n)
{
    while (n)
        json_object_put(ex[--n]);
}

/* The language instruction is in every prompt where the judge writes text,
 * for English and Chinese rows alike. */
static void test_language_rule(void **state)
{
    int k;
    char *sys, *user;

    for (k = 0; k < PROMPT_N; k++) {
        int writes = k != PROMPT_PROBE && k != PROMPT_CTX_RELEVANCE &&
                     k != PROMPT_CTX_RELEVANCE_ALT;
        const char *const *inputs[2] = {en_input, zh_input};
        int l;
        for (l = 0; l < 2; l++) {
            render(k, inputs[l][k], &sys, &user);
            assert_int_equal(strstr(sys ? sys : user, PROMPTS_LANG_RULE) != NULL, writes);
            free(sys);
            free(user);
        }
    }
    (void)state;
}

/* Faithfulness's NLI prompt: two examples, several verdicts of 0, one
 * example whose context is unrelated to every statement (all 0). */
static void check_nli(const char *text)
{
    json_object *ex[4];
    size_t n = examples(PROMPT_NLI, text, ex, 4), i;
    int zeros = 0, all_zero = 0;

    assert_int_equal(n, 2);
    for (i = 0; i < n; i++) {
        json_object *st = get(ex[i], "statements");
        int z = count_int(st, "verdict", 0);
        zeros += z;
        all_zero |= z == (int)json_object_array_length(st);
    }
    assert_true(zeros >= 3);
    assert_true(all_zero);
    assert_true(count_int(get(ex[0], "statements"), "verdict", 1) > 0);
    put_all(ex, n);
}

static void check_question(const char *text)
{
    json_object *ex[4];
    size_t n = examples(PROMPT_QUESTION, text, ex, 4), i;
    int nc = 0, c = 0;

    for (i = 0; i < n; i++) {
        nc += json_object_get_int(get(ex[i], "noncommittal")) == 1;
        c += json_object_get_int(get(ex[i], "noncommittal")) == 0;
    }
    assert_true(nc >= 1 && c >= 1);
    put_all(ex, n);
}

/* Context precision: a useful context, one useful only indirectly (its
 * reason says the context does not state the answer outright), and one
 * not useful. */
static void check_precision(const char *text, const char *indirect)
{
    json_object *ex[4];
    size_t n = examples(PROMPT_CTX_PRECISION, text, ex, 4), i;
    int ones = 0, zeros = 0, ind = 0;

    assert_int_equal(n, 3);
    for (i = 0; i < n; i++) {
        int v = json_object_get_int(get(ex[i], "verdict"));
        ones += v == 1, zeros += v == 0;
        ind |= v == 1 && strstr(json_object_get_string(get(ex[i], "reason")), indirect) != NULL;
    }
    assert_true(ones == 2 && zeros == 1 && ind);
    put_all(ex, n);
}

static void check_recall(const char *text)
{
    json_object *ex[4];
    size_t n = examples(PROMPT_CTX_RECALL, text, ex, 4);

    assert_int_equal(n, 1);
    assert_true(count_int(get(ex[0], "classifications"), "attributed", 1) > 0);
    assert_true(count_int(get(ex[0], "classifications"), "attributed", 0) > 0);
    put_all(ex, n);
}

/* The classifier: a ground-truth statement the answer covers only in part
 * is an FN (its reason says so), and one example has no FP. */
static void check_classify(const char *text, const char *partly)
{
    json_object *ex[4], *fn;
    size_t n = examples(PROMPT_CLASSIFY, text, ex, 4), i, j;
    int no_fp = 0, partial = 0;

    assert_int_equal(n, 2);
    for (i = 0; i < n; i++) {
        no_fp |= json_object_array_length(get(ex[i], "FP")) == 0 &&
                 json_object_array_length(get(ex[i], "TP")) > 0;
        fn = get(ex[i], "FN");
        for (j = 0; j < json_object_array_length(fn); j++)
            partial |= strstr(json_object_get_string(get(json_object_array_get_idx(fn, j),
                                                         "reason")), partly) != NULL;
    }
    assert_true(no_fp && partial);
    put_all(ex, n);
}

static void test_negative_examples(void **state)
{
    const char *const *inputs[2] = {en_input, zh_input};
    static const char *const indirect[2] = {"does not speak of", "没有直接"};
    static const char *const partly[2] = {"only partly", "部分"};
    char *sys, *user;
    int l;

    for (l = 0; l < 2; l++) {
        render(PROMPT_NLI, inputs[l][PROMPT_NLI], &sys, &user);
        check_nli(user);
        free(user);
        render(PROMPT_QUESTION, inputs[l][PROMPT_QUESTION], &sys, &user);
        check_question(user);
        free(user);
        render(PROMPT_CTX_PRECISION, inputs[l][PROMPT_CTX_PRECISION], &sys, &user);
        check_precision(user, indirect[l]);
        free(user);
        render(PROMPT_CTX_RECALL, inputs[l][PROMPT_CTX_RECALL], &sys, &user);
        check_recall(user);
        free(user);
        render(PROMPT_CLASSIFY, inputs[l][PROMPT_CLASSIFY], &sys, &user);
        check_classify(user, partly[l]);
        free(user);
    }
    (void)state;
}

/* A Chinese row gets the Chinese examples, an English or Japanese row the
 * English ones; a Chinese question decides when the answer has no letters. */
static void test_chinese_row(void **state)
{
    static const struct {
        enum prompt_kind k;
        const char *input;
        const char *en_mark, *zh_mark;
        int zh;
    } cases[] = {
        {PROMPT_STATEMENTS, NULL, "Marie Curie", "鲁迅", 1},
        {PROMPT_NLI, NULL, "Maria", "李娜", 1},
        {PROMPT_QUESTION, NULL, "Amazon", "长城", 1},
        {PROMPT_CTX_PRECISION, NULL, "Berlin Wall", "秦始皇", 1},
        {PROMPT_CTX_RECALL, NULL, "Golden Gate", "西湖", 1},
        {PROMPT_CLASSIFY, NULL, "seasons", "光合作用", 1},
        {PROMPT_CORRECTNESS, NULL, "longer than it needs", "表述", 1},
        {PROMPT_STATEMENTS, "{\"question\":\"q\",\"answer\":\"東京タワーは1958年に完成しました。\"}",
         "Marie Curie", "鲁迅", 0},
        {PROMPT_STATEMENTS, "{\"question\":\"它是哪一年建成的？\",\"answer\":\"1889\"}",
         "Marie Curie", "鲁迅", 1},
        {PROMPT_QUESTION, "{\"response\":\"The Forbidden City (紫禁城) is in Beijing.\"}",
         "Amazon", "长城", 0},
    };
    size_t i;
    char *sys, *user;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *in = cases[i].input ? cases[i].input : zh_input[cases[i].k];
        const char *text;
        render(cases[i].k, in, &sys, &user);
        text = sys ? sys : user;
        if ((strstr(text, cases[i].zh_mark) != NULL) != cases[i].zh ||
            (strstr(text, cases[i].en_mark) != NULL) == cases[i].zh)
            fail_msg("case %zu: expected the %s examples", i, cases[i].zh ? "Chinese" : "English");
        free(sys);
        free(user);
        if (!cases[i].input) {        /* the English row of the same prompt */
            render(cases[i].k, en_input[cases[i].k], &sys, &user);
            text = sys ? sys : user;
            assert_non_null(strstr(text, cases[i].en_mark));
            assert_null(strstr(text, cases[i].zh_mark));
            free(sys);
            free(user);
        }
    }
    (void)state;
}

/* LlamaIndex's layout: guidelines and the example scored 4.0 in the system
 * message, three sections in the user message, the placeholder for a
 * missing, null or empty reference. */
static void test_correctness(void **state)
{
    static const char *const no_ref[] = {
        "{\"query\":\"Q?\",\"generated_answer\":\"G.\"}",
        "{\"query\":\"Q?\",\"reference_answer\":null,\"generated_answer\":\"G.\"}",
        "{\"query\":\"Q?\",\"reference_answer\":\"\",\"generated_answer\":\"G.\"}",
    };
    json_object *ex[2], *in;
    char *sys, *user, *one;
    size_t i;

    render(PROMPT_CORRECTNESS, "{\"query\":\"Q?\",\"reference_answer\":\"R.\",\"generated_answer\":"
           "\"G.\"}", &sys, &user);
    assert_non_null(sys);
    assert_non_null(strstr(sys, "from 1 (the worst) to 5 (the best)"));
    assert_non_null(strstr(sys, "Give 1 when the generated answer is not relevant"));
    assert_int_equal(examples(PROMPT_CORRECTNESS, sys, ex, 2), 1);
    assert_true(json_object_get_double(get(ex[0], "score")) == 4.0);
    json_object_put(ex[0]);
    assert_string_equal(user, "### User query\nQ?\n\n### Reference answer\nR.\n\n"
                        "### Generated answer\nG.\n");
    assert_null(strstr(sys, "Q?"));
    in = json_tokener_parse("{\"query\":\"Q?\",\"reference_answer\":\"R.\",\"generated_answer\":"
                            "\"G.\"}");
    one = prompts_render(PROMPT_CORRECTNESS, in);
    assert_non_null(one);
    assert_non_null(strstr(one, sys));
    assert_non_null(strstr(one, user));
    free(one);
    json_object_put(in);
    free(sys);
    free(user);
    for (i = 0; i < sizeof(no_ref) / sizeof(no_ref[0]); i++) {
        render(PROMPT_CORRECTNESS, no_ref[i], &sys, &user);
        assert_non_null(strstr(user, "### Reference answer\n(NO REFERENCE ANSWER SUPPLIED)\n"));
        free(sys);
        free(user);
    }
    (void)state;
}

/* Every other prompt is one user message whose worked examples fit its own
 * schema; context relevance has two wordings of one 0/1/2 schema. */
static void test_one_message_and_schemas(void **state)
{
    json_object *ex[4], *v;
    char *sys, *user, *alt, err[256];
    int k, l;
    size_t n;

    for (k = 0; k < PROMPT_N; k++) {
        if (k == PROMPT_CORRECTNESS)
            continue;
        for (l = 0; l < 2; l++) {
            render(k, (l ? zh_input : en_input)[k], &sys, &user);
            assert_null(sys);
            n = examples(k, user, ex, 4);
            assert_true(k == PROMPT_CTX_RELEVANCE || k == PROMPT_CTX_RELEVANCE_ALT || n > 0);
            put_all(ex, n);
            free(user);
        }
    }
    render(PROMPT_CTX_RELEVANCE, en_input[PROMPT_CTX_RELEVANCE], &sys, &user);
    render(PROMPT_CTX_RELEVANCE_ALT, en_input[PROMPT_CTX_RELEVANCE_ALT], &sys, &alt);
    assert_string_not_equal(user, alt);
    free(user);
    free(alt);
    assert_int_equal(prompts_validate(PROMPT_CTX_RELEVANCE, "{\"rating\":2}", -1, &v, err,
                                      sizeof err), 0);
    json_object_put(v);
    assert_int_equal(prompts_validate(PROMPT_CTX_RELEVANCE_ALT, "{\"rating\":3}", -1, &v, err,
                                      sizeof err), -EINVAL);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_language_rule),
        cmocka_unit_test(test_negative_examples),
        cmocka_unit_test(test_chinese_row),
        cmocka_unit_test(test_correctness),
        cmocka_unit_test(test_one_message_and_schemas),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
