/* ragas.h - the LLM metrics' formulas as steps of a row's evaluation:
 * each step reads the validated reply to the last call and sets up the
 * next call (a prompt or an embedding, naming the step that takes its
 * reply) or the score. The metrics are a table in ragas.c: a name, the
 * inputs it needs and its first step. Internal to the LLM judge:
 * llmjudge.c owns struct eval and drives it; this file names the calls and
 * computes the scores, as ragas and LlamaIndex define them. */
#ifndef RAGRADE_RAGAS_H
#define RAGRADE_RAGAS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "criteria.h"
#include "judge.h"
#include "llm.h"
#include "prompts.h"
#include "row.h"
#include "sha256.h"

#define M_DONE (-1)               /* struct eval's kind[i] once score i is set */
#define M_CRIT 1000               /* struct eval's kind[i] for a criterion (crits[i]) */
enum { RAGAS_CALL, RAGAS_DONE };

#define SEED 42                   /* of every chat call; answer_relevancy adds the generation */

struct llmjudge;
struct eval;

/* A step of a metric: rep is the validated reply to the call the last step
 * set up (borrowed; NULL for the first step). RAGAS_CALL after setting up
 * the next call with its step, or RAGAS_DONE once the score is set. */
typedef int (*ragas_step_fn)(struct eval *ev, json_object *rep);

/* One row being evaluated. Owns copies of the inputs it needs. */
struct eval {
    struct llmjudge *lj;
    struct eval *prev, *next;
    char *question, *answer, *ground_truth;
    char **contexts;
    size_t n_contexts;
    judge_result res;             /* scores[i].metric set at submit */
    int *kind;                    /* per score: ragas_kind(), M_DONE once scored */
    size_t cur;                   /* the score being worked on */
    ragas_step_fn step;           /* takes the reply to the call set up; NULL: not started */
    json_object *acc;             /* the current metric's working state */
    int64_t deadline;
    judge_done_fn done;
    void *arg;
    /* the call in progress */
    int is_embed;
    enum prompt_kind pk;
    long n_items;
    double temperature;
    int seed;
    json_object *messages;        /* chat: the conversation so far */
    json_object *input;           /* embedding: the strings */
    int repairs;
    char key[SHA256_HEX_LEN + 1]; /* cache key of the first attempt, "" if none */
    llm_req *req;
    /* a call that may fail without nulling its metric: after the repairs
     * run out (or a 400), its step gets rep NULL and fail_why says why */
    int tolerate;
    char fail_why[300];
    /* criteria: the registry's snapshot held for the whole row (NULL:
     * none), the criterion of each score (NULL for others; in snap), the
     * one the call in progress asks (NULL: a prompt of prompts.h), and the
     * samples of the current one (c->samples, owned) */
    crit_registry *reg;
    const crit_snapshot *snap;
    const criterion **crits;
    const criterion *crit;
    crit_sample *samples;
    size_t n_samples, samples_cap;
};

/* A criterion's reply (crit_parse_reply's sample) as the JSON its step
 * reads: {"value", "reason", "steps"?}. A new object; NULL on OOM. */
json_object *ragas_crit_reply(const crit_sample *s);

/* The metric's index in the table, or -1 when it is no LLM metric. */
int ragas_kind(const char *name);

/* The name of metric k, or NULL past the end of the table. */
const char *ragas_name(int k);

/* Why the row cannot give this metric (a missing input), or NULL. */
const char *ragas_missing(int kind, const row *r);

/* Advance metric ev->cur with rep, the validated reply to its last call
 * (NULL at the start, when ev->step is NULL; borrowed). RAGAS_CALL: the
 * next call is set up in ev; RAGAS_DONE: the score (or null) is set. */
int ragas_step(struct eval *ev, json_object *rep);

/* Score i as null with why, or the current metric as v (reason borrowed,
 * stored as JSON text; a NaN or infinity becomes null). */
void ragas_set_null(struct eval *ev, size_t i, const char *why);
void ragas_set_score(struct eval *ev, double v, json_object *reason);

/* A new object of up to three keys (k2, k3 may be NULL); takes the values. */
json_object *ragas_obj(const char *k1, json_object *v1, const char *k2, json_object *v2,
                       const char *k3, json_object *v3);

#endif
