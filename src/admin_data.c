/* admin_data.c - the labels, agreement and reaggregate commands of
 * `ragrade admin`, and stats, moved out of admin.c, whose cmds[] table names them. */
#include "admin_int.h"
#include "aggregate.h"
#include "clock.h"
#include "report.h"
#include "labels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_labels(admin *a, const args *g)
{
    const char *op = g->ops[0];
    char err[512];
    FILE *in = NULL;
    size_t n = 0;
    int rc = ADM_USAGE;

    if (!strcmp(op, "import") && g->n_ops == 2) {
        if (!(in = !strcmp(g->ops[1], "-") ? stdin : fopen(g->ops[1], "r")))
            rc = admin_fail(a, "cannot open %s", g->ops[1]);
        else if ((rc = admin_setup(a, NEED_WRITE)) == ADM_OK && labels_import(a->d, in, &n, err, sizeof err) < 0)
            rc = admin_fail(a, "%s", err);
        else if (rc == ADM_OK)
            printf("imported %zu labels\n", n);
    } else if (!strcmp(op, "export") && g->n_ops == 1) {
        if ((rc = admin_setup(a, NEED_READ)) == ADM_OK &&
            labels_export(a->d, stdout, g->dataset, g->format && !strcmp(g->format, "csv"),
                          !!(g->flags & O_HISTORY), &n, err, sizeof err) < 0)
            rc = admin_fail(a, "%s", err);
    } else {
        rc = admin_bad_usage(a, "%s", "want 'labels import FILE' or 'labels export'");
    }
    if (in && in != stdin)
        fclose(in);
    return rc;
}

static void print_agreement(json_object *o)
{
    static const char *const keys[] = { "pairs", "sampled_pairs", "accuracy", "kappa", "kappa_ci95",
                                        "confusion", "spearman", "kendall", "mae", "corrected" };
    json_object *v;
    size_t i;

    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (json_object_object_get_ex(o, keys[i], &v))
            printf("%-14s %s\n", keys[i], v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_SPACED) : "-");
}

int cmd_agreement(admin *a, const args *g)
{
    labels_filter f = { g->dataset, g->run, g->metric };
    json_object *o = NULL;
    int rc;

    if (!g->metric)
        return admin_bad_usage(a, "%s", "--metric M is needed");
    if ((rc = admin_setup(a, NEED_READ)) != ADM_OK)
        goto out;
    if ((rc = labels_agreement_json(a->d, &f, &o)) < 0) {
        rc = rc == -ENOENT ? admin_fail(a, "the metric %s has no known scale", g->metric)
           : rc == -ENOTSUP ? admin_fail(a, "%s", "this database has no runs (--run needs issue 16's migration)")
           : admin_sql_fail(a, "reading the labels");
        goto out;
    }
    if (g->flags & O_JSON)
        admin_print_json(o);
    else
        print_agreement(o);
    rc = ADM_OK;
out:
    json_object_put(o);
    return rc;
}

/* Rebuild the summary aggregates from the rows (after an outside write). */
int cmd_reaggregate(admin *a, const args *g)
{
    char err[512];
    int rc;

    if ((rc = admin_setup(a, NEED_WRITE)) != ADM_OK)
        goto out;
    if (aggregate_rebuild(a->d, err, sizeof err) < 0)
        rc = admin_fail(a, "%s", err);
    else
        rc = aggregate_check(a->d, stdout) == 1 ? ADM_OK : ADM_FAIL;
out:
    return rc;
}

/* ---- config ---- */

static void print_stats(const admin *a, json_object *sum, const args *g, const char *oldest)
{
    json_object *counts, *metrics, *tokens, *v;
    int64_t total = 0, ms;
    char age[32];
    int i;

    json_object_object_get_ex(sum, "counts", &counts);
    json_object_object_get_ex(sum, "metrics", &metrics);
    json_object_object_get_ex(sum, "tokens", &tokens);
    printf("database       %s\n", a->cf->db_path);
    if (g->dataset)
        printf("dataset        %s\n", g->dataset);
    if (g->run)
        printf("run            %s\n", g->run);
    printf("rows          ");
    for (i = 0; i < ROW_N_STATUS; i++) {
        json_object_object_get_ex(counts, row_status_names[i], &v);
        total += json_object_get_int64(v);
        printf(" %s %lld%s", row_status_names[i], (long long)json_object_get_int64(v),
               i < ROW_N_STATUS - 1 ? "," : "");
    }
    printf("; total %lld\n", (long long)total);
    if (oldest && clock_parse_iso(oldest, &ms) == 0) {
        admin_fmt_age(clock_wall_ms() - ms, age, sizeof age);
        printf("oldest queued  %s (%s ago)\n", oldest, age);
    } else {
        printf("oldest queued  none\n");
    }
    json_object_object_get_ex(tokens, "prompt", &v);
    printf("tokens         prompt %lld", (long long)json_object_get_int64(v));
    json_object_object_get_ex(tokens, "completion", &v);
    printf(", completion %lld\n", (long long)json_object_get_int64(v));
    if (json_object_object_length(metrics) == 0) {
        printf("metrics        none scored yet\n");
        return;
    }
    printf("\n%-28s %8s %8s %8s %8s %19s %8s %8s\n", "metric (done rows)", "n", "scored", "nulls",
           "mean", "95% CI", "min", "max");
    json_object_object_foreach(metrics, name, m) {
        json_object *f[7];
        static const char *const keys[7] = { "n", "scored", "nulls", "mean", "min", "max", "ci95" };
        char ci[48] = "-";

        for (i = 0; i < 7; i++)
            json_object_object_get_ex(m, keys[i], &f[i]);
        printf("%-28s %8lld %8lld %8lld", name, (long long)json_object_get_int64(f[0]),
               (long long)json_object_get_int64(f[1]), (long long)json_object_get_int64(f[2]));
        if (json_object_array_length(f[6]) == 2 && json_object_array_get_idx(f[6], 0))
            snprintf(ci, sizeof ci, "[%.4f, %.4f]", json_object_get_double(json_object_array_get_idx(f[6], 0)),
                     json_object_get_double(json_object_array_get_idx(f[6], 1)));
        if (f[3])
            printf(" %8.4f %19s %8.4f %8.4f\n", json_object_get_double(f[3]), ci,
                   json_object_get_double(f[4]), json_object_get_double(f[5]));
        else
            printf(" %8s %19s %8s %8s\n", "-", "-", "-", "-");
    }
}

int cmd_stats(admin *a, const args *g)
{
    json_object *sum = NULL, *v;
    const char *oldest = NULL;
    int rc;

    if ((rc = admin_setup(a, NEED_READ)) != ADM_OK)
        goto out;
    /* The counts and the oldest queued row, from one snapshot. */
    if (report_stats(a->d, g->dataset, g->run, &sum) < 0) {
        rc = admin_sql_fail(a, "reading the summary");
        goto out;
    }
    if (json_object_object_get_ex(sum, "oldest_queued", &v) && v)
        oldest = json_object_get_string(v);
    if (g->flags & O_JSON)
        admin_print_json(sum);
    else
        print_stats(a, sum, g, oldest);
out:
    json_object_put(sum);
    return rc;
}
