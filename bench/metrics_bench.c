/* metrics_bench.c - rows per second of the default built-in metrics on one
 * core: reads one JSON row (default: ../shared/bench/peers/payload.json),
 * computes every metric of metrics_builtin_defaults on it for a few
 * seconds and prints the rate.
 * Usage: metrics_bench [payload.json [seconds]] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "metrics.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *str(json_object *obj, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* The row's strings stay owned by obj; the bench only reads them. */
static int fill(row *r, json_object *obj)
{
    json_object *v;
    size_t i, n;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    r->question = (char *)str(obj, "question");
    r->answer = (char *)str(obj, "answer");
    r->ground_truth = (char *)str(obj, "ground_truth");
    if (!r->answer) {
        rc = -EINVAL;
        goto out;
    }
    if (json_object_object_get_ex(obj, "contexts", &v) &&
        json_object_is_type(v, json_type_array)) {
        n = json_object_array_length(v);
        r->contexts = calloc(n ? n : 1, sizeof(*r->contexts));
        if (!r->contexts) {
            rc = -ENOMEM;
            goto out;
        }
        for (i = 0; i < n; i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(v, i));
            r->contexts[i] = (char *)(s ? s : "");
        }
        r->n_contexts = n;
    }
out:
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "../shared/bench/peers/payload.json";
    double secs = argc > 2 ? atof(argv[2]) : 3.0, t0, t;
    json_object *obj = json_object_from_file(path);
    metrics_ctx *m = metrics_ctx_new();
    metrics_opts o = {0};
    metric_result res;
    long rows = 0;
    size_t i;
    int rc = 1;
    row r;

    memset(&r, 0, sizeof(r));
    if (!obj || !m || fill(&r, obj) < 0) {
        fprintf(stderr, "metrics_bench: cannot read a row from %s\n", path);
        goto out;
    }
    t0 = now();
    do {
        for (i = 0; metrics_builtin_defaults[i]; i++) {
            if (metrics_compute(m, &o, metrics_builtin_defaults[i], &r, &res) < 0) {
                fprintf(stderr, "metrics_bench: %s failed\n", metrics_builtin_defaults[i]);
                goto out;
            }
        }
        rows++;
        t = now() - t0;
    } while (t < secs);
    printf("metrics_bench: %ld rows in %.2f s: %.0f rows/s (one core;", rows, t, rows / t);
    for (i = 0; metrics_builtin_defaults[i]; i++)
        printf(" %s", metrics_builtin_defaults[i]);
    printf(")\n");
    rc = 0;
out:
    free(r.contexts);
    metrics_ctx_free(m);
    json_object_put(obj);
    return rc;
}
