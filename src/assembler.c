/* assembler.c - drives ingest_assemble from the scheduler thread: the
 * checkpointer's role (db_checkpointer) elects the one process that
 * assembles, a pass runs once a second or at once after a full pass, and
 * the insert callback stores the row (db_insert) and its trace and span
 * ids (spanstore_link) inside the pass's transaction. */
#include "assembler.h"
#include "clock.h"
#include "db_int.h"
#include "ingest.h"
#include "judge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASS_MS 1000              /* between passes when none was full */
#define PASS_TRACES 1024          /* traces per pass (one write transaction): the turn is
                                     * taken once per pass, and under a flood of exports each
                                     * take waits behind several of theirs */

/* Owns ss and tr; d and cf are borrowed (the scheduler's). */
struct assembler {
    const conf *cf;
    db *d;
    spanstore *ss;
    trace_rules *tr;
    int64_t next_ms;              /* the next pass is due then */
};

assembler *assembler_new(const conf *cf, db *d, char *err, size_t errlen)
{
    assembler *a = calloc(1, sizeof *a);

    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->cf = cf;
    a->d = d;
    if (!(a->ss = spanstore_new(d, err, errlen)) || !(a->tr = trace_rules_new(cf, err, errlen))) {
        assembler_free(a);
        return NULL;
    }
    return a;
}

void assembler_free(assembler *a)
{
    if (!a)
        return;
    trace_rules_free(a->tr);
    spanstore_free(a->ss);
    free(a);
}

/* ingest_insert_fn: the row, with the ingest.run label as its run, then its
 * trace and span ids; inside the pass's transaction. */
static int insert_row(void *ctx, const trace_row *t, int64_t *id, char *err, size_t errlen)
{
    assembler *a = ctx;
    row r = t->r;
    char now[32];
    int rc;

    if (!r.run)
        r.run = t->run;
    clock_iso(clock_wall_ms(), now, sizeof now);
    if ((rc = db_insert(a->d, &r, 1, NULL, NULL, a->cf->max_attempts, now, id)) < 0 ||
        (rc = spanstore_link(a->ss, *id, t->trace_id, t->span_id)) < 0)
        snprintf(err, errlen, "assembler: storing the row of trace %s: %s", t->trace_id,
                 db_errmsg(a->d));
    return rc;
}

int assembler_tick(assembler *a, int64_t now_ms, int64_t *next_ms, char *err, size_t errlen)
{
    ingest_pass pass;
    int rc;

    if (now_ms < a->next_ms) {
        *next_ms = a->next_ms;
        return 0;
    }
    a->next_ms = now_ms + PASS_MS;
    *next_ms = a->next_ms;
    if (!db_checkpointer(a->d))
        return 0;
    rc = ingest_assemble(a->ss, a->tr, a->cf, judge_metric_known, insert_row, a, now_ms,
                         PASS_TRACES, &pass, err, errlen);
    if (rc < 0)
        return rc;
    if (pass.more)
        a->next_ms = *next_ms = now_ms;
    return (int)pass.outcomes[TRACE_ROW];
}
