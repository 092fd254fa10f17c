/* criteria.c - a criterion's definition: parsing from JSON and from a
 * [criterion NAME] section, validation with the field at fault, canonical
 * JSON and its version, and the registry of reference-counted snapshots
 * that every handler and evaluation reads (see criteria.h for the design).
 * The judge's side (prompts, replies, votes) is in criteria_judge.c. */
#include "criteria.h"
#include "sha256.h"
#include "llmjudge.h"
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names reserved for metrics that are coming (issue 15's context_relevance)
 * or that mean something to the API. */
static const char *const reserved[] = { "context_relevance", "all", "default", NULL };

static const char *const input_names[] = { "question", "answer", "contexts", "ground_truth" };
#define N_INPUTS 4

static int fail(crit_error *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(crit_error *e, const char *field, const char *fmt, ...)
{
    va_list ap;

    snprintf(e->field, sizeof e->field, "%s", field);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The version: the first CRIT_VERSION_LEN hex digits of the SHA-256 of the
 * canonical JSON. */
static void version_of(const char *canon, char out[CRIT_VERSION_LEN + 1])
{
    char hex[SHA256_HEX_LEN + 1];

    sha256_hex(canon, strlen(canon), hex);
    memcpy(out, hex, CRIT_VERSION_LEN);
    out[CRIT_VERSION_LEN] = '\0';
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0, k, len;
    unsigned cp;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((s[i] & 0xe0) == 0xc0) {
            len = 2, cp = s[i] & 0x1f;
        } else if ((s[i] & 0xf0) == 0xe0) {
            len = 3, cp = s[i] & 0x0f;
        } else if ((s[i] & 0xf8) == 0xf0) {
            len = 4, cp = s[i] & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

int crit_check_name(const char *name, crit_error *e)
{
    size_t i, n = strlen(name);

    if (n == 0 || n >= CRIT_NAME_MAX)
        return fail(e, "name", "a name has 1 to %d characters", CRIT_NAME_MAX - 1);
    if (name[0] < 'a' || name[0] > 'z')
        return fail(e, "name", "a name starts with a lower case letter");
    for (i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            return fail(e, "name", "a name has only lower case letters, digits and _");
    for (i = 0; reserved[i]; i++)
        if (!strcmp(reserved[i], name))
            return fail(e, "name", "'%s' is reserved for ragrade", name);
    if (metrics_is_builtin(name) || llmjudge_metric_known(name))
        return fail(e, "name", "'%s' is a built-in metric", name);
    return 0;
}

/* A trimmed, non-empty, capped UTF-8 copy of string v into *dst. */
static int take_text(char **dst, json_object *v, const char *field, crit_error *e)
{
    const char *s, *end;
    size_t n;

    if (!json_object_is_type(v, json_type_string))
        return fail(e, field, "must be a string");
    s = json_object_get_string(v);
    end = s + json_object_get_string_len(v);
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    n = (size_t)(end - s);
    if (n == 0)
        return fail(e, field, "must not be empty");
    if (n > CRIT_DEF_MAX)
        return fail(e, field, "is %zu bytes, over the limit of %d", n, CRIT_DEF_MAX);
    if (memchr(s, '\0', n) || !utf8_valid((const unsigned char *)s, n))
        return fail(e, field, "must be valid UTF-8 text");
    if (!(*dst = strndup(s, n)))
        return -ENOMEM;
    return 0;
}

static int take_int(int *dst, json_object *v, const char *field, long lo, long hi, crit_error *e)
{
    int64_t x;

    if (!json_object_is_type(v, json_type_int))
        return fail(e, field, "must be a whole number");
    x = json_object_get_int64(v);
    if (x < lo || x > hi)
        return fail(e, field, "must be from %ld to %ld, not %lld", lo, hi, (long long)x);
    *dst = (int)x;
    return 0;
}

static int take_inputs(criterion *c, json_object *v, crit_error *e)
{
    char field[32];
    size_t i, n;
    int k;

    if (!json_object_is_type(v, json_type_array))
        return fail(e, "inputs", "must be an array of input names");
    if ((n = json_object_array_length(v)) == 0)
        return fail(e, "inputs", "must name at least one of question, answer, contexts, "
                    "ground_truth");
    c->inputs = 0;
    for (i = 0; i < n; i++) {
        json_object *x = json_object_array_get_idx(v, i);
        const char *s = json_object_get_string(x);

        snprintf(field, sizeof field, "inputs[%zu]", i);
        if (!json_object_is_type(x, json_type_string) || i >= N_INPUTS * 2)
            return fail(e, field, "must be one of question, answer, contexts, ground_truth");
        for (k = 0; k < N_INPUTS && strcmp(s, input_names[k]); k++)
            ;
        if (k == N_INPUTS)
            return fail(e, field, "unknown input '%.40s': want question, answer, contexts or "
                        "ground_truth", s);
        if (c->inputs & (1u << k))
            return fail(e, field, "'%s' is named twice", s);
        c->inputs |= 1u << k;
    }
    return 0;
}

static int take_levels(criterion *c, json_object *v, crit_error *e)
{
    char field[48];
    size_t i, n;
    int rc;

    if (!json_object_is_type(v, json_type_array))
        return fail(e, "levels", "must be an array of {\"score\", \"description\"}");
    n = json_object_array_length(v);
    if (n < 2 || n > CRIT_LEVELS_MAX)
        return fail(e, "levels", "a scale has 2 to %d levels, not %zu", CRIT_LEVELS_MAX, n);
    for (i = 0; i < n; i++) {
        json_object *x = json_object_array_get_idx(v, i), *s, *d;

        snprintf(field, sizeof field, "levels[%zu]", i);
        if (!json_object_is_type(x, json_type_object))
            return fail(e, field, "must be an object {\"score\", \"description\"}");
        json_object_object_foreach(x, key, val) {
            (void)val;
            if (strcmp(key, "score") && strcmp(key, "description")) {
                snprintf(field, sizeof field, "levels[%zu].%.20s", i, key);
                return fail(e, field, "unknown field: a level has score and description");
            }
        }
        snprintf(field, sizeof field, "levels[%zu].score", i);
        if (!json_object_object_get_ex(x, "score", &s))
            return fail(e, field, "is required");
        if ((rc = take_int(&c->levels[i].score, s, field, -1000, 1000, e)) < 0)
            return rc;
        if (i > 0 && c->levels[i].score <= c->levels[i - 1].score)
            return fail(e, field, "levels go in increasing order of score: %d after %d",
                        c->levels[i].score, c->levels[i - 1].score);
        snprintf(field, sizeof field, "levels[%zu].description", i);
        if (!json_object_object_get_ex(x, "description", &d))
            return fail(e, field, "is required");
        c->n_levels = i + 1;      /* so crit_clear frees the description */
        if ((rc = take_text(&c->levels[i].description, d, field, e)) < 0)
            return rc;
    }
    return 0;
}

static int take_steps(criterion *c, json_object *v, crit_error *e)
{
    char field[32];
    size_t i, n;
    int rc;

    if (!json_object_is_type(v, json_type_array))
        return fail(e, "steps", "must be an array of strings");
    if ((n = json_object_array_length(v)) > CRIT_STEPS_MAX)
        return fail(e, "steps", "at most %d steps, not %zu", CRIT_STEPS_MAX, n);
    for (i = 0; i < n; i++) {
        snprintf(field, sizeof field, "steps[%zu]", i);
        c->n_steps = i + 1;
        if ((rc = take_text(&c->steps[i], json_object_array_get_idx(v, i), field, e)) < 0)
            return rc;
    }
    return 0;
}

static int take_judge(criterion *c, json_object *v, crit_error *e)
{
    const char *s;
    size_t i, n;

    if (!json_object_is_type(v, json_type_string))
        return fail(e, "judge", "must be the name of a judge profile");
    s = json_object_get_string(v);
    if ((n = strlen(s)) >= CRIT_JUDGE_MAX)
        return fail(e, "judge", "a profile name has at most %d characters", CRIT_JUDGE_MAX - 1);
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return fail(e, "judge", "a profile name has only lower case letters, digits, _ and -");
    memcpy(c->judge, s, n + 1);
    return 0;
}

/* The largest field of c, to name when the whole is over the limit. */
static const char *largest(const criterion *c)
{
    size_t d = strlen(c->definition), l = 0, s = 0, i;

    for (i = 0; i < c->n_levels; i++)
        l += strlen(c->levels[i].description);
    for (i = 0; i < c->n_steps; i++)
        s += strlen(c->steps[i]);
    return d >= l && d >= s ? "definition" : l >= s ? "levels" : "steps";
}

/* Cross-field rules, the size of the whole, and the version. */
static int finish(criterion *c, json_object *obj, crit_error *e)
{
    json_object *x;
    char *canon = NULL;
    size_t n;
    int rc = 0;

    if (c->kind == CRIT_CRITIC) {
        if (json_object_object_get_ex(obj, "levels", &x) && x)
            return fail(e, "levels", "only a rubric has levels (kind is critic)");
        if (json_object_object_get_ex(obj, "steps", &x) && x)
            return fail(e, "steps", "only a rubric has steps (kind is critic)");
        if (c->samples % 2 == 0)
            return fail(e, "samples", "must be odd (a majority needs no tie), not %d", c->samples);
    } else {
        if (c->samples != 1)
            return fail(e, "samples", "only a critic takes samples (kind is rubric)");
        if (c->n_levels == 0)
            return fail(e, "levels", "a rubric needs levels: [{\"score\", \"description\"}, ...]");
    }
    if (!(canon = crit_canonical(c))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((n = strlen(canon)) > CRIT_DEF_MAX) {
        rc = fail(e, largest(c), "the criterion is %zu bytes as canonical JSON, over the limit "
                  "of %d", n, CRIT_DEF_MAX);
        goto out;
    }
    version_of(canon, c->version);
out:
    free(canon);
    return rc;
}

int crit_from_json(criterion *c, const char *name, json_object *obj, crit_error *e)
{
    static const char *const known[] = { "kind", "definition", "inputs", "samples", "levels",
                                         "steps", "judge", NULL };
    /* What crit_to_json adds, accepted back so that a GET's body can be PUT. */
    static const char *const readonly[] = { "name", "version", "source", "scale", NULL };
    const char *const *k;
    json_object *x;
    const char *kd;
    size_t i;
    int rc;

    memset(c, 0, sizeof *c);
    memset(e, 0, sizeof *e);
    c->inputs = CRIT_IN_DEFAULT;
    c->samples = 1;
    if ((rc = crit_check_name(name, e)) < 0)
        return rc;
    snprintf(c->name, sizeof c->name, "%s", name);
    if (!json_object_is_type(obj, json_type_object))
        return fail(e, "", "a criterion is a JSON object");
    json_object_object_foreach(obj, key, val) {
        for (i = 0; known[i] && strcmp(known[i], key); i++)
            ;
        if (!known[i] && !strcmp(key, "name") &&
            (!json_object_is_type(val, json_type_string) || strcmp(json_object_get_string(val),
                                                                   name)))
            return fail(e, "name", "differs from the name in the URL");
        for (k = readonly; !known[i] && *k && strcmp(*k, key); k++)
            ;
        if (!known[i] && !*k)
            return fail(e, key, "unknown field: a criterion has kind, definition, inputs, "
                        "samples, levels, steps and judge");
    }
    if (!json_object_object_get_ex(obj, "kind", &x) || !x)
        return fail(e, "kind", "is required: critic or rubric");
    kd = json_object_get_string(x);
    if (!json_object_is_type(x, json_type_string) ||
        (strcmp(kd, "critic") && strcmp(kd, "rubric")))
        return fail(e, "kind", "unknown kind '%.40s': want critic or rubric", kd ? kd : "");
    c->kind = strcmp(kd, "critic") ? CRIT_RUBRIC : CRIT_CRITIC;
    if (!json_object_object_get_ex(obj, "definition", &x) || !x)
        return fail(e, "definition", "is required");
    if ((rc = take_text(&c->definition, x, "definition", e)) < 0)
        return rc;
    if (json_object_object_get_ex(obj, "inputs", &x) && x && (rc = take_inputs(c, x, e)) < 0)
        return rc;
    if (json_object_object_get_ex(obj, "samples", &x) && x &&
        (rc = take_int(&c->samples, x, "samples", 1, CRIT_SAMPLES_MAX, e)) < 0)
        return rc;
    if (c->kind == CRIT_RUBRIC && json_object_object_get_ex(obj, "levels", &x) && x &&
        (rc = take_levels(c, x, e)) < 0)
        return rc;
    if (c->kind == CRIT_RUBRIC && json_object_object_get_ex(obj, "steps", &x) && x &&
        (rc = take_steps(c, x, e)) < 0)
        return rc;
    if (json_object_object_get_ex(obj, "judge", &x) && x && (rc = take_judge(c, x, e)) < 0)
        return rc;
    return finish(c, obj, e);
}

int crit_parse_body(criterion *c, const char *name, const char *body, size_t len,
                    crit_error *e)
{
    json_tokener *tok = NULL;
    json_object *obj = NULL;
    size_t end;
    int rc;

    memset(c, 0, sizeof *c);
    memset(e, 0, sizeof *e);
    if (len > CRIT_BODY_MAX) {
        rc = fail(e, "", "the body is over %d bytes", CRIT_BODY_MAX);
        goto out;
    }
    if (!(tok = json_tokener_new())) {
        rc = -ENOMEM;
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, body, (int)len);
    end = obj ? json_tokener_get_parse_end(tok) : 0;
    while (end < len && (body[end] == ' ' || body[end] == '\n' || body[end] == '\r' ||
                         body[end] == '\t'))
        end++;
    if (!obj || json_tokener_get_error(tok) != json_tokener_success || end != len) {
        rc = fail(e, "", "the body is not one JSON object");
        goto out;
    }
    rc = crit_from_json(c, name, obj, e);
out:
    json_object_put(obj);
    if (tok)
        json_tokener_free(tok);
    return rc;
}

/* The canonical fields as a new object, in their fixed order. */
static json_object *canonical_obj(const criterion *c)
{
    json_object *o = json_object_new_object(), *a, *l;
    size_t i;
    int k;

    if (!o)
        return NULL;
    json_object_object_add(o, "kind", json_object_new_string(c->kind == CRIT_CRITIC ? "critic"
                                                                                      : "rubric"));
    json_object_object_add(o, "definition", json_object_new_string(c->definition));
    a = json_object_new_array();
    for (k = 0; k < N_INPUTS; k++)
        if (c->inputs & (1u << k))
            json_object_array_add(a, json_object_new_string(input_names[k]));
    json_object_object_add(o, "inputs", a);
    if (c->kind == CRIT_CRITIC) {
        json_object_object_add(o, "samples", json_object_new_int(c->samples));
    } else {
        a = json_object_new_array();
        for (i = 0; i < c->n_levels; i++) {
            l = json_object_new_object();
            json_object_object_add(l, "score", json_object_new_int(c->levels[i].score));
            json_object_object_add(l, "description",
                                   json_object_new_string(c->levels[i].description));
            json_object_array_add(a, l);
        }
        json_object_object_add(o, "levels", a);
        a = json_object_new_array();
        for (i = 0; i < c->n_steps; i++)
            json_object_array_add(a, json_object_new_string(c->steps[i]));
        json_object_object_add(o, "steps", a);
    }
    if (c->judge[0])
        json_object_object_add(o, "judge", json_object_new_string(c->judge));
    return o;
}

char *crit_canonical(const criterion *c)
{
    json_object *o = canonical_obj(c);
    const char *s;
    char *out = NULL;

    if (o && (s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE)))
        out = strdup(s);
    json_object_put(o);
    return out;
}

json_object *crit_to_json(const criterion *c)
{
    json_object *o = canonical_obj(c);
    int lo, hi;

    if (o) {
        json_object_object_add(o, "name", json_object_new_string(c->name));
        json_object_object_add(o, "version", json_object_new_string(c->version));
        json_object_object_add(o, "source", json_object_new_string(c->from_config ? "config"
                                                                                  : "api"));
        crit_scale(c, &lo, &hi);
        json_object_object_add(o, "scale", json_object_new_array_ext(2));
        json_object_array_add(json_object_object_get(o, "scale"), json_object_new_int(lo));
        json_object_array_add(json_object_object_get(o, "scale"), json_object_new_int(hi));
    }
    return o;
}

void crit_clear(criterion *c)
{
    size_t i;

    if (!c)
        return;
    free(c->definition);
    for (i = 0; i < c->n_levels; i++)
        free(c->levels[i].description);
    for (i = 0; i < c->n_steps; i++)
        free(c->steps[i]);
    memset(c, 0, sizeof *c);
}

int crit_copy(criterion *dst, const criterion *src)
{
    size_t i;

    *dst = *src;
    dst->definition = strdup(src->definition ? src->definition : "");
    for (i = 0; i < src->n_levels; i++)
        dst->levels[i].description = strdup(src->levels[i].description);
    for (i = 0; i < src->n_steps; i++)
        dst->steps[i] = strdup(src->steps[i]);
    for (i = 0; i < src->n_levels && dst->definition; i++)
        if (!dst->levels[i].description)
            break;
    if (!dst->definition || i < src->n_levels)
        goto nomem;
    for (i = 0; i < src->n_steps; i++)
        if (!dst->steps[i])
            goto nomem;
    return 0;
nomem:
    crit_clear(dst);
    return -ENOMEM;
}

void crit_free_array(criterion *v, size_t n)
{
    size_t i;

    for (i = 0; v && i < n; i++)
        crit_clear(&v[i]);
    free(v);
}

void crit_scale(const criterion *c, int *lo, int *hi)
{
    *lo = 0;
    *hi = 1;
    if (c->kind == CRIT_RUBRIC && c->n_levels >= 2) {
        *lo = c->levels[0].score;
        *hi = c->levels[c->n_levels - 1].score;
    }
}

double crit_normalised(const criterion *c, double score)
{
    int lo, hi;

    crit_scale(c, &lo, &hi);
    return (score - lo) / (double)(hi - lo);
}

/* ---- the registry ---- */

struct snap {
    crit_snapshot pub;            /* first: acquire hands out &snap->pub */
    criterion *all;               /* config criteria, then the database's */
    int refs;                     /* the registry's own (while current) and readers' */
};

struct crit_registry {
    pthread_mutex_t mu;           /* guards cur and every snap's refs */
    struct snap *cur;
    criterion *cfg;               /* the configuration's, never changed */
    size_t n_cfg;
};

static void snap_free(struct snap *s)
{
    if (s) {
        crit_free_array(s->all, s->pub.n);
        free(s);
    }
}

/* A snapshot of the config criteria and db (moved in; freed on failure),
 * skipping database criteria that a config one shadows. */
static struct snap *snap_new(const crit_registry *r, criterion *db, size_t n, uint64_t gen)
{
    struct snap *s = calloc(1, sizeof *s);
    size_t i, j, m = 0;

    if (!s || !(s->all = calloc(r->n_cfg + n + 1, sizeof *s->all)))
        goto fail;
    for (i = 0; i < r->n_cfg; i++, m++)
        if (crit_copy(&s->all[m], &r->cfg[i]) < 0)
            goto fail;
    for (i = 0; i < n; i++) {
        for (j = 0; j < r->n_cfg && strcmp(r->cfg[j].name, db[i].name); j++)
            ;
        if (j == r->n_cfg) {
            s->all[m++] = db[i];
            memset(&db[i], 0, sizeof db[i]);
        }
    }
    crit_free_array(db, n);
    s->pub.v = s->all;
    s->pub.n = m;
    s->pub.generation = gen;
    s->refs = 1;
    return s;
fail:
    if (s) {
        crit_free_array(s->all, m);
        free(s);
    }
    crit_free_array(db, n);
    return NULL;
}

crit_registry *crit_registry_new(criterion *cfg, size_t n)
{
    crit_registry *r = calloc(1, sizeof *r);

    if (!r) {
        crit_free_array(cfg, n);
        return NULL;
    }
    r->cfg = cfg;
    r->n_cfg = n;
    pthread_mutex_init(&r->mu, NULL);
    if (!(r->cur = snap_new(r, NULL, 0, 0))) {
        crit_registry_free(r);
        r = NULL;
    }
    return r;
}

void crit_registry_free(crit_registry *r)
{
    if (!r)
        return;
    snap_free(r->cur);
    crit_free_array(r->cfg, r->n_cfg);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

const crit_snapshot *crit_registry_acquire(crit_registry *r)
{
    struct snap *s;

    pthread_mutex_lock(&r->mu);
    s = r->cur;
    s->refs++;
    pthread_mutex_unlock(&r->mu);
    return &s->pub;
}

void crit_registry_release(crit_registry *r, const crit_snapshot *pub)
{
    struct snap *s = (struct snap *)(void *)(uintptr_t)pub;   /* pub is its first member */
    int last;

    if (!pub)
        return;
    pthread_mutex_lock(&r->mu);
    last = --s->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last)
        snap_free(s);
}

int crit_registry_publish(crit_registry *r, criterion *db, size_t n, uint64_t gen)
{
    struct snap *s = snap_new(r, db, n, gen), *old;
    int last;

    if (!s)
        return -ENOMEM;
    pthread_mutex_lock(&r->mu);
    old = r->cur;
    if (gen < old->pub.generation) {
        /* Several stores (threads) refresh one registry: a list read
         * before another thread published a newer one must not win. */
        old = s;
        last = 1;
    } else {
        r->cur = s;
        last = --old->refs == 0;
    }
    pthread_mutex_unlock(&r->mu);
    if (last)
        snap_free(old);
    return 0;
}

uint64_t crit_registry_generation(crit_registry *r)
{
    uint64_t g;

    pthread_mutex_lock(&r->mu);
    g = r->cur->pub.generation;
    pthread_mutex_unlock(&r->mu);
    return g;
}

const criterion *crit_find(const crit_snapshot *s, const char *name)
{
    size_t i;

    for (i = 0; s && i < s->n; i++)
        if (!strcmp(s->v[i].name, name))
            return &s->v[i];
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(json_object_get_string(json_object_object_get(*(json_object *const *)a, "name")),
                  json_object_get_string(json_object_object_get(*(json_object *const *)b, "name")));
}

json_object *crit_list_json(const crit_snapshot *s)
{
    json_object *o = json_object_new_object(), *a = json_object_new_array(), *x;
    size_t i;

    if (!o || !a)
        goto nomem;
    for (i = 0; i < s->n; i++) {
        if (!(x = crit_to_json(&s->v[i])) || json_object_array_add(a, x) < 0)
            goto nomem;
    }
    json_object_array_sort(a, by_name);
    json_object_object_add(o, "criteria", a);
    json_object_object_add(o, "generation", json_object_new_int64((int64_t)s->generation));
    return o;
nomem:
    json_object_put(a);
    json_object_put(o);
    return NULL;
}

int crit_registry_is_config(crit_registry *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->n_cfg; i++)      /* cfg never changes: no lock */
        if (!strcmp(r->cfg[i].name, name))
            return 1;
    return 0;
}
