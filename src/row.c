/* row.c - parse and validate evaluation rows from JSON, within the limits
 * of conf. Error messages name the field ("contexts[2]") so that a client
 * can fix its request without reading our source. */
#include "row.h"
#include "jstrict.h"
#include "utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const row_status_names[ROW_N_STATUS + 1] = {
    [ROW_QUEUED] = "queued", [ROW_RUNNING] = "running", [ROW_DONE] = "done",
    [ROW_FAILED] = "failed", [ROW_N_STATUS] = NULL,
};

int row_status_of(const char *s)
{
    int i;

    for (i = 0; i < ROW_N_STATUS; i++)
        if (strcmp(row_status_names[i], s) == 0)
            return i;
    return -1;
}

static void fail(row_error *e, const char *prefix, const char *field, const char *fmt, const char *arg)
{
    snprintf(e->field, sizeof e->field, "%s%s", prefix, field);
    snprintf(e->message, sizeof e->message, fmt, e->field, arg ? arg : "");
    utf8_trim(e->field);          /* never half a character in an answer */
    utf8_trim(e->message);
}

/* Copy a JSON string field into *out; -EINVAL with e filled if it is not a
 * string, too long or not UTF-8. */
static int take_string(json_object *v, size_t max, const char *prefix, const char *field,
                       char **out, row_error *e)
{
    char lim[32];
    const char *s;
    size_t n;
    int rc = -EINVAL;

    if (!json_object_is_type(v, json_type_string)) {
        fail(e, prefix, field, "%s must be a string", NULL);
        goto out;
    }
    s = json_object_get_string(v);
    n = (size_t)json_object_get_string_len(v);
    if (n > max) {
        snprintf(lim, sizeof lim, "%zu", max);
        fail(e, prefix, field, "%s is longer than %s bytes", lim);
        goto out;
    }
    if (!utf8_valid(s, n)) {
        fail(e, prefix, field, "%s is not valid UTF-8 text (or holds a NUL character)", NULL);
        goto out;
    }
    if (!(*out = malloc(n + 1))) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(*out, s, n + 1);
    rc = 0;
out:
    return rc;
}

static int take_strings(json_object *v, size_t max_items, size_t max_len, const char *prefix,
                        const char *field, char ***out, size_t *n, row_error *e)
{
    char name[ROW_ERR_FIELD], lim[32];
    size_t i, len;
    int rc = -EINVAL;

    if (!json_object_is_type(v, json_type_array)) {
        fail(e, prefix, field, "%s must be an array of strings", NULL);
        goto out;
    }
    len = json_object_array_length(v);
    if (len > max_items) {
        snprintf(lim, sizeof lim, "%zu", max_items);
        fail(e, prefix, field, "%s holds more than %s items", lim);
        goto out;
    }
    if (!(*out = calloc(len ? len : 1, sizeof **out))) {
        rc = -ENOMEM;
        goto out;
    }
    *n = len;
    for (i = 0; i < len; i++) {
        snprintf(name, sizeof name, "%s[%zu]", field, i);
        if ((rc = take_string(json_object_array_get_idx(v, i), max_len, prefix, name,
                              &(*out)[i], e)) < 0)
            goto out;
    }
    rc = 0;
out:
    return rc;
}

/* The value of the first of two synonyms present; -EINVAL if both are. */
static int pick(json_object *obj, const char *a, const char *b, const char *prefix,
                json_object **v, row_error *e)
{
    json_object *va = NULL, *vb = NULL;
    char msg[96];
    int rc = 0;

    json_object_object_get_ex(obj, a, &va);
    json_object_object_get_ex(obj, b, &vb);
    if (va && vb) {
        snprintf(msg, sizeof msg, "%%s and %s are synonyms: give one", b);
        fail(e, prefix, a, msg, NULL);
        rc = -EINVAL;
    }
    *v = va ? va : vb;
    return rc;
}

/* An optional label (run, item): absent or null, else a non-empty string. */
static int take_label(json_object *obj, const char *field, size_t max, const char *prefix,
                      char **out, row_error *e)
{
    json_object *v;
    int rc;

    if (!json_object_object_get_ex(obj, field, &v) || json_object_is_type(v, json_type_null))
        return 0;
    if ((rc = take_string(v, max, prefix, field, out, e)) < 0)
        return rc;
    if (!**out) {
        fail(e, prefix, field, "%s must not be empty (leave it out instead)", NULL);
        return -EINVAL;
    }
    return 0;
}

static int known_field(const char *k)
{
    static const char *const fields[] = {
        "question", "user_input", "answer", "response", "contexts", "retrieved_contexts",
        "ground_truth", "reference", "reference_contexts", "metrics", "dataset", "id",
        "run", "item", NULL
    };
    int i;

    for (i = 0; fields[i]; i++)
        if (!strcmp(k, fields[i]))
            return 1;
    return 0;
}

/* Which metric names are known: a plain callback or one with an argument. */
struct known {
    row_metric_known_fn plain;
    row_metric_known_arg_fn fn;
    void *arg;
};

static const char *const *row_set(const char *name);

static int is_known(const struct known *k, const conf *cf, const char *name)
{
    const char *const *set = row_set(name);

    if (set) {                    /* a set is known when its members are */
        for (; *set; set++)
            if (!is_known(k, cf, *set))
                return 0;
        return 1;
    }
    if (k->fn)
        return k->fn(k->arg, cf, name);
    return !k->plain || k->plain(cf, name);
}

/* The named sets of metrics a row may ask for by one name. */
static const char *const triad[] = { "context_relevance", "faithfulness", "answer_relevancy",
                                     NULL };

static const char *const *row_set(const char *name)
{
    return !strcmp(name, "triad") ? triad : NULL;
}

const char *const *row_metric_set(const char *name) { return row_set(name); }

/* Replace a set's name in r->metrics by its members (those not named
 * already). 0 or -ENOMEM. */
static int expand_sets(row *r)
{
    const char *const *set;
    char **v;
    size_t i, j, k, n;

    for (i = 0; i < r->n_metrics; i++) {
        if (!(set = row_set(r->metrics[i])))
            continue;
        for (n = 0; set[n]; n++)
            ;
        if (!(v = realloc(r->metrics, (r->n_metrics + n) * sizeof *v)))
            return -ENOMEM;
        r->metrics = v;
        free(v[i]);
        memmove(&v[i], &v[i + 1], (r->n_metrics - i - 1) * sizeof *v);
        r->n_metrics--;
        for (k = 0; set[k]; k++) {
            for (j = 0; j < r->n_metrics && strcmp(v[j], set[k]); j++)
                ;
            if (j == r->n_metrics && r->n_metrics < ROW_MAX_METRICS) {
                if (!(v[r->n_metrics] = strdup(set[k])))
                    return -ENOMEM;
                r->n_metrics++;
            }
        }
        i = (size_t)-1;           /* start again: the list moved */
    }
    return 0;
}

/* The metrics list v: at least one, each known and named once. */
static int take_metrics(row *r, json_object *v, const conf *cf, const struct known *known,
                        const char *prefix, row_error *e)
{
    char name[ROW_ERR_FIELD];
    size_t i, j;
    int rc;

    if ((rc = take_strings(v, ROW_MAX_METRICS, ROW_METRIC_NAME - 1, prefix, "metrics", &r->metrics,
                           &r->n_metrics, e)) < 0)
        goto out;
    rc = -EINVAL;
    if (r->n_metrics == 0) {
        fail(e, prefix, "metrics", "%s must name at least one metric (or be left out for the defaults)", NULL);
        goto out;
    }
    for (i = 0; i < r->n_metrics; i++) {
        snprintf(name, sizeof name, "metrics[%zu]", i);
        if (!is_known(known, cf, r->metrics[i])) {
            fail(e, prefix, name, "%s: unknown metric '%s' (GET /api/health lists them)", r->metrics[i]);
            goto out;
        }
        for (j = 0; j < i; j++)
            if (!strcmp(r->metrics[i], r->metrics[j])) {
                fail(e, prefix, name, "%s: metric '%s' is named twice", r->metrics[i]);
                goto out;
            }
    }
    if ((rc = expand_sets(r)) < 0)
        fail(e, prefix, "metrics", "%s: out of memory", NULL);
out:
    return rc;
}

static int from_json(row *r, json_object *obj, const conf *cf, const struct known *known,
                     const char *prefix, row_error *e)
{
    json_object *v;
    int rc = -EINVAL;

    memset(r, 0, sizeof *r);
    if (!json_object_is_type(obj, json_type_object)) {
        fail(e, prefix, "", "%s must be a JSON object with question, answer and contexts", NULL);
        if (!*prefix)
            snprintf(e->message, sizeof e->message,
                     "the body must be an object or an array (of objects with question, answer and contexts)");
        goto out;
    }
    json_object_object_foreach(obj, key, val) {
        (void)val;
        if (!known_field(key)) {
            fail(e, prefix, key, "%s is not a field of an evaluation row", NULL);
            goto out;
        }
    }
    if (json_object_object_get_ex(obj, "id", &v) && !(json_object_is_type(v, json_type_int) &&
                                                        json_object_get_int64(v) > 0)) {
        /* Accepted only for `ragrade admin export`'s lines; never used. */
        fail(e, prefix, "id", "%s is not used, but when given (as export writes it) must be a positive integer",
             NULL);
        goto out;
    }
    if ((rc = pick(obj, "question", "user_input", prefix, &v, e)) < 0)
        goto out;
    rc = -EINVAL;
    if (!v) {
        fail(e, prefix, "question", "%s is required (or user_input)", NULL);
        goto out;
    }
    if ((rc = take_string(v, cf->max_field, prefix, "question", &r->question, e)) < 0)
        goto out;
    if ((rc = pick(obj, "answer", "response", prefix, &v, e)) < 0)
        goto out;
    rc = -EINVAL;
    if (!v) {
        fail(e, prefix, "answer", "%s is required (or response)", NULL);
        goto out;
    }
    if ((rc = take_string(v, cf->max_field, prefix, "answer", &r->answer, e)) < 0)
        goto out;
    if ((rc = pick(obj, "contexts", "retrieved_contexts", prefix, &v, e)) < 0)
        goto out;
    rc = -EINVAL;
    if (!v) {
        fail(e, prefix, "contexts", "%s is required (or retrieved_contexts): an array of strings, which may be empty", NULL);
        goto out;
    }
    if ((rc = take_strings(v, (size_t)cf->max_contexts, cf->max_field, prefix, "contexts",
                           &r->contexts, &r->n_contexts, e)) < 0)
        goto out;
    if ((rc = pick(obj, "ground_truth", "reference", prefix, &v, e)) < 0)
        goto out;
    if (v && !json_object_is_type(v, json_type_null) &&
        (rc = take_string(v, cf->max_field, prefix, "ground_truth", &r->ground_truth, e)) < 0)
        goto out;
    if (json_object_object_get_ex(obj, "reference_contexts", &v) && !json_object_is_type(v, json_type_null) &&
        (rc = take_strings(v, (size_t)cf->max_contexts, cf->max_field, prefix, "reference_contexts",
                           &r->reference_contexts, &r->n_reference_contexts, e)) < 0)
        goto out;
    if (json_object_object_get_ex(obj, "dataset", &v) && !json_object_is_type(v, json_type_null) &&
        (rc = take_string(v, cf->max_dataset, prefix, "dataset", &r->dataset, e)) < 0)
        goto out;
    if ((rc = take_label(obj, "run", ROW_MAX_RUN, prefix, &r->run, e)) < 0 ||
        (rc = take_label(obj, "item", ROW_MAX_ITEM, prefix, &r->item, e)) < 0)
        goto out;
    rc = -EINVAL;
    if (r->dataset && !r->dataset[0]) {
        /* ?dataset= means "any": an empty label could never be filtered on. */
        fail(e, prefix, "dataset", "%s must not be empty: leave it out (or null) for none", NULL);
        goto out;
    }
    if (json_object_object_get_ex(obj, "metrics", &v) && !json_object_is_type(v, json_type_null) &&
        (rc = take_metrics(r, v, cf, known, prefix, e)) < 0)
        goto out;
    rc = 0;
out:
    return rc;
}

int row_from_json(row *r, json_object *obj, const conf *cf, row_metric_known_fn known,
                  const char *prefix, row_error *e)
{
    struct known k = { known, NULL, NULL };

    return from_json(r, obj, cf, &k, prefix, e);
}

int row_from_json_arg(row *r, json_object *obj, const conf *cf, row_metric_known_arg_fn known,
                      void *arg, const char *prefix, row_error *e)
{
    struct known k = { NULL, known, arg };

    return from_json(r, obj, cf, &k, prefix, e);
}

static int parse_body(const char *body, size_t len, const conf *cf, const struct known *known,
                      row **rows, size_t *n, int *is_batch, row_error *e);

int row_parse_body(const char *body, size_t len, const conf *cf, row_metric_known_fn known,
                   row **rows, size_t *n, int *is_batch, row_error *e)
{
    struct known k = { known, NULL, NULL };

    return parse_body(body, len, cf, &k, rows, n, is_batch, e);
}

int row_parse_body_arg(const char *body, size_t len, const conf *cf,
                       row_metric_known_arg_fn known, void *arg, row **rows, size_t *n,
                       int *is_batch, row_error *e)
{
    struct known k = { NULL, known, arg };

    return parse_body(body, len, cf, &k, rows, n, is_batch, e);
}

static int parse_body(const char *body, size_t len, const conf *cf, const struct known *known,
                      row **rows, size_t *n, int *is_batch, row_error *e)
{
    json_tokener *tok = NULL;
    json_object *root = NULL;
    enum json_tokener_error jerr;
    char prefix[32], lim[32];
    size_t i, count;
    row *out = NULL;
    int rc = -EINVAL;

    *rows = NULL;
    *n = 0;
    *is_batch = 0;
    memset(e, 0, sizeof *e);
    if (!utf8_valid(body, len)) {
        snprintf(e->message, sizeof e->message, "the body is not valid UTF-8 (or holds a NUL byte)");
        goto out;
    }
    if (jstrict_check(body, len, e->field, sizeof e->field, e->message, sizeof e->message) < 0)
        goto out;
    for (i = 0; i < len && strchr(" \t\r\n", body[i]); i++)
        ;
    if (i < len && body[i] != '{' && body[i] != '[') {
        snprintf(e->message, sizeof e->message,
                 "the body must be an object or an array (of objects with question, answer and contexts)");
        goto out;
    }
    if (!(tok = json_tokener_new_ex(64))) {
        rc = -ENOMEM;
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, body, (int)len);
    jerr = json_tokener_get_error(tok);
    if (jerr != json_tokener_success || json_tokener_get_parse_end(tok) < len) {
        size_t at = json_tokener_get_parse_end(tok);

        while (at < len && (body[at] == ' ' || body[at] == '\n' || body[at] == '\r' || body[at] == '\t'))
            at++;
        if (jerr == json_tokener_success && at == len)
            goto parsed;
        snprintf(e->message, sizeof e->message, "the body is not valid JSON: %s (at byte %zu)",
                 jerr == json_tokener_success ? "unexpected data after the value"
                 : jerr == json_tokener_continue ? "it ends too early"
                 : json_tokener_error_desc(jerr), json_tokener_get_parse_end(tok));
        goto out;
    }
parsed:
    if (json_object_is_type(root, json_type_array)) {
        *is_batch = 1;
        count = json_object_array_length(root);
        if (count == 0) {
            snprintf(e->message, sizeof e->message, "the batch is empty");
            goto out;
        }
        if (count > (size_t)cf->max_batch) {
            snprintf(lim, sizeof lim, "%d", cf->max_batch);
            snprintf(e->message, sizeof e->message, "a batch holds at most %s rows; this one holds %zu",
                     lim, count);
            goto out;
        }
    } else {
        count = 1;
    }
    if (!(out = calloc(count, sizeof *out))) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < count; i++) {
        if (*is_batch)
            snprintf(prefix, sizeof prefix, "[%zu].", i);
        else
            prefix[0] = '\0';
        rc = from_json(&out[i], *is_batch ? json_object_array_get_idx(root, i) : root, cf,
                       known, prefix, e);
        if (rc < 0) {
            row_free_array(out, i + 1);
            out = NULL;
            goto out;
        }
    }
    *rows = out;
    *n = count;
    rc = 0;
out:
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    return rc;
}

static json_object *strings_json(char *const *v, size_t n)
{
    json_object *a = json_object_new_array_ext((int)n);
    size_t i;

    for (i = 0; a && i < n; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

json_object *row_to_json(const row *r)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "question", json_object_new_string(r->question ? r->question : ""));
    json_object_object_add(o, "answer", json_object_new_string(r->answer ? r->answer : ""));
    json_object_object_add(o, "contexts", strings_json(r->contexts, r->n_contexts));
    json_object_object_add(o, "ground_truth", r->ground_truth ? json_object_new_string(r->ground_truth) : NULL);
    json_object_object_add(o, "reference_contexts", r->reference_contexts
                           ? strings_json(r->reference_contexts, r->n_reference_contexts) : NULL);
    json_object_object_add(o, "metrics", r->metrics ? strings_json(r->metrics, r->n_metrics) : NULL);
    json_object_object_add(o, "dataset", r->dataset ? json_object_new_string(r->dataset) : NULL);
    if (r->run)
        json_object_object_add(o, "run", json_object_new_string(r->run));
    if (r->item)
        json_object_object_add(o, "item", json_object_new_string(r->item));
    return o;
}

char *row_strings_json(char *const *v, size_t n)
{
    json_object *a = strings_json(v, n);
    char *s = NULL;

    if (a)
        s = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(a);
    return s;
}

int row_strings_parse(const char *json, char ***v, size_t *n)
{
    json_object *a = json_tokener_parse(json);
    size_t i, len;
    int rc = -EINVAL;

    *v = NULL;
    *n = 0;
    if (!a || !json_object_is_type(a, json_type_array))
        goto out;
    len = json_object_array_length(a);
    if (!(*v = calloc(len ? len : 1, sizeof **v))) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < len; i++) {
        json_object *s = json_object_array_get_idx(a, i);

        if (!json_object_is_type(s, json_type_string) || !((*v)[i] = strdup(json_object_get_string(s)))) {
            row_strings_free(*v, i);
            *v = NULL;
            goto out;
        }
    }
    *n = len;
    rc = 0;
out:
    json_object_put(a);
    return rc;
}

void row_strings_free(char **v, size_t n)
{
    size_t i;

    if (!v)
        return;
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void row_clear(row *r)
{
    if (!r)
        return;
    free(r->question);
    free(r->answer);
    free(r->ground_truth);
    row_strings_free(r->contexts, r->n_contexts);
    row_strings_free(r->reference_contexts, r->n_reference_contexts);
    row_strings_free(r->metrics, r->n_metrics);
    free(r->dataset);
    free(r->run);
    free(r->item);
    memset(r, 0, sizeof *r);
}

void row_free_array(row *rows, size_t n)
{
    size_t i;

    if (!rows)
        return;
    for (i = 0; i < n; i++)
        row_clear(&rows[i]);
    free(rows);
}
