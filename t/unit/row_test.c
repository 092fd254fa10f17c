/* row_test.c - unit tests of row validation and JSON handling (row.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "row.h"
#include "utf8.h"

static int known(const conf *cf, const char *name)
{
    (void)cf;
    return !strcmp(name, "token_f1") || !strcmp(name, "faithfulness");
}

static conf cf;

static int setup(void **state)
{
    (void)state;
    conf_defaults(&cf);
    cf.max_contexts = 3;
    cf.max_field = 20;
    cf.max_batch = 2;
    cf.max_dataset = 8;
    return 0;
}

/* Parse body; return rc, and the error field/message through e. */
static int parse(const char *body, row **rows, size_t *n, int *batch, row_error *e)
{
    return row_parse_body(body, strlen(body), &cf, known, rows, n, batch, e);
}

/* A known-callback with an argument: the names in a NULL-terminated list. */
static int known_in(void *arg, const conf *c, const char *name)
{
    const char *const *v = arg;

    (void)c;
    for (; *v; v++)
        if (!strcmp(*v, name))
            return 1;
    return 0;
}

static void test_metric_sets(void **state)
{
    static const char *const llm[] = { "token_f1", "faithfulness", "answer_relevancy",
                                       "context_relevance", "tone", NULL };
    static const char *const some[] = { "faithfulness", "tone", NULL };
    const char *body = "{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],"
                       "\"metrics\":[\"faithfulness\",\"triad\",\"tone\"]}";
    row *rows = NULL;
    size_t n;
    int batch;
    row_error e;

    (void)state;
    assert_int_equal(row_parse_body_arg(body, strlen(body), &cf, known_in, (void *)llm, &rows, &n,
                                        &batch, &e), 0);
    /* the set's place takes its members not named already, once each */
    assert_int_equal(rows[0].n_metrics, 4);
    assert_string_equal(rows[0].metrics[0], "faithfulness");
    assert_string_equal(rows[0].metrics[1], "tone");
    assert_string_equal(rows[0].metrics[2], "context_relevance");
    assert_string_equal(rows[0].metrics[3], "answer_relevancy");
    row_free_array(rows, n);
    rows = NULL;
    /* a set is known only when all its members are */
    assert_int_equal(row_parse_body_arg(body, strlen(body), &cf, known_in, (void *)some, &rows, &n,
                                        &batch, &e), -EINVAL);
    assert_string_equal(e.field, "metrics[1]");
    assert_null(row_metric_set("faithfulness"));
    assert_string_equal(row_metric_set("triad")[0], "context_relevance");
}

static void expect_error(const char *body, const char *field, const char *words)
{
    row *rows = NULL;
    size_t n = 0;
    int batch;
    row_error e;

    assert_int_equal(parse(body, &rows, &n, &batch, &e), -EINVAL);
    assert_null(rows);
    assert_string_equal(e.field, field);
    if (words && !strstr(e.message, words))
        fail_msg("message '%s' lacks '%s'", e.message, words);
}

static void test_one_row(void **state)
{
    row *rows;
    size_t n;
    int batch;
    row_error e;

    (void)state;
    assert_int_equal(parse("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[\"c1\",\"c2\"],"
                           "\"ground_truth\":\"g\",\"dataset\":\"d\",\"metrics\":[\"token_f1\"]}",
                           &rows, &n, &batch, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(batch, 0);
    assert_string_equal(rows[0].question, "q");
    assert_string_equal(rows[0].answer, "a");
    assert_int_equal(rows[0].n_contexts, 2);
    assert_string_equal(rows[0].contexts[1], "c2");
    assert_string_equal(rows[0].ground_truth, "g");
    assert_string_equal(rows[0].dataset, "d");
    assert_null(rows[0].reference_contexts);
    assert_int_equal(rows[0].n_metrics, 1);
    row_free_array(rows, n);
}

static void test_synonyms_and_nulls(void **state)
{
    row *rows;
    size_t n;
    int batch;
    row_error e;

    (void)state;
    assert_int_equal(parse("{\"user_input\":\"q\",\"response\":\"a\",\"retrieved_contexts\":[],"
                           "\"reference\":null,\"reference_contexts\":[]}", &rows, &n, &batch, &e), 0);
    assert_string_equal(rows[0].question, "q");
    assert_string_equal(rows[0].answer, "a");
    assert_int_equal(rows[0].n_contexts, 0);
    assert_null(rows[0].ground_truth);
    assert_non_null(rows[0].reference_contexts);         /* given, though empty */
    assert_int_equal(rows[0].n_reference_contexts, 0);
    row_free_array(rows, n);
}

static void test_batch(void **state)
{
    row *rows;
    size_t n;
    int batch;
    row_error e;

    (void)state;
    assert_int_equal(parse("[{\"question\":\"a\",\"answer\":\"b\",\"contexts\":[]},"
                           " {\"question\":\"c\",\"answer\":\"d\",\"contexts\":[\"x\"]}]", &rows, &n, &batch, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(batch, 1);
    assert_string_equal(rows[1].contexts[0], "x");
    row_free_array(rows, n);
    expect_error("[{\"question\":\"a\",\"answer\":\"b\",\"contexts\":[]},"
                 " {\"question\":\"c\",\"answer\":\"d\",\"contexts\":[\"x\", 1]}]", "[1].contexts[1]", "string");
    expect_error("[{},{},{}]", "", "at most 2 rows");
    expect_error("[]", "", "empty");
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{\"question\":", "", "not valid JSON");
    expect_error("{\"question\":\"a\"} {}", "", "not valid JSON");
    expect_error("\"text\"", "", "an object or an array");
    expect_error("null", "", "an object or an array");
    expect_error(" 12.5 ", "", "an object or an array");
    expect_error("true", "", "an object or an array");
    /* RFC 8259's rules json-c lets pass (jstrict.c) */
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],\"answer\":\"b\"}", "answer", "twice");
    expect_error("[{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[]},"
                 "{\"question\":\"q\",\"question\":\"r\",\"answer\":\"a\",\"contexts\":[]}]", "[1].question", "twice");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[\"x\",\"a\nb\"]}", "contexts[1]", "control");
    expect_error("{\"question\":\"\\ud800x\",\"answer\":\"a\",\"contexts\":[]}", "question", "unpaired high");
    expect_error("{\"question\":\"\\udfff\",\"answer\":\"a\",\"contexts\":[]}", "question", "unpaired low");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],\"a\\u0000b\":1}", "a\\u0000b", "NUL");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],\"id\":\"1\"}", "id", "positive integer");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],\"id\":0}", "id", "positive integer");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],\"dataset\":\"\"}", "dataset", "empty");
    expect_error("{\"answer\":\"a\",\"contexts\":[]}", "question", "required");
    expect_error("{\"question\":\"q\",\"contexts\":[]}", "answer", "required");
    expect_error("{\"question\":\"q\",\"answer\":\"a\"}", "contexts", "required");
    expect_error("{\"question\":1,\"answer\":\"a\",\"contexts\":[]}", "question", "string");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":\"c\"}", "contexts", "array");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[\"1\",\"2\",\"3\",\"4\"]}", "contexts", "more than 3");
    expect_error("{\"question\":\"q\",\"answer\":\"123456789012345678901\",\"contexts\":[]}", "answer", "longer than 20");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],\"dataset\":\"123456789\"}", "dataset", "longer than 8");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],\"metrics\":[\"token_f1\",\"bogus\"]}", "metrics[1]", "unknown metric");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],\"metrics\":[\"token_f1\",\"token_f1\"]}", "metrics[1]", "twice");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],\"metrics\":[]}", "metrics", "at least one");
    expect_error("{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[],\"extra\":1}", "extra", "not a field");
    expect_error("{\"question\":\"q\",\"user_input\":\"q\",\"answer\":\"a\",\"contexts\":[]}", "question", "synonyms");
    expect_error("{\"question\":\"\\u0000\",\"answer\":\"a\",\"contexts\":[]}", "question", "UTF-8");
}

/* utf8.c: cuts between characters, escapes what is not UTF-8. */
static void test_utf8_helpers(void **state)
{
    char buf[16], s[16];

    (void)state;
    utf8_escape(buf, sizeof buf, "a\xff\xc3\xa9");            /* a, a stray byte, é */
    assert_string_equal(buf, "a\\xFF\xc3\xa9");
    utf8_escape(buf, 5, "\xc3\xa9\xc3\xa9\xc3\xa9");        /* room for two é, not a half */
    assert_string_equal(buf, "\xc3\xa9\xc3\xa9");
    utf8_escape(buf, 4, "\xfe");                                /* an escape is never cut */
    assert_string_equal(buf, "");
    snprintf(s, sizeof s, "%s", "abc\xc3\xa9\xe2\x82\xac");  /* whole */
    s[6] = '\0';                                               /* € cut after its first byte */
    assert_int_equal(utf8_trim(s), 5);
    assert_string_equal(s, "abc\xc3\xa9");
    utf8_copy(buf, 5, "abc\xc3\xa9", 5);
    assert_string_equal(buf, "abc");
    assert_true(utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(utf8_valid("\xed\xa0\x80", 3));             /* a surrogate, encoded */
    assert_false(utf8_valid("a\0b", 3));
    assert_int_equal(utf8_put(0x1F600, buf), 4);
    assert_memory_equal(buf, "\xf0\x9f\x98\x80", 4);
}

static void test_utf8(void **state)
{
    row *rows;
    size_t n;
    int batch;
    row_error e;
    static const char *const bad[] = {
        "{\"question\":\"\xff\",\"answer\":\"a\",\"contexts\":[]}",          /* invalid byte */
        "{\"question\":\"\xc0\xaf\",\"answer\":\"a\",\"contexts\":[]}",      /* overlong */
        "{\"question\":\"\xed\xa0\x80\",\"answer\":\"a\",\"contexts\":[]}",  /* surrogate */
        "{\"question\":\"\xe2\x82\",\"answer\":\"a\",\"contexts\":[]}",      /* truncated */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i], &rows, &n, &batch, &e), -EINVAL);
        assert_non_null(strstr(e.message, "UTF-8"));
    }
    assert_int_equal(parse("{\"question\":\"Мир 世界 😀\",\"answer\":\"é\",\"contexts\":[]}", &rows, &n, &batch, &e), 0);
    assert_string_equal(rows[0].question, "Мир 世界 😀");
    row_free_array(rows, n);
}

static void test_strings_roundtrip(void **state)
{
    char *v[] = { "a\"b", "Привет", "" };
    char **back;
    size_t n;
    char *s;

    (void)state;
    s = row_strings_json(v, 3);
    assert_non_null(s);
    assert_int_equal(row_strings_parse(s, &back, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(back[0], "a\"b");
    assert_string_equal(back[1], "Привет");
    assert_string_equal(back[2], "");
    row_strings_free(back, n);
    free(s);
    assert_int_equal(row_strings_parse("{}", &back, &n), -EINVAL);
    assert_int_equal(row_strings_parse("[1]", &back, &n), -EINVAL);
    row_clear(NULL);
    row_free_array(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_row),
        cmocka_unit_test(test_synonyms_and_nulls),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_utf8_helpers),
        cmocka_unit_test(test_strings_roundtrip),
        cmocka_unit_test(test_metric_sets),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
