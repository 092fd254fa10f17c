/* trace_test.c - unit tests of trace assembly (trace.c) on spans built by
 * hand: documents in rank order past index 9, the root chosen by parentage
 * whatever the order of arrival, the OpenTelemetry GenAI message and
 * retrieval attributes, filters (equals, regular expression, resource and
 * span), dataset and run sources, metrics, and the outcomes that make no
 * row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "otlp.h"
#include "trace.h"

#define T1 "4bf92f3577b34da6a3ce929d0e0e4736"

/* A span with up to 32 attributes given as key, value pairs (NULL ends). */
struct fake {
    otlp_span s;
    otlp_kv kv[32];
};

static const otlp_attrs resource = {
    (otlp_kv[]){ { "service.name", "shop-rag" }, { "deployment.environment", "prod" } }, 2
};

static void fake(struct fake *f, const char *span_id, const char *parent, uint64_t start, ...)
{
    va_list ap;
    const char *k;

    memset(f, 0, sizeof *f);
    snprintf(f->s.trace_id, sizeof f->s.trace_id, T1);
    snprintf(f->s.span_id, sizeof f->s.span_id, "%s", span_id);
    snprintf(f->s.parent_id, sizeof f->s.parent_id, "%s", parent);
    f->s.name = (char *)"span";
    f->s.start_ns = start;
    f->s.end_ns = start + 10;
    f->s.resource = &resource;
    f->s.attrs.v = f->kv;
    va_start(ap, start);
    while ((k = va_arg(ap, const char *)) && f->s.attrs.n < 32) {
        f->kv[f->s.attrs.n].key = (char *)k;
        f->kv[f->s.attrs.n++].value = va_arg(ap, char *);
    }
    va_end(ap);
}

static int assemble(const char *filters, const char *dataset, const char *metrics, otlp_span *v,
                    size_t n, trace_row *out, char *why)
{
    trace_rules *tr;
    conf cf;
    char err[256];
    int rc;

    conf_defaults(&cf);
    snprintf(cf.ingest_filters, sizeof cf.ingest_filters, "%s", filters);
    snprintf(cf.ingest_dataset, sizeof cf.ingest_dataset, "%s", dataset);
    snprintf(cf.ingest_metrics, sizeof cf.ingest_metrics, "%s", metrics);
    tr = trace_rules_new(&cf, err, sizeof err);
    assert_non_null(tr);
    rc = trace_assemble(tr, &cf, NULL, v, n, out, why, 256);
    trace_rules_free(tr);
    return rc;
}

/* Twelve documents set out of order: ranks 0..11, not 0, 1, 10, 11, 2... */
static void test_rank_order(void **st)
{
    struct fake f[3];
    otlp_span v[3];
    char keys[12][64], vals[12][16], why[256];
    trace_row out;
    int i;

    (void)st;
    fake(&f[0], "0000000000000001", "", 100, "openinference.span.kind", "CHAIN",
         "input.value", "q?", "output.value", "a.", NULL);
    fake(&f[1], "0000000000000002", "0000000000000001", 110, "openinference.span.kind",
         "RETRIEVER", NULL);
    for (i = 0; i < 12; i++) {
        int n = (i * 7) % 12;                      /* a permutation of 0..11 */

        snprintf(keys[i], sizeof keys[i], "retrieval.documents.%d.document.content", n);
        snprintf(vals[i], sizeof vals[i], "doc %d", n);
        f[1].kv[f[1].s.attrs.n].key = keys[i];
        f[1].kv[f[1].s.attrs.n++].value = vals[i];
    }
    fake(&f[2], "0000000000000003", "0000000000000001", 120, NULL);
    /* Arrival order: the retriever first, the root last. */
    v[0] = f[1].s, v[1] = f[2].s, v[2] = f[0].s;
    assert_int_equal(assemble("", "resource:service.name", "", v, 3, &out, why), TRACE_ROW);
    assert_string_equal(out.r.question, "q?");
    assert_string_equal(out.r.answer, "a.");
    assert_int_equal(out.r.n_contexts, 12);
    for (i = 0; i < 12; i++) {
        char want[16];

        snprintf(want, sizeof want, "doc %d", i);
        assert_string_equal(out.r.contexts[i], want);
    }
    assert_string_equal(out.r.dataset, "shop-rag");
    assert_string_equal(out.span_id, "0000000000000001");
    trace_row_clear(&out);
}

/* No input on the root: the first CHAIN-like span's; GenAI messages and
 * gen_ai.retrieval.documents. */
static void test_genai(void **st)
{
    struct fake f[4];
    otlp_span v[4];
    char why[256];
    trace_row out;

    (void)st;
    fake(&f[0], "00000000000000a1", "", 100, NULL);
    fake(&f[1], "00000000000000a2", "00000000000000a1", 105, "gen_ai.operation.name",
         "invoke_agent", "gen_ai.input.messages",
         "[{\"role\":\"system\",\"parts\":[{\"type\":\"text\",\"content\":\"be brief\"}]},"
         "{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Who wrote Emma?\"}]}]",
         "gen_ai.output.messages",
         "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"Jane Austen.\"}]}]",
         NULL);
    fake(&f[2], "00000000000000a3", "00000000000000a2", 110, "gen_ai.operation.name", "retrieval",
         "gen_ai.retrieval.documents",
         "[{\"id\":\"d1\",\"score\":0.9,\"content\":\"Emma is a novel by Jane Austen.\"},"
         "{\"id\":\"d2\",\"score\":0.5,\"content\":\"Published in 1815.\"}]", NULL);
    fake(&f[3], "00000000000000a4", "00000000000000a2", 120, "gen_ai.operation.name", "chat",
         "gen_ai.prompt.0.role", "user", "gen_ai.prompt.0.content", "context-stuffed prompt",
         "gen_ai.completion.0.content", "llm says", NULL);
    v[0] = f[3].s, v[1] = f[2].s, v[2] = f[1].s, v[3] = f[0].s;
    assert_int_equal(assemble("", "fixed-label", "faithfulness, answer_relevancy", v, 4, &out, why),
                     TRACE_ROW);
    assert_string_equal(out.r.question, "Who wrote Emma?");
    assert_string_equal(out.r.answer, "Jane Austen.");
    assert_int_equal(out.r.n_contexts, 2);
    assert_string_equal(out.r.contexts[0], "Emma is a novel by Jane Austen.");
    assert_string_equal(out.r.contexts[1], "Published in 1815.");
    assert_string_equal(out.r.dataset, "fixed-label");
    assert_int_equal(out.r.n_metrics, 2);
    assert_string_equal(out.r.metrics[1], "answer_relevancy");
    assert_string_equal(out.span_id, "00000000000000a2");
    trace_row_clear(&out);
}

/* Only an LLM span: the last user message in, the first assistant out. */
static void test_llm_only(void **st)
{
    struct fake f;
    char why[256];
    trace_row out;

    (void)st;
    fake(&f, "00000000000000b1", "", 100, "openinference.span.kind", "LLM",
         "llm.input_messages.0.message.role", "system",
         "llm.input_messages.0.message.content", "sys",
         "llm.input_messages.1.message.role", "user",
         "llm.input_messages.1.message.content", "first",
         "llm.input_messages.2.message.role", "assistant",
         "llm.input_messages.2.message.content", "mid",
         "llm.input_messages.3.message.role", "user",
         "llm.input_messages.3.message.content", "second",
         "llm.output_messages.0.message.role", "assistant",
         "llm.output_messages.0.message.content", "out", NULL);
    assert_int_equal(assemble("", "", "", &f.s, 1, &out, why), TRACE_ROW);
    assert_string_equal(out.r.question, "second");
    assert_string_equal(out.r.answer, "out");
    assert_int_equal(out.r.n_contexts, 0);
    assert_null(out.r.dataset);
    trace_row_clear(&out);
}

/* OpenLLMetry JSON inputs: {"inputs": {...}} and {"args": [...]}. */
static void test_traceloop_json(void **st)
{
    struct fake f;
    char why[256];
    trace_row out;

    (void)st;
    fake(&f, "00000000000000c1", "", 100, "traceloop.span.kind", "workflow",
         "traceloop.entity.input", "{\"inputs\":{\"query\":\"wrapped?\"},\"tags\":[]}",
         "traceloop.entity.output", "{\"outputs\":{\"answer\":\"unwrapped.\"}}", NULL);
    assert_int_equal(assemble("", "", "", &f.s, 1, &out, why), TRACE_ROW);
    assert_string_equal(out.r.question, "wrapped?");
    assert_string_equal(out.r.answer, "unwrapped.");
    trace_row_clear(&out);
    fake(&f, "00000000000000c1", "", 100, "traceloop.entity.input", "{\"args\":[\"positional?\"]}",
         "traceloop.entity.output", "\"plain json string\"", NULL);
    assert_int_equal(assemble("", "", "", &f.s, 1, &out, why), TRACE_ROW);
    assert_string_equal(out.r.question, "positional?");
    assert_string_equal(out.r.answer, "plain json string");
    trace_row_clear(&out);
}

static void test_filters_and_outcomes(void **st)
{
    struct fake f[2];
    otlp_span v[2];
    char why[256], err[256];
    trace_row out;
    trace_rules *tr;
    conf cf;

    (void)st;
    fake(&f[0], "00000000000000d1", "", 100, "input.value", "q", "output.value", "a", NULL);
    fake(&f[1], "00000000000000d2", "00000000000000d1", 101, "llm.model_name", "gpt-4o-mini", NULL);
    v[0] = f[0].s, v[1] = f[1].s;
    assert_int_equal(assemble("resource:deployment.environment=prod; span:llm.model_name~^gpt-4",
                              "", "", v, 2, &out, why), TRACE_ROW);
    trace_row_clear(&out);
    assert_int_equal(assemble("resource:deployment.environment=staging", "", "", v, 2, &out, why),
                     TRACE_FILTERED);
    assert_true(strstr(why, "deployment.environment") != NULL);
    assert_int_equal(assemble("span:llm.model_name~^claude", "", "", v, 2, &out, why),
                     TRACE_FILTERED);
    assert_int_equal(assemble("span:missing.key~.*", "", "", v, 2, &out, why), TRACE_FILTERED);
    /* No output anywhere; no input anywhere. */
    fake(&f[0], "00000000000000d1", "", 100, "input.value", "q", NULL);
    assert_int_equal(assemble("", "", "", &f[0].s, 1, &out, why), TRACE_NO_ANSWER);
    fake(&f[0], "00000000000000d1", "", 100, "output.value", "a", NULL);
    assert_int_equal(assemble("", "", "", &f[0].s, 1, &out, why), TRACE_NO_QUESTION);
    /* A row that fails validation: an unknown field cannot come in, but an
     * over-long question can. */
    {
        char *big = malloc(70000);

        memset(big, 'x', 69999);
        big[69999] = '\0';
        fake(&f[0], "00000000000000d1", "", 100, "input.value", big, "output.value", "a", NULL);
        assert_int_equal(assemble("", "", "", &f[0].s, 1, &out, why), TRACE_INVALID);
        free(big);
    }
    /* Bad filters are refused when the rules are compiled. */
    conf_defaults(&cf);
    snprintf(cf.ingest_filters, sizeof cf.ingest_filters, "span:x~(unclosed");
    assert_null(tr = trace_rules_new(&cf, err, sizeof err));
    snprintf(cf.ingest_filters, sizeof cf.ingest_filters, "host:x=1");
    assert_null(tr = trace_rules_new(&cf, err, sizeof err));
    snprintf(cf.ingest_filters, sizeof cf.ingest_filters, "span:novalue");
    assert_null(tr = trace_rules_new(&cf, err, sizeof err));
    assert_string_equal(trace_outcome_name(TRACE_FILTERED), "filtered");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_order),
        cmocka_unit_test(test_genai),
        cmocka_unit_test(test_llm_only),
        cmocka_unit_test(test_traceloop_json),
        cmocka_unit_test(test_filters_and_outcomes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
