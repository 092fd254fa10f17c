/* llmkeep.c - a requeued row's scores (llmkeep.h): one judge_cache entry
 * per row attempt that went back, a JSON object {metric: {score, reason}},
 * keyed by the SHA-256 of "keep ID", the judge's name and the row's inputs
 * (a row id reused by SQLite after a delete never gets another row's
 * scores). */
#include "llmkeep.h"
#include "cache.h"
#include "log.h"
#include "sha256.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The key of a row's kept scores: the judge, the row's id and inputs,
 * each ended by a NUL. 0, or -ENOMEM. */
static int keep_key(const char *who, const struct eval *ev, char out[SHA256_HEX_LEN + 1])
{
    const char *part[4];
    char id[48], *buf, *p;
    size_t i, n = 0, len = 0;

    snprintf(id, sizeof id, "keep %lld", (long long)ev->res.id);
    part[n++] = id;
    part[n++] = who;
    part[n++] = ev->question ? ev->question : "";
    part[n++] = ev->answer ? ev->answer : "";
    for (i = 0; i < n; i++)
        len += strlen(part[i]) + 1;
    len += (ev->ground_truth ? strlen(ev->ground_truth) : 0) + 2;
    for (i = 0; i < ev->n_contexts; i++)
        len += strlen(ev->contexts[i]) + 1;
    if (!(p = buf = malloc(len)))
        return -ENOMEM;
    for (i = 0; i < n; i++)
        p = stpcpy(p, part[i]) + 1;
    *p++ = ev->ground_truth ? 'g' : '-';  /* a missing ground truth is not "" */
    p = stpcpy(p, ev->ground_truth ? ev->ground_truth : "") + 1;
    for (i = 0; i < ev->n_contexts; i++)
        p = stpcpy(p, ev->contexts[i]) + 1;
    sha256_hex(buf, (size_t)(p - buf), out);
    free(buf);
    return 0;
}

void llmkeep_save(db *d, const char *who, struct eval *ev)
{
    json_object *o;
    char key[SHA256_HEX_LEN + 1];
    judge_score *sc;
    size_t i;

    if (!(o = json_object_new_object()))
        return;
    for (i = 0; i < ev->res.n_scores; i++) {
        sc = &ev->res.scores[i];
        if (ev->kind[i] != M_DONE || ragas_kind(sc->metric) < 0)
            continue;
        json_object_object_add(o, sc->metric, ragas_obj(
            "score", sc->is_null ? NULL : json_object_new_double(sc->score), "reason",
            sc->reason ? json_object_new_string(sc->reason) : NULL, NULL, NULL));
    }
    if (keep_key(who, ev, key) == 0 && json_object_object_length(o) &&
        cache_put(d, key, json_object_to_json_string(o), 0, 0) < 0)
        log_debug("judge cache: %s", db_errmsg(d));
    json_object_put(o);
}

void llmkeep_restore(db *d, const char *who, struct eval *ev)
{
    json_object *o = NULL, *m, *v;
    char key[SHA256_HEX_LEN + 1], *t = NULL;
    judge_score *sc;
    size_t i;

    if (keep_key(who, ev, key) < 0)
        return;
    if (cache_get(d, key, &t) < 0 || !t || !(o = json_tokener_parse(t)))
        goto out;
    for (i = 0; i < ev->res.n_scores; i++) {
        sc = &ev->res.scores[i];
        if (ev->kind[i] == M_DONE || !json_object_object_get_ex(o, sc->metric, &m))
            continue;
        v = NULL;
        json_object_object_get_ex(m, "score", &v);
        sc->is_null = !v;
        sc->score = v ? json_object_get_double(v) : 0;
        free(sc->reason);
        sc->reason = json_object_object_get_ex(m, "reason", &v) && v ?
                     strdup(json_object_get_string(v)) : NULL;
        ev->kind[i] = M_DONE;
    }
out:
    json_object_put(o);
    free(t);
}

