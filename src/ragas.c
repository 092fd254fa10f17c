/* ragas.c - the LLM metrics: which prompt or embedding each metric asks
 * for next, and its formula once the replies are in, as ragas defines
 * faithfulness, answer_relevancy, context_precision, context_recall,
 * answer_correctness, semantic_similarity and context_relevance, and
 * LlamaIndex its correctness; and the criteria (criteria.h), user-defined
 * critics and rubrics. Each metric is a chain of step functions, found through the
 * table metrics[] at the end of this file; a new LLM metric is one table
 * line and its steps. */
#include "ragas.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_GENERATIONS 3           /* answer_relevancy's generated questions */

/* The inputs a metric needs (ragas_missing). */
enum { NEED_Q = 1, NEED_A = 2, NEED_GT = 4, NEED_CTX = 8 };

static judge_score *score(struct eval *ev) { return &ev->res.scores[ev->cur]; }

void ragas_set_null(struct eval *ev, size_t i, const char *why)
{
    judge_score *s = &ev->res.scores[i];

    s->is_null = 1;
    s->score = 0;
    free(s->reason);
    s->reason = strdup(why);
    ev->kind[i] = M_DONE;
}

void ragas_set_score(struct eval *ev, double v, json_object *reason)
{
    judge_score *s = score(ev);

    if (!isfinite(v)) {
        ragas_set_null(ev, ev->cur, "the score is not a finite number");
        return;
    }
    s->score = v;
    s->is_null = 0;
    free(s->reason);
    s->reason = reason ? strdup(json_object_to_json_string_ext(reason, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE))
                       : NULL;
    ev->kind[ev->cur] = M_DONE;
}

static json_object *strs(const char *a, const char *b)
{
    json_object *v = json_object_new_array();

    json_object_array_add(v, json_object_new_string(a));
    if (b)
        json_object_array_add(v, json_object_new_string(b));
    return v;
}

json_object *ragas_obj(const char *k1, json_object *v1, const char *k2, json_object *v2,
                         const char *k3, json_object *v3)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, k1, v1);
    if (k2)
        json_object_object_add(o, k2, v2);
    if (k3)
        json_object_object_add(o, k3, v3);
    return o;
}

#define S(x) json_object_new_string(x)

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;

    json_object_object_get_ex(o, key, &v);
    return v;
}

static double cosine(json_object *a, json_object *b)
{
    double dot = 0, na = 0, nb = 0, x, y;
    size_t i, n = json_object_array_length(a);

    for (i = 0; i < n; i++) {
        x = json_object_get_double(json_object_array_get_idx(a, i));
        y = json_object_get_double(json_object_array_get_idx(b, i));
        dot += x * y, na += x * x, nb += y * y;
    }
    return dot / (sqrt(na) * sqrt(nb));   /* NaN for a zero vector: becomes null */
}

static char *joined_contexts(const struct eval *ev)
{
    size_t i, n = 1;
    char *s;

    for (i = 0; i < ev->n_contexts; i++)
        n += strlen(ev->contexts[i]) + 1;
    if (!(s = calloc(1, n)))
        return NULL;
    for (i = 0; i < ev->n_contexts; i++) {
        if (i)
            strcat(s, "\n");
        strcat(s, ev->contexts[i]);
    }
    return s;
}

/* Set up a chat call: one user message rendering prompt pk with input
 * (taken), whose validated reply goes to then. */
static int ask(struct eval *ev, ragas_step_fn then, enum prompt_kind pk, json_object *input,
               long n_items, double temperature, int seed)
{
    json_object *m = json_object_new_object();
    char *prompt = prompts_render(pk, input);

    json_object_put(input);
    json_object_put(ev->messages);
    ev->messages = json_object_new_array();
    json_object_object_add(m, "role", json_object_new_string("user"));
    json_object_object_add(m, "content", json_object_new_string(prompt ? prompt : ""));
    json_object_array_add(ev->messages, m);
    free(prompt);
    ev->step = then;
    ev->is_embed = 0;
    ev->pk = pk;
    ev->n_items = n_items;
    ev->temperature = temperature;
    ev->seed = seed;
    ev->repairs = 0;
    ev->key[0] = '\0';
    ev->tolerate = 0;
    ev->crit = NULL;
    return RAGAS_CALL;
}

/* A deterministic chat call: temperature 0, the fixed seed. */
static int chat(struct eval *ev, ragas_step_fn then, enum prompt_kind pk, json_object *input,
                long n_items)
{
    return ask(ev, then, pk, input, n_items, 0.0, SEED);
}

/* Set up an embedding call for strings (taken); its vectors go to then. */
static int embed(struct eval *ev, ragas_step_fn then, json_object *strings)
{
    json_object_put(ev->input);
    ev->input = strings;
    ev->step = then;
    ev->is_embed = 1;
    ev->key[0] = '\0';
    ev->tolerate = 0;
    ev->crit = NULL;
    return RAGAS_CALL;
}

/* The mean of key over the objects of array a (NaN when a is empty). */
static double mean_of(json_object *a, const char *key)
{
    size_t i, n = json_object_array_length(a);
    double sum = 0;

    for (i = 0; i < n; i++)
        sum += json_object_get_double(get(json_object_array_get_idx(a, i), key));
    return n ? sum / (double)n : NAN;
}

/* ---- faithfulness: the answer's statements, each judged against the
 * contexts; the share of statements the contexts support ---- */

static int faith_score(struct eval *ev, json_object *rep)
{
    ragas_set_score(ev, mean_of(get(rep, "statements"), "verdict"), rep);
    return RAGAS_DONE;
}

static int faith_nli(struct eval *ev, json_object *rep)
{
    json_object *a = get(rep, "statements"), *x;
    size_t n = json_object_array_length(a);
    char *ctx;

    if (!n) {
        ragas_set_null(ev, ev->cur, "the answer has no statements");
        return RAGAS_DONE;
    }
    if (!(ctx = joined_contexts(ev)))
        ctx = strdup("");
    x = ragas_obj("context", S(ctx ? ctx : ""), "statements", json_object_get(a), NULL, NULL);
    free(ctx);
    return chat(ev, faith_score, PROMPT_NLI, x, (long)n);
}

static int faith_start(struct eval *ev, json_object *rep)
{
    (void)rep;
    return chat(ev, faith_nli, PROMPT_STATEMENTS,
                ragas_obj("question", S(ev->question), "answer", S(ev->answer), NULL, NULL), -1);
}

/* ---- answer_relevancy: N_GENERATIONS questions generated from the answer
 * (temperature 0.3, seeds SEED + 1...), the mean cosine of their
 * embeddings with the question's; 0 when every one is noncommittal ---- */

static int relev_score(struct eval *ev, json_object *rep)
{
    json_object *x, *reason;
    double sum = 0, v;
    int all_nc = 1;
    size_t i;

    for (i = 0; i < N_GENERATIONS; i++) {
        x = json_object_array_get_idx(ev->acc, i);
        v = cosine(json_object_array_get_idx(rep, 0), json_object_array_get_idx(rep, i + 1));
        sum += v;
        all_nc &= json_object_get_int(get(x, "noncommittal")) == 1;
        json_object_object_add(x, "cosine", json_object_new_double(v));
    }
    reason = ragas_obj("generated", json_object_get(ev->acc), "all_noncommittal",
                       json_object_new_boolean(all_nc), NULL, NULL);
    ragas_set_score(ev, sum / N_GENERATIONS * (all_nc ? 0.0 : 1.0), reason);
    json_object_put(reason);
    return RAGAS_DONE;
}

/* Keep the generated question in rep (if any); generate the next, or
 * embed the question with every generated one. */
static int relev_generate(struct eval *ev, json_object *rep)
{
    json_object *x;
    size_t i, n;

    if (rep)
        json_object_array_add(ev->acc, json_object_get(rep));
    n = json_object_array_length(ev->acc);
    if (n < N_GENERATIONS)
        return ask(ev, relev_generate, PROMPT_QUESTION,
                   ragas_obj("response", S(ev->answer), NULL, NULL, NULL, NULL), -1, 0.3,
                   SEED + 1 + (int)n);
    x = strs(ev->question, NULL);
    for (i = 0; i < N_GENERATIONS; i++)
        json_object_array_add(x, json_object_get(get(json_object_array_get_idx(ev->acc, i),
                                                     "question")));
    return embed(ev, relev_score, x);
}

static int relev_start(struct eval *ev, json_object *rep)
{
    (void)rep;
    ev->acc = json_object_new_array();
    return relev_generate(ev, NULL);
}

/* ---- context_precision: a verdict per context (is it useful for the
 * ground truth?), then the mean precision at each relevant rank ---- */

static int cprec_score(struct eval *ev)
{
    json_object *reason;
    double relevant = 0, ap = 0, v;
    size_t i;

    for (i = 0; i < ev->n_contexts; i++) {
        v = json_object_get_double(get(json_object_array_get_idx(ev->acc, i), "verdict"));
        relevant += v;
        ap += relevant / (double)(i + 1) * v;
    }
    reason = ragas_obj("verdicts", json_object_get(ev->acc), NULL, NULL, NULL, NULL);
    ragas_set_score(ev, ap / (relevant + 1e-10), reason);
    json_object_put(reason);
    return RAGAS_DONE;
}

static int cprec_verdict(struct eval *ev, json_object *rep)
{
    size_t i;

    if (rep)
        json_object_array_add(ev->acc, json_object_get(rep));
    if ((i = json_object_array_length(ev->acc)) >= ev->n_contexts)
        return cprec_score(ev);
    return chat(ev, cprec_verdict, PROMPT_CTX_PRECISION,
                ragas_obj("question", S(ev->question), "context", S(ev->contexts[i]), "answer",
                          S(ev->ground_truth)), -1);
}

static int cprec_start(struct eval *ev, json_object *rep)
{
    (void)rep;
    ev->acc = json_object_new_array();
    return cprec_verdict(ev, NULL);
}

/* ---- context_recall: the ground truth's sentences, the share the
 * contexts can be credited with ---- */

static int crec_score(struct eval *ev, json_object *rep)
{
    json_object *a = get(rep, "classifications");

    if (!json_object_array_length(a)) {
        ragas_set_null(ev, ev->cur, "the ground truth has no sentences to attribute");
        return RAGAS_DONE;
    }
    ragas_set_score(ev, mean_of(a, "attributed"), rep);
    return RAGAS_DONE;
}

static int crec_start(struct eval *ev, json_object *rep)
{
    char *ctx = joined_contexts(ev);
    json_object *x = ragas_obj("question", S(ev->question), "context", S(ctx ? ctx : ""),
                               "answer", S(ev->ground_truth));

    (void)rep;
    free(ctx);
    return chat(ev, crec_score, PROMPT_CTX_RECALL, x, -1);
}

/* ---- answer_correctness: 0.75 x the F1 of the answer's statements
 * classified against the ground truth's, + 0.25 x their cosine ---- */

static int acorr_score(struct eval *ev, json_object *rep)
{
    double v = cosine(json_object_array_get_idx(rep, 0), json_object_array_get_idx(rep, 1));
    double f1 = json_object_get_double(get(ev->acc, "f1"));

    json_object_object_add(ev->acc, "semantic_similarity", json_object_new_double(v));
    ragas_set_score(ev, 0.75 * f1 + 0.25 * v, ev->acc);
    return RAGAS_DONE;
}

/* rep: the classification, or NULL when both sides had no statements. */
static int acorr_f1(struct eval *ev, json_object *rep)
{
    double tp = 0, fp = 0, fn = 0, f1;

    if (rep) {
        json_object_object_add(ev->acc, "classification", json_object_get(rep));
        tp = (double)json_object_array_length(get(rep, "TP"));
        fp = (double)json_object_array_length(get(rep, "FP"));
        fn = (double)json_object_array_length(get(rep, "FN"));
    }
    f1 = tp + fp + fn > 0 ? tp / (tp + 0.5 * (fp + fn)) : 1.0;
    json_object_object_add(ev->acc, "f1", json_object_new_double(f1));
    return embed(ev, acorr_score, strs(ev->answer, ev->ground_truth));
}

static int acorr_classify(struct eval *ev, json_object *rep)
{
    json_object *as, *gs;

    json_object_object_add(ev->acc, "ground_truth_statements",
                           json_object_get(get(rep, "statements")));
    as = get(ev->acc, "answer_statements");
    gs = get(ev->acc, "ground_truth_statements");
    if (!json_object_array_length(as) && !json_object_array_length(gs))
        return acorr_f1(ev, NULL);    /* both empty: F1 = 1 */
    return chat(ev, acorr_f1, PROMPT_CLASSIFY,
                ragas_obj("question", S(ev->question), "answer", json_object_get(as),
                          "ground_truth", json_object_get(gs)), -1);
}

static int acorr_truth(struct eval *ev, json_object *rep)
{
    json_object_object_add(ev->acc, "answer_statements", json_object_get(get(rep, "statements")));
    return chat(ev, acorr_classify, PROMPT_STATEMENTS,
                ragas_obj("question", S(ev->question), "answer", S(ev->ground_truth), NULL, NULL),
                -1);
}

static int acorr_start(struct eval *ev, json_object *rep)
{
    (void)rep;
    ev->acc = json_object_new_object();
    return chat(ev, acorr_truth, PROMPT_STATEMENTS,
                ragas_obj("question", S(ev->question), "answer", S(ev->answer), NULL, NULL), -1);
}

/* ---- semantic_similarity: the cosine of the answer's and the ground
 * truth's embeddings ---- */

static int ssim_score(struct eval *ev, json_object *rep)
{
    ragas_set_score(ev, cosine(json_object_array_get_idx(rep, 0),
                               json_object_array_get_idx(rep, 1)), NULL);
    return RAGAS_DONE;
}

static int ssim_start(struct eval *ev, json_object *rep)
{
    (void)rep;
    return embed(ev, ssim_score, strs(ev->answer, ev->ground_truth));
}

/* ---- correctness (LlamaIndex): a 1-5 grade against the reference,
 * passing from 4 ---- */

static int corr_score(struct eval *ev, json_object *rep)
{
    double v = json_object_get_double(get(rep, "score"));
    json_object *reason = ragas_obj("reasoning", json_object_get(get(rep, "reasoning")),
                                    "passing", json_object_new_boolean(v >= 4.0),
                                    "passing_threshold", json_object_new_double(4.0));

    ragas_set_score(ev, v, reason);
    json_object_put(reason);
    return RAGAS_DONE;
}

static int corr_start(struct eval *ev, json_object *rep)
{
    (void)rep;
    return chat(ev, corr_score, PROMPT_CORRECTNESS,
                ragas_obj("query", S(ev->question), "reference_answer",
                          S(ev->ground_truth ? ev->ground_truth : "(no reference supplied)"),
                          "generated_answer", S(ev->answer)), -1);
}

/* ---- context_relevance (ragas's ContextRelevance, src/ragas/metrics/_nv_metrics.py
 * at commit 3e28e9de):
 * two differently worded ratings 0/1/2 of the joined contexts against the
 * question, each / 2, averaged; 0 for ragas's edge cases without a call;
 * a failed first rating gives null (ragas: max(NaN, x) is NaN), a failed
 * second one leaves the first (max(x, NaN) is x) ---- */

/* s without leading and trailing white space, malloc'd; NULL on OOM. */
static char *stripped(const char *s)
{
    size_t n;

    s = s ? s : "";
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
        s++;
    n = strlen(s);
    while (n && strchr(" \t\n\r\f\v", s[n - 1]))
        n--;
    return strndup(s, n);
}

static int crel_score(struct eval *ev, json_object *rep)
{
    double r0 = json_object_get_double(get(ev->acc, "rating_1")) / 2.0;
    json_object *reason = json_object_get(ev->acc);

    if (!rep) {
        json_object_object_add(reason, "rating_2_failed", S(ev->fail_why));
        ragas_set_score(ev, r0, reason);
    } else {
        json_object_object_add(reason, "rating_2", json_object_get(get(rep, "rating")));
        ragas_set_score(ev, (r0 + json_object_get_double(get(rep, "rating")) / 2.0) / 2.0,
                        reason);
    }
    json_object_put(reason);
    return RAGAS_DONE;
}

static int crel_second(struct eval *ev, json_object *rep)
{
    char why[400];
    int rc;

    if (!rep) {
        snprintf(why, sizeof why, "the first rating failed: %s", ev->fail_why);
        ragas_set_null(ev, ev->cur, why);
        return RAGAS_DONE;
    }
    json_object_object_add(ev->acc, "rating_1", json_object_get(get(rep, "rating")));
    rc = ask(ev, crel_score, PROMPT_CTX_RELEVANCE_ALT,
             ragas_obj("question", json_object_get(get(ev->acc, "question")), "context",
                       json_object_get(get(ev->acc, "context")), NULL, NULL), -1, 0.1, SEED);
    ev->tolerate = 1;
    return rc;
}

static int crel_start(struct eval *ev, json_object *rep)
{
    char *ctx = joined_contexts(ev), *q = stripped(ev->question), *c = stripped(ctx);
    const char *edge = NULL;
    int rc = RAGAS_DONE;

    (void)rep;
    if (!q || !c)
        edge = "out of memory";
    else if (!q[0] || !c[0])
        edge = "the question or the contexts are empty";
    else if (!strcmp(q, c))
        edge = "the contexts are the question";
    else if (strstr(q, c))
        edge = "the contexts occur inside the question";
    if (edge) {
        json_object *reason = ragas_obj("edge_case", S(edge), NULL, NULL, NULL, NULL);

        ragas_set_score(ev, 0.0, reason);
        json_object_put(reason);
        goto out;
    }
    ev->acc = ragas_obj("question", S(ev->question), "context", S(ctx), NULL, NULL);
    rc = ask(ev, crel_second, PROMPT_CTX_RELEVANCE,
             ragas_obj("question", S(ev->question), "context", S(ctx), NULL, NULL), -1, 0.1,
             SEED);
    ev->tolerate = 1;
out:
    free(ctx);
    free(q);
    free(c);
    return rc;
}

/* ---- criteria (criteria.h): one call per sample, then the vote ---- */

json_object *ragas_crit_reply(const crit_sample *s)
{
    json_object *o = ragas_obj("value", json_object_new_int(s->value), "reason", S(s->reason),
                               NULL, NULL);

    if (o && s->steps)
        json_object_object_add(o, "steps", json_object_get(s->steps));
    return o;
}

static int crit_sample_step(struct eval *ev, json_object *rep);
static void crit_samples_free(struct eval *ev);

/* Set up sample ev->n_samples of the current criterion. */
static int crit_ask(struct eval *ev)
{
    const criterion *c = ev->crits[ev->cur];
    row r;
    json_object *m = json_object_new_object();
    char *prompt;

    memset(&r, 0, sizeof r);
    r.question = ev->question;
    r.answer = ev->answer;
    r.ground_truth = ev->ground_truth;
    r.contexts = ev->contexts;
    r.n_contexts = ev->n_contexts;
    prompt = crit_render(c, &r);
    json_object_put(ev->messages);
    ev->messages = json_object_new_array();
    json_object_object_add(m, "role", S("user"));
    json_object_object_add(m, "content", S(prompt ? prompt : ""));
    json_object_array_add(ev->messages, m);
    free(prompt);
    ev->step = crit_sample_step;
    ev->is_embed = 0;
    ev->crit = c;
    ev->n_items = -1;
    ev->temperature = crit_temperature(c);
    ev->seed = crit_seed(c, (int)ev->n_samples);
    ev->repairs = 0;
    ev->key[0] = '\0';
    ev->tolerate = 1;
    return RAGAS_CALL;
}

static void crit_samples_free(struct eval *ev)
{
    size_t i;

    for (i = 0; i < ev->samples_cap; i++)
        crit_sample_clear(&ev->samples[i]);
    free(ev->samples);
    ev->samples = NULL;
    ev->n_samples = ev->samples_cap = 0;
}

static int crit_sample_step(struct eval *ev, json_object *rep)
{
    const criterion *c = ev->crits[ev->cur];
    crit_sample *x = &ev->samples[ev->n_samples++];
    judge_score *s = score(ev);
    json_object *steps;
    char *reason = NULL;
    double v;
    int is_null;

    ev->crit = NULL;
    if (!rep) {
        snprintf(x->error, sizeof x->error, "%.*s", (int)sizeof x->error - 1, ev->fail_why);
    } else {
        x->ok = 1;
        x->value = json_object_get_int(get(rep, "value"));
        snprintf(x->reason, sizeof x->reason, "%s", json_object_get_string(get(rep, "reason")));
        if ((steps = get(rep, "steps")) != NULL)
            x->steps = json_object_get(steps);
    }
    if (ev->n_samples < (size_t)c->samples)
        return crit_ask(ev);
    if (crit_vote(c, ev->samples, ev->n_samples, &v, &is_null, &reason) < 0) {
        ragas_set_null(ev, ev->cur, "out of memory");
    } else {
        free(s->reason);
        s->reason = reason;
        s->is_null = is_null;
        s->score = is_null ? 0 : v;
        ev->kind[ev->cur] = M_DONE;
    }
    crit_samples_free(ev);
    return RAGAS_DONE;
}

static int crit_start(struct eval *ev, json_object *rep)
{
    (void)rep;
    crit_samples_free(ev);        /* a criterion before this one cut short by the deadline */
    if (!(ev->samples = calloc((size_t)ev->crits[ev->cur]->samples, sizeof *ev->samples))) {
        ragas_set_null(ev, ev->cur, "out of memory");
        return RAGAS_DONE;
    }
    ev->samples_cap = (size_t)ev->crits[ev->cur]->samples;
    ev->n_samples = 0;
    return crit_ask(ev);
}

/* ---- the table ---- */

static const struct metric {
    const char *name;
    unsigned needs;               /* NEED_*: the row's inputs it reads */
    ragas_step_fn start;
} metrics[] = {
    { "faithfulness", NEED_Q | NEED_A | NEED_CTX, faith_start },
    { "answer_relevancy", NEED_Q | NEED_A, relev_start },
    { "context_precision", NEED_Q | NEED_GT | NEED_CTX, cprec_start },
    { "context_recall", NEED_Q | NEED_GT | NEED_CTX, crec_start },
    { "answer_correctness", NEED_Q | NEED_A | NEED_GT, acorr_start },
    { "semantic_similarity", NEED_A | NEED_GT, ssim_start },
    { "correctness", NEED_Q | NEED_A, corr_start },
    { "context_relevance", NEED_Q, crel_start },   /* empty contexts: 0, as ragas */
};

#define N_METRICS ((int)(sizeof metrics / sizeof metrics[0]))

int ragas_kind(const char *name)
{
    int k;

    for (k = 0; k < N_METRICS; k++)
        if (strcmp(metrics[k].name, name) == 0)
            return k;
    return -1;
}

const char *ragas_name(int k) { return k >= 0 && k < N_METRICS ? metrics[k].name : NULL; }

int ragas_step(struct eval *ev, json_object *rep)
{
    ragas_step_fn f = ev->step ? ev->step
                    : ev->kind[ev->cur] == M_CRIT ? crit_start : metrics[ev->kind[ev->cur]].start;

    ev->step = NULL;
    return f(ev, rep);
}

const char *ragas_missing(int kind, const row *r)
{
    unsigned needs = metrics[kind].needs;

    if (!r->answer && (needs & NEED_A))
        return "needs an answer";
    if (!r->question && (needs & NEED_Q))
        return "needs a question";
    if (!r->ground_truth && (needs & NEED_GT))
        return "needs a ground truth";
    if (r->n_contexts == 0 && (needs & NEED_CTX))
        return "needs at least one context";
    return NULL;
}
