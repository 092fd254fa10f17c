/* criteria_conf.c - [criterion NAME] sections of the configuration. Each
 * section's keys are gathered into the JSON shape of the API and then
 * validated by crit_from_json, so a file and a PUT obey the same rules and
 * name the same fields. */
#include "criteria.h"
#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct section {
    char name[CRIT_NAME_MAX];
    json_object *obj;             /* the definition being gathered (owned) */
    char last_key[32];            /* for indented continuation lines */
};

struct crit_confset {
    struct section *v;            /* owned */
    size_t n, cap;
    criterion *out;               /* after finish; owned until taken */
    size_t n_out;
};

crit_confset *crit_confset_new(void) { return calloc(1, sizeof(crit_confset)); }

void crit_confset_free(crit_confset *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->n; i++)
        json_object_put(s->v[i].obj);
    free(s->v);
    crit_free_array(s->out, s->n_out);
    free(s);
}

static struct section *section(crit_confset *s, const char *name, char *err, size_t errlen)
{
    struct section *p;
    size_t i;

    for (i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].name, name))
            return &s->v[i];
    if (strlen(name) >= CRIT_NAME_MAX || s->n >= 1000) {
        snprintf(err, errlen, "[criterion %.64s]: name too long, or too many criteria", name);
        return NULL;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;

        if (!(p = realloc(s->v, cap * sizeof *p)))
            goto nomem;
        s->v = p;
        s->cap = cap;
    }
    p = &s->v[s->n];
    memset(p, 0, sizeof *p);
    if (!(p->obj = json_object_new_object()))
        goto nomem;
    snprintf(p->name, sizeof p->name, "%s", name);
    s->n++;
    return p;
nomem:
    snprintf(err, errlen, "out of memory");
    return NULL;
}

/* Append "\n" value to the string at key (a continuation line). */
static int append(json_object *o, const char *key, json_object *arr, const char *value)
{
    json_object *x = arr ? json_object_array_get_idx(arr, json_object_array_length(arr) - 1)
                         : json_object_object_get(o, key);
    const char *prev;
    char *s;
    int rc;

    if (arr)
        x = json_object_object_get(x, "description");
    prev = json_object_get_string(x);
    if (strlen(prev) + strlen(value) > 2 * CRIT_DEF_MAX)   /* validation says how long */
        return 0;
    if (asprintf(&s, "%s\n%s", prev, value) < 0)
        return -ENOMEM;
    rc = json_object_set_string(x, s) ? 0 : -ENOMEM;
    free(s);
    return rc;
}

/* inputs = "question, answer" as a JSON array of the names. */
static json_object *split(const char *v)
{
    json_object *a = json_object_new_array();
    size_t n;

    while (a && *v) {
        v += strspn(v, " ,\t");
        if ((n = strcspn(v, " ,\t")) == 0)
            break;
        json_object_array_add(a, json_object_new_string_len(v, (int)(n > 64 ? 64 : n)));
        v += n;
    }
    return a;
}

/* level_<score> = description */
static int add_level(json_object *o, const char *key, const char *value, char *err,
                     size_t errlen, const char *name)
{
    json_object *lv, *l;
    char *end;
    long score = strtol(key + 6, &end, 10);

    if (end == key + 6 || *end || score < -1000 || score > 1000) {
        snprintf(err, errlen, "[criterion %s] %s: want level_<whole number> = description", name,
                 key);
        return -EINVAL;
    }
    if (!json_object_object_get_ex(o, "levels", &lv)) {
        lv = json_object_new_array();
        json_object_object_add(o, "levels", lv);
    }
    if (json_object_array_length(lv) >= 2 * CRIT_LEVELS_MAX)
        return 0;                 /* validation counts them */
    l = json_object_new_object();
    json_object_object_add(l, "score", json_object_new_int((int)score));
    json_object_object_add(l, "description", json_object_new_string(value));
    return json_object_array_add(lv, l) == 0 ? 0 : -ENOMEM;
}

static int add_step(json_object *o, const char *value)
{
    json_object *st;

    if (!json_object_object_get_ex(o, "steps", &st)) {
        st = json_object_new_array();
        json_object_object_add(o, "steps", st);
    }
    if (json_object_array_length(st) > CRIT_STEPS_MAX)
        return 0;
    return json_object_array_add(st, json_object_new_string(value)) == 0 ? 0 : -ENOMEM;
}

int crit_conf_key(void *set, const char *name, const char *key, const char *value,
                  char *err, size_t errlen)
{
    struct section *p = section(set, name, err, errlen);
    json_object *o;
    char *end;
    long v;
    int rc = 0, cont;

    if (!p)
        return -EINVAL;
    o = p->obj;
    cont = !strcmp(p->last_key, key);
    snprintf(p->last_key, sizeof p->last_key, "%s", key);
    if (!strcmp(key, "definition") && cont) {
        rc = append(o, key, NULL, value);
    } else if (!strncmp(key, "level_", 6) && cont) {
        rc = append(o, key, json_object_object_get(o, "levels"), value);
    } else if (!strcmp(key, "kind") || !strcmp(key, "definition") || !strcmp(key, "judge")) {
        json_object_object_add(o, key, json_object_new_string(value));
    } else if (!strcmp(key, "inputs")) {
        json_object_object_add(o, key, split(value));
    } else if (!strcmp(key, "samples")) {
        v = strtol(value, &end, 10);
        json_object_object_add(o, key, end != value && !*end && v > -100 && v < 100
                               ? json_object_new_int((int)v) : json_object_new_string(value));
    } else if (!strncmp(key, "level_", 6)) {
        rc = add_level(o, key, value, err, errlen, name);
    } else if (!strcmp(key, "step")) {
        rc = add_step(o, value);
    } else {
        snprintf(err, errlen, "[criterion %s] unknown key %s: want kind, definition, inputs, "
                 "samples, judge, level_<score>, step", name, key);
        rc = -EINVAL;
    }
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    return rc;
}

int crit_confset_finish(crit_confset *s, char *err, size_t errlen)
{
    crit_error e;
    size_t i;
    int rc = 0;

    crit_free_array(s->out, s->n_out);
    s->n_out = 0;
    if (s->n && !(s->out = calloc(s->n, sizeof *s->out))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (i = 0; i < s->n; i++) {
        if ((rc = crit_from_json(&s->out[i], s->v[i].name, s->v[i].obj, &e)) < 0) {
            crit_clear(&s->out[i]);
            if (rc == -ENOMEM)
                snprintf(err, errlen, "out of memory");
            else
                snprintf(err, errlen, "[criterion %s] %s%s%s", s->v[i].name, e.field,
                         e.field[0] ? ": " : "", e.message);
            return rc;
        }
        s->out[i].from_config = 1;
        s->n_out = i + 1;
    }
    return 0;
}

criterion *crit_confset_take(crit_confset *s, size_t *n)
{
    criterion *v = s->out;

    *n = s->n_out;
    s->out = NULL;
    s->n_out = 0;
    return v;
}

int crit_load_config(const char *path, criterion **v, size_t *n, char *err, size_t errlen)
{
    crit_confset *s = crit_confset_new();
    conf_sections sec = { "criterion", crit_conf_key, s };
    conf *scratch = calloc(1, sizeof *scratch);
    int rc = -ENOMEM;

    *v = NULL;
    *n = 0;
    if (!s || !scratch) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
    if (!path)
        goto out;
    conf_defaults(scratch);
    if ((rc = conf_load_with(scratch, path, &sec, 1, err, errlen)) < 0 ||
        (rc = crit_confset_finish(s, err, errlen)) < 0)
        goto out;
    *v = crit_confset_take(s, n);
out:
    free(scratch);
    crit_confset_free(s);
    return rc;
}
