/* spanstore_test.c - unit tests of span storage (spanstore.c) on a real
 * SQLite file: db_open's schema plus sql/003_spans.sql (applied here until
 * db.c's migrations include it). A trace split over three puts in shuffled
 * order, a duplicate put, the ready and expired lists by time, the spans
 * fetched back equal to those stored, late spans of a finished trace
 * ignored, the per-trace cap, purge, the counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "db_int.h"
#include "otlp.h"
#include "spanstore.h"

#define TA "0af7651916cd43dd8448eb211c80319c"
#define TB "1bf7651916cd43dd8448eb211c80319d"

struct fixture {
    char dir[64], path[96];
    db *d;
    spanstore *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *src = getenv("RAGRADE_SRCDIR");
    char err[256], sqlpath[1024], *text;
    FILE *fp;
    long n;

    snprintf(f->dir, sizeof f->dir, "/tmp/ragrade-spans-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    f->d = db_open(f->path, 5000, 0, err, sizeof err);
    assert_non_null(f->d);
    snprintf(sqlpath, sizeof sqlpath, "%s/sql/003_spans.sql", src ? src : ".");
    fp = fopen(sqlpath, "r");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    text = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    assert_int_equal(sqlite3_exec(db_handle(f->d), text, NULL, NULL, NULL), SQLITE_OK);
    free(text);
    f->s = spanstore_new(f->d, err, sizeof err);
    assert_non_null(f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[160];

    spanstore_free(f->s);
    db_close(f->d);
    snprintf(p, sizeof p, "%s/t.db", f->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/t.db-wal", f->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/t.db-shm", f->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/t.db-write.lock", f->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/t.db-checkpoint.lock", f->dir);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

static const otlp_attrs res = { (otlp_kv[]){ { "service.name", "svc \"q\"" } }, 1 };

static otlp_span mk(const char *trace, const char *id, const char *parent, uint64_t start,
                    uint64_t end, otlp_kv *kv, size_t n)
{
    otlp_span s;

    memset(&s, 0, sizeof s);
    snprintf(s.trace_id, sizeof s.trace_id, "%s", trace);
    snprintf(s.span_id, sizeof s.span_id, "%s", id);
    snprintf(s.parent_id, sizeof s.parent_id, "%s", parent);
    s.name = (char *)"n";
    s.kind = 3;
    s.start_ns = start;
    s.end_ns = end;
    s.attrs.v = kv;
    s.attrs.n = n;
    s.resource = &res;
    return s;
}

static void put(struct fixture *f, otlp_span *v, size_t n, int64_t now, spanstore_stats *st)
{
    const otlp_span *p[8];
    char err[256];
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = &v[i];
    assert_int_equal(spanstore_put(f->s, p, n, 0, 0, 4, now, st, err, sizeof err), 0);
}

static void test_split_duplicate_ready(void **state)
{
    struct fixture *f = *state;
    otlp_kv kv[] = { { "input.value", "q \xc3\xa9" }, { "retrieval.documents.0.document.content", "d" } };
    otlp_span root = mk(TA, "00000000000000a1", "", 100, 900, kv, 1);
    otlp_span c1 = mk(TA, "00000000000000a2", "00000000000000a1", 200, 300, kv + 1, 1);
    otlp_span c2 = mk(TA, "00000000000000a3", "00000000000000a1", 400, 500, NULL, 0);
    otlp_span open_root = mk(TB, "00000000000000b1", "", 100, 0, NULL, 0);
    otlp_span batch[3];
    char ids[4][OTLP_TRACE_HEX], err[256];
    spanstore_stats st;
    spanstore_trace *t;
    size_t n;

    /* Children first, the root last, over three requests. */
    batch[0] = c2, batch[1] = open_root;
    put(f, batch, 2, 1000, &st);
    assert_int_equal(st.stored, 2);
    put(f, &c1, 1, 1500, &st);
    assert_int_equal(spanstore_ready(f->s, 100000, 5000, ids, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);                               /* no root ended yet */
    put(f, &root, 1, 2000, &st);
    /* The exporter retries the whole trace. */
    batch[0] = root, batch[1] = c1, batch[2] = c2;
    put(f, batch, 3, 2500, &st);
    assert_int_equal(st.stored, 0);
    assert_int_equal(st.duplicate, 3);
    assert_int_equal(spanstore_counter(f->s, "spans_received"), 7);
    assert_int_equal(spanstore_counter(f->s, "spans_duplicate"), 3);
    /* Quiet for assemble_ms after the last new span (2000, not 2500). */
    assert_int_equal(spanstore_ready(f->s, 6999, 5000, ids, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(spanstore_ready(f->s, 7000, 5000, ids, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], TA);
    assert_int_equal(spanstore_still_ready(f->s, TA, 7000, 5000), 1);
    assert_int_equal(spanstore_still_ready(f->s, TA, 6999, 5000), 0);
    assert_int_equal(spanstore_still_ready(f->s, TB, 7000, 5000), 0);   /* root not ended */
    /* Fetched back in start order, with their attributes and resource. */
    assert_int_equal(spanstore_fetch(f->s, TA, 100, &t, err, sizeof err), 0);
    assert_int_equal(t->n, 3);
    assert_string_equal(t->spans[0].span_id, "00000000000000a1");
    assert_string_equal(t->spans[0].parent_id, "");
    assert_int_equal(t->spans[0].end_ns, 900);
    assert_int_equal(t->spans[0].kind, 3);
    assert_string_equal(otlp_attr(&t->spans[0].attrs, "input.value"), "q \xc3\xa9");
    assert_string_equal(t->spans[1].parent_id, "00000000000000a1");
    assert_string_equal(otlp_attr(&t->spans[1].attrs, "retrieval.documents.0.document.content"), "d");
    assert_string_equal(otlp_attr(t->spans[2].resource, "service.name"), "svc \"q\"");
    spanstore_trace_free(t);
    /* Done: spans gone; a late retry stores nothing. */
    assert_int_equal(spanstore_finish(f->s, TA, "row", 42, 8000, err, sizeof err), 0);
    assert_int_equal(spanstore_still_ready(f->s, TA, 8000, 5000), 0);   /* finished */
    assert_int_equal(spanstore_fetch(f->s, TA, 100, &t, err, sizeof err), -ENOENT);
    put(f, batch, 3, 9000, &st);
    assert_int_equal(st.late, 3);
    assert_int_equal(st.stored, 0);
    assert_int_equal(spanstore_counter(f->s, "traces_row"), 1);
    assert_int_equal(spanstore_pending(f->s), 1);          /* TB */
    /* TB never ends: expired after max_wait_ms from its first span. */
    assert_int_equal(spanstore_expired(f->s, 1000 + 59999, 60000, ids, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(spanstore_expired(f->s, 1000 + 60000, 60000, ids, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], TB);
    assert_int_equal(spanstore_finish(f->s, TB, "expired", 0, 70000, err, sizeof err), 0);
    assert_int_equal(spanstore_counter(f->s, "traces_expired"), 1);
    assert_int_equal(spanstore_pending(f->s), 0);
    assert_int_equal(spanstore_purge_done(f->s, 8001, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);                                /* TA, done at 8000 */
    put(f, batch, 3, 90000, &st);                          /* TA is new again */
    assert_int_equal(st.stored, 3);
    {
        char text[2048], small[64];
        size_t off = 0;

        assert_int_equal(spanstore_prom(f->s, text, sizeof text, &off), 0);
        assert_int_equal(off, strlen(text));
        assert_non_null(strstr(text, "\nragrade_ingest_traces_pending 1\n"));
        assert_non_null(strstr(text, "\nragrade_ingest_spans_total{result=\"late\"} 3\n"));
        assert_non_null(strstr(text, "\nragrade_ingest_traces_total{outcome=\"expired\"} 1\n"));
        off = 0;
        assert_int_equal(spanstore_prom(f->s, small, sizeof small, &off), -ENOSPC);
        assert_true(off < sizeof small);
    }
}

/* More than max_trace_spans (4) in one trace: the rest refused. */
static void test_cap(void **state)
{
    struct fixture *f = *state;
    otlp_span v[6];
    char id[17];
    spanstore_stats st;
    int i;

    for (i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "00000000000000c%d", i + 1);
        v[i] = mk(TB, id, i ? "00000000000000c1" : "", 10, 20, NULL, 0);
    }
    put(f, v, 6, 1000, &st);
    assert_int_equal(st.stored, 4);
    assert_int_equal(st.over_cap, 2);
    assert_int_equal(spanstore_counter(f->s, "spans_over_cap"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_split_duplicate_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
