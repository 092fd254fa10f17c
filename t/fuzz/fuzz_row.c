/* fuzz_row.c - libFuzzer target for request bodies: row_parse_body() under
 * the default limits, then, for every row it accepts, the round trip through
 * row_to_json() and row_strings_json()/row_strings_parse() and every
 * built-in metric, whose scores must be finite and within [0, 1]. Also
 * compiled into t/unit/fuzz_replay.c (FUZZ_ENTRY renames the entry point). */
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "metrics.h"
#include "row.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
int FUZZ_ENTRY(const uint8_t *data, size_t size);
#endif

/* Whatever the built-in judge knows, plus two LLM metric names. */
static int fuzz_row_known(const conf *cf, const char *name)
{
    (void)cf;
    return metrics_is_builtin(name) || !strcmp(name, "faithfulness") ||
           !strcmp(name, "answer_relevancy");
}

static void fuzz_row_fail(const char *what)
{
    fprintf(stderr, "fuzz_row: %s\n", what);
    abort();
}

/* The same strings, in the same order; NULL only where NULL. */
static void fuzz_row_same(const row *a, const row *b)
{
    size_t i;

    if (strcmp(a->question, b->question) || strcmp(a->answer, b->answer))
        fuzz_row_fail("question/answer changed in the round trip");
    if (!a->ground_truth != !b->ground_truth ||
        (a->ground_truth && strcmp(a->ground_truth, b->ground_truth)))
        fuzz_row_fail("ground_truth changed in the round trip");
    if (!a->dataset != !b->dataset || (a->dataset && strcmp(a->dataset, b->dataset)))
        fuzz_row_fail("dataset changed in the round trip");
    if (a->n_contexts != b->n_contexts)
        fuzz_row_fail("contexts changed in the round trip");
    for (i = 0; i < a->n_contexts; i++)
        if (strcmp(a->contexts[i], b->contexts[i]))
            fuzz_row_fail("a context changed in the round trip");
    if (!a->reference_contexts != !b->reference_contexts ||
        a->n_reference_contexts != b->n_reference_contexts)
        fuzz_row_fail("reference_contexts changed in the round trip");
    for (i = 0; i < a->n_reference_contexts; i++)
        if (strcmp(a->reference_contexts[i], b->reference_contexts[i]))
            fuzz_row_fail("a reference context changed in the round trip");
    if (!a->metrics != !b->metrics || a->n_metrics != b->n_metrics)
        fuzz_row_fail("metrics changed in the round trip");
}

static void fuzz_row_check(const conf *cf, metrics_ctx *m, const row *r)
{
    json_object *j = row_to_json(r);
    const char *text;
    row *back = NULL;
    size_t n = 0, i, nv = 0;
    int batch = 0;
    row_error e;
    char *s, **v = NULL;
    metrics_opts o = { 0 };
    metric_result res;

    if (!j)
        fuzz_row_fail("row_to_json returned NULL");
    text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    if (row_parse_body(text, strlen(text), cf, fuzz_row_known, &back, &n, &batch, &e) != 0) {
        fprintf(stderr, "fuzz_row: own output refused: %s: %s\n", e.field, e.message);
        abort();
    }
    if (n != 1 || batch)
        fuzz_row_fail("own output is not one row");
    fuzz_row_same(r, &back[0]);
    row_free_array(back, n);
    json_object_put(j);

    s = row_strings_json(r->contexts, r->n_contexts);
    if (!s || row_strings_parse(s, &v, &nv) != 0 || nv != r->n_contexts)
        fuzz_row_fail("row_strings_json/parse round trip");
    for (i = 0; i < nv; i++)
        if (strcmp(v[i], r->contexts[i]))
            fuzz_row_fail("row_strings round trip changed a string");
    row_strings_free(v, nv);
    free(s);

    for (i = 0; metrics_builtin_names[i]; i++) {
        int jw;

        for (jw = 0; jw < 2; jw++) {
            o.jaro_winkler = jw;
            if (metrics_compute(m, &o, metrics_builtin_names[i], r, &res) != 0)
                fuzz_row_fail("a built-in metric is unknown");
            if (!res.is_null && (!isfinite(res.score) || res.score < -1e-9 || res.score > 1 + 1e-9)) {
                fprintf(stderr, "fuzz_row: %s = %.17g\n", metrics_builtin_names[i], res.score);
                abort();
            }
            if (strnlen(res.reason, sizeof res.reason) == sizeof res.reason)
                fuzz_row_fail("reason not terminated");
        }
    }
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static conf cf;
    static metrics_ctx *m;
    row *rows = NULL;
    size_t n = 0, i;
    int batch = 0;
    row_error e;

    if (!m) {
        conf_defaults(&cf);
        cf.max_batch = 16;
        m = metrics_ctx_new();
        if (!m)
            abort();
    }
    memset(&e, 0x55, sizeof e);
    if (row_parse_body((const char *)data, size, &cf, fuzz_row_known, &rows, &n, &batch, &e) == 0) {
        if (!rows && n)
            fuzz_row_fail("rows NULL with n > 0");
        for (i = 0; i < n; i++)
            fuzz_row_check(&cf, m, &rows[i]);
        row_free_array(rows, n);
    } else {
        if (strnlen(e.field, sizeof e.field) == sizeof e.field ||
            strnlen(e.message, sizeof e.message) == sizeof e.message || !e.message[0])
            fuzz_row_fail("error not filled");
        row_free_array(rows, n);
    }
    return 0;
}
