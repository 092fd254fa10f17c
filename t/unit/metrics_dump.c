/* metrics_dump.c - test fixture for t/metrics_oracle.py: reads JSON rows,
 * one per line, on stdin (question, answer, contexts, ground_truth,
 * reference_contexts) and prints one JSON line per row with every built-in
 * metric's score, or null. --jaro-winkler sets metrics_opts.jaro_winkler;
 * --stem instead reads one lower-case word per line and prints its stem. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "metrics.h"
#include "text.h"

static char *dup_str(json_object *o)
{
    return strdup(o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : "");
}

static int strings(json_object *arr, char ***v, size_t *n)
{
    size_t i, len = json_object_array_length(arr);
    int rc = 0;

    *n = 0;
    *v = calloc(len ? len : 1, sizeof(**v));
    if (!*v) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < len; i++) {
        (*v)[i] = dup_str(json_object_array_get_idx(arr, i));
        if (!(*v)[i]) {
            rc = -ENOMEM;
            goto out;
        }
        (*n)++;
    }
out:
    return rc;
}

static void free_strings(char **v, size_t n)
{
    size_t i;

    for (i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void row_release(row *r)
{
    free(r->question);
    free(r->answer);
    free(r->ground_truth);
    free_strings(r->contexts, r->n_contexts);
    free_strings(r->reference_contexts, r->n_reference_contexts);
    memset(r, 0, sizeof(*r));
}

/* Fill r from obj (the fixture's own parser: no limits, no synonyms). */
static int row_fill(row *r, json_object *obj)
{
    json_object *v;
    int rc = -ENOMEM;

    memset(r, 0, sizeof(*r));
    r->question = dup_str(json_object_object_get_ex(obj, "question", &v) ? v : NULL);
    r->answer = dup_str(json_object_object_get_ex(obj, "answer", &v) ? v : NULL);
    if (!r->question || !r->answer)
        goto out;
    if (json_object_object_get_ex(obj, "ground_truth", &v) &&
        json_object_is_type(v, json_type_string)) {
        r->ground_truth = dup_str(v);
        if (!r->ground_truth)
            goto out;
    }
    if (json_object_object_get_ex(obj, "contexts", &v) &&
        json_object_is_type(v, json_type_array)) {
        if (strings(v, &r->contexts, &r->n_contexts) < 0)
            goto out;
    }
    if (json_object_object_get_ex(obj, "reference_contexts", &v) &&
        json_object_is_type(v, json_type_array)) {
        if (strings(v, &r->reference_contexts, &r->n_reference_contexts) < 0)
            goto out;
    }
    rc = 0;
out:
    return rc;
}

static int dump_stems(void)
{
    text_stemmer *st = text_stemmer_new();
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 1;

    if (!st)
        goto out;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        const char *s;
        size_t k;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len <= 3) {
            puts(line);
            continue;
        }
        if (text_stem(st, line, (size_t)len, &s, &k) < 0)
            goto out;
        printf("%.*s\n", (int)k, s);
    }
    rc = 0;
out:
    free(line);
    text_stemmer_free(st);
    return rc;
}

int main(int argc, char **argv)
{
    metrics_opts o = {0};
    metrics_ctx *m = NULL;
    char *line = NULL;
    size_t cap = 0, i;
    int rc = 1;

    if (argc > 1 && strcmp(argv[1], "--stem") == 0)
        return dump_stems();
    if (argc > 1 && strcmp(argv[1], "--jaro-winkler") == 0)
        o.jaro_winkler = 1;
    m = metrics_ctx_new();
    if (!m)
        goto out;
    while (getline(&line, &cap, stdin) >= 0) {
        json_object *obj = json_tokener_parse(line);
        row r;
        if (!obj) {
            fprintf(stderr, "metrics_dump: bad JSON line\n");
            goto out;
        }
        if (row_fill(&r, obj) < 0) {
            row_release(&r);
            json_object_put(obj);
            goto out;
        }
        putchar('{');
        for (i = 0; metrics_builtin_names[i]; i++) {
            metric_result res;
            if (metrics_compute(m, &o, metrics_builtin_names[i], &r, &res) < 0) {
                row_release(&r);
                json_object_put(obj);
                goto out;
            }
            printf("%s\"%s\":", i ? "," : "", metrics_builtin_names[i]);
            if (res.is_null)
                printf("null");
            else
                printf("%.17g", res.score);
        }
        printf("}\n");
        row_release(&r);
        json_object_put(obj);
    }
    rc = 0;
out:
    free(line);
    metrics_ctx_free(m);
    return rc;
}
