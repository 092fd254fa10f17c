/* api_compare.c - GET /api/summary, /api/runs and /api/compare: the query
 * checked and refused with a 400 that names the parameter, the runs read by
 * runs.c on this thread's connection, the comparison made by compare.c. */
#include "api_compare.h"
#include "compare.h"
#include "report.h"
#include "runs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABEL 1024              /* a dataset or run name in a query */
#define MAX_METRIC_LIST (COMPARE_MAX_METRICS * COMPARE_METRIC_LEN)

static void db_error(http_req *r, int rc)
{
    if (rc == -ENOMEM)
        http_send_error(r, 503, "out_of_memory", "the answer cannot be built just now; try again",
                        NULL);
    else
        http_send_error(r, 503, "database_unavailable", rc == -EBUSY
                        ? "the database is busy; try again" : "the database cannot be read just now",
                        NULL);
}

/* A query parameter into buf, "" when absent. -1 after answering 400. */
static int param(http_req *r, const char *name, char *buf, size_t len)
{
    char msg[96];
    int rc = http_query(r, name, buf, len);

    if (rc < 0) {
        snprintf(msg, sizeof msg, "the query parameter %s is too long", name);
        http_send_error(r, 400, "invalid_query", msg, name);
        return -1;
    }
    if (rc == 0)
        buf[0] = '\0';
    return 0;
}

void api_compare_summary(db *rd, http_req *r)
{
    char dataset[MAX_LABEL], run[MAX_LABEL];
    json_object *o;
    int rc;

    if (param(r, "dataset", dataset, sizeof dataset) < 0 || param(r, "run", run, sizeof run) < 0)
        return;
    if ((rc = report_summary(rd, *dataset ? dataset : NULL, *run ? run : NULL, &o)) < 0)
        db_error(r, rc);
    else
        http_send_json(r, 200, o, NULL);
}

void api_compare_runs(db *rd, http_req *r)
{
    char dataset[MAX_LABEL];
    json_object *o;
    int rc;

    if (param(r, "dataset", dataset, sizeof dataset) < 0)
        return;
    if ((rc = runs_list(rd, *dataset ? dataset : NULL, &o)) < 0)
        db_error(r, rc);
    else
        http_send_json(r, 200, o, NULL);
}

/* ---- GET /api/compare ---- */

struct cq {                       /* the comparison's query */
    char dataset[MAX_LABEL], base[MAX_LABEL], cand[MAX_LABEL];
    char base_ds[MAX_LABEL], cand_ds[MAX_LABEL];
    char metric_list[MAX_METRIC_LIST], alpha[32], min_delta[32];
    const char *metrics[COMPARE_MAX_METRICS];
    compare_opts co;
};

static int bad(http_req *r, const char *field, const char *msg)
{
    http_send_error(r, 400, "invalid_query", msg, field);
    return -1;
}

static int number(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    if (!*s)
        return 0;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int split_metrics(struct cq *q)
{
    char *p, *save = NULL;

    if (!q->metric_list[0])
        return 0;
    for (p = strtok_r(q->metric_list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (q->co.n_metrics == COMPARE_MAX_METRICS || strlen(p) >= COMPARE_METRIC_LEN)
            return -1;
        q->metrics[q->co.n_metrics++] = p;
    }
    q->co.metrics = q->metrics;
    return q->co.n_metrics ? 0 : -1;
}

/* Read and check the query; -1 after answering 400. */
static int read_query(http_req *r, struct cq *q)
{
    compare_opts_default(&q->co);
    if (param(r, "dataset", q->dataset, sizeof q->dataset) < 0 ||
        param(r, "baseline", q->base, sizeof q->base) < 0 ||
        param(r, "candidate", q->cand, sizeof q->cand) < 0 ||
        param(r, "baseline_dataset", q->base_ds, sizeof q->base_ds) < 0 ||
        param(r, "candidate_dataset", q->cand_ds, sizeof q->cand_ds) < 0 ||
        param(r, "metrics", q->metric_list, sizeof q->metric_list) < 0 ||
        param(r, "alpha", q->alpha, sizeof q->alpha) < 0 ||
        param(r, "min_delta", q->min_delta, sizeof q->min_delta) < 0)
        return -1;
    if (!q->base_ds[0] && !q->dataset[0])
        return bad(r, "dataset", "dataset is required (or baseline_dataset and candidate_dataset)");
    if (!q->cand_ds[0] && !q->dataset[0])
        return bad(r, "dataset", "dataset is required (or baseline_dataset and candidate_dataset)");
    if (!q->base[0] && !q->base_ds[0])
        return bad(r, "baseline", "baseline is required: the run to compare against");
    if (!q->cand[0] && !q->cand_ds[0])
        return bad(r, "candidate", "candidate is required: the run under test");
    if (split_metrics(q) < 0)
        return bad(r, "metrics", "metrics must be a comma-separated list of metric names");
    if (number(q->alpha, 1e-12, 0.5, &q->co.alpha) < 0)
        return bad(r, "alpha", "alpha must be a number above 0 and at most 0.5");
    if (number(q->min_delta, 0, INFINITY, &q->co.min_delta) < 0)
        return bad(r, "min_delta", "min_delta must be a number >= 0");
    return 0;
}

/* {"dataset", "run", "rows"} of one side. */
static json_object *side_json(const char *dataset, const char *run, size_t rows)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "dataset", json_object_new_string(dataset));
    json_object_object_add(o, "run", run ? json_object_new_string(run) : NULL);
    json_object_object_add(o, "rows", json_object_new_int64((int64_t)rows));
    return o;
}

/* Load one side; -1 after answering. The fields named in a 400 are the
 * side's run and the dataset parameter it came from. */
static int load_side(db *rd, http_req *r, const char *ds, const char *run, compare_run *cr,
                     const char *run_field, const char *ds_field)
{
    char err[512];
    int rc = runs_load(rd, ds, run, cr, err, sizeof err);

    if (rc == -ENOENT)
        http_send_error(r, 400, "unknown_dataset", err, ds_field);
    else if (rc == -ESRCH)
        http_send_error(r, 400, "unknown_run", err, run_field);
    else if (rc < 0)
        db_error(r, rc);
    return rc < 0 ? -1 : 0;
}

void api_compare_compare(db *rd, http_req *r)
{
    struct cq *q = calloc(1, sizeof *q);
    compare_run b, c;
    compare_result res;
    json_object *o;
    const char *bds, *cds, *brun, *crun;
    char err[256];

    compare_run_init(&b, NULL);
    compare_run_init(&c, NULL);
    memset(&res, 0, sizeof res);
    if (!q) {
        db_error(r, -ENOMEM);
        goto out;
    }
    if (read_query(r, q) < 0)
        goto out;
    bds = q->base_ds[0] ? q->base_ds : q->dataset;
    cds = q->cand_ds[0] ? q->cand_ds : q->dataset;
    brun = q->base[0] ? q->base : NULL;
    crun = q->cand[0] ? q->cand : NULL;
    if (load_side(rd, r, bds, brun, &b, "baseline",
                  q->base_ds[0] ? "baseline_dataset" : "dataset") < 0 ||
        load_side(rd, r, cds, crun, &c, "candidate",
                  q->cand_ds[0] ? "candidate_dataset" : "dataset") < 0)
        goto out;
    if (compare_runs(&b, &c, &q->co, &res, err, sizeof err) < 0) {
        http_send_error(r, 400, "invalid_query", err, "metrics");
        goto out;
    }
    o = compare_result_json(&res, &q->co);
    json_object_object_add(o, "baseline", side_json(bds, brun, res.base_rows));
    json_object_object_add(o, "candidate", side_json(cds, crun, res.cand_rows));
    json_object_object_add(o, "unkeyed",
                           json_object_new_int64((int64_t)(res.base_unkeyed + res.cand_unkeyed)));
    json_object_object_add(o, "duplicates",
                           json_object_new_int64((int64_t)(res.base_dups + res.cand_dups)));
    http_send_json(r, 200, o, NULL);
out:
    compare_result_free(&res);
    compare_run_free(&b);
    compare_run_free(&c);
    free(q);
}
