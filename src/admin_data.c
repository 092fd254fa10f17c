/* admin_data.c - the labels, agreement and reaggregate commands of
 * `ragrade admin`, moved out of admin.c, whose cmds[] table names them. */
#include "admin_int.h"
#include "aggregate.h"
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
