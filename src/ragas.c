/* ragas.c - the metric steps: which prompt or embedding each metric asks
 * for next, and its formula once the replies are in (REFERENCE.md):
 * faithfulness, answer_relevancy, context_precision, context_recall,
 * answer_correctness, semantic_similarity and LlamaIndex's correctness. */
#include "ragas.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mnames[M_N + 1] = {
    "faithfulness", "answer_relevancy", "context_precision", "context_recall",
    "answer_correctness", "semantic_similarity", "correctness", NULL,
};

#define N_GENERATIONS 3           /* answer_relevancy's generated questions */

int ragas_kind(const char *name)
{
    int k;

    for (k = 0; k < M_N && strcmp(mnames[k], name); k++)
        ;
    return k;
}

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

static int chat(struct eval *ev, enum prompt_kind pk, json_object *input, long n_items)
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
    ev->is_embed = 0;
    ev->pk = pk;
    ev->n_items = n_items;
    ev->temperature = pk == PROMPT_QUESTION ? 0.3 : 0.0;
    ev->seed = SEED + (pk == PROMPT_QUESTION ? ev->stage : 0);
    ev->repairs = 0;
    ev->key[0] = '\0';
    return RAGAS_CALL;
}

static int embed(struct eval *ev, json_object *strings)
{
    json_object_put(ev->input);
    ev->input = strings;
    ev->is_embed = 1;
    ev->key[0] = '\0';
    return RAGAS_CALL;
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

int ragas_step(struct eval *ev, json_object *rep)
{
    json_object *a, *x, *reason;
    double sum = 0, v;
    size_t i, n;
    char *ctx;
    int st = ev->stage++, all_nc = 1;

    switch (ev->kind[ev->cur]) {
    case M_FAITH:
        if (st == 0)
            return chat(ev, PROMPT_STATEMENTS,
                        ragas_obj("question", S(ev->question), "answer", S(ev->answer), NULL,
                                  NULL), -1);
        if (st == 1) {
            a = get(rep, "statements");
            if (!(n = json_object_array_length(a))) {
                ragas_set_null(ev, ev->cur, "the answer has no statements");
                return RAGAS_DONE;
            }
            if (!(ctx = joined_contexts(ev)))
                ctx = strdup("");
            x = ragas_obj("context", S(ctx ? ctx : ""), "statements", json_object_get(a), NULL,
                          NULL);
            free(ctx);
            return chat(ev, PROMPT_NLI, x, (long)n);
        }
        a = get(rep, "statements");
        n = json_object_array_length(a);
        for (i = 0; i < n; i++)
            sum += json_object_get_double(get(json_object_array_get_idx(a, i), "verdict"));
        ragas_set_score(ev, n ? sum / (double)n : NAN, rep);
        return RAGAS_DONE;
    case M_RELEV:
        if (st == 0)
            ev->acc = json_object_new_array();
        if (st > 0 && st <= N_GENERATIONS)
            json_object_array_add(ev->acc, json_object_get(rep));
        if (st < N_GENERATIONS)
            return chat(ev, PROMPT_QUESTION,
                        ragas_obj("response", S(ev->answer), NULL, NULL, NULL, NULL), -1);
        if (st == N_GENERATIONS) {
            x = strs(ev->question, NULL);
            for (i = 0; i < N_GENERATIONS; i++)
                json_object_array_add(x, json_object_get(get(json_object_array_get_idx(ev->acc, i),
                                                             "question")));
            return embed(ev, x);
        }
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
    case M_CPREC:
        if (st == 0)
            ev->acc = json_object_new_array();
        else
            json_object_array_add(ev->acc, json_object_get(rep));
        if ((size_t)st < ev->n_contexts)
            return chat(ev, PROMPT_CTX_PRECISION,
                        ragas_obj("question", S(ev->question), "context", S(ev->contexts[st]),
                                  "answer", S(ev->ground_truth)), -1);
        {
            double relevant = 0, ap = 0;

            for (i = 0; i < ev->n_contexts; i++) {
                v = json_object_get_double(get(json_object_array_get_idx(ev->acc, i), "verdict"));
                relevant += v;
                ap += relevant / (double)(i + 1) * v;
            }
            reason = ragas_obj("verdicts", json_object_get(ev->acc), NULL, NULL, NULL, NULL);
            ragas_set_score(ev, ap / (relevant + 1e-10), reason);
            json_object_put(reason);
        }
        return RAGAS_DONE;
    case M_CREC:
        if (st == 0) {
            ctx = joined_contexts(ev);
            x = ragas_obj("question", S(ev->question), "context", S(ctx ? ctx : ""), "answer",
                          S(ev->ground_truth));
            free(ctx);
            return chat(ev, PROMPT_CTX_RECALL, x, -1);
        }
        a = get(rep, "classifications");
        if (!(n = json_object_array_length(a))) {
            ragas_set_null(ev, ev->cur, "the ground truth has no sentences to attribute");
            return RAGAS_DONE;
        }
        for (i = 0; i < n; i++)
            sum += json_object_get_double(get(json_object_array_get_idx(a, i), "attributed"));
        ragas_set_score(ev, sum / (double)n, rep);
        return RAGAS_DONE;
    case M_ACORR:
        if (st == 0) {
            ev->acc = json_object_new_object();
            return chat(ev, PROMPT_STATEMENTS,
                        ragas_obj("question", S(ev->question), "answer", S(ev->answer), NULL,
                                  NULL), -1);
        }
        if (st == 1) {
            json_object_object_add(ev->acc, "answer_statements",
                                   json_object_get(get(rep, "statements")));
            return chat(ev, PROMPT_STATEMENTS, ragas_obj("question", S(ev->question), "answer",
                                                         S(ev->ground_truth), NULL, NULL), -1);
        }
        if (st == 2) {
            json_object_object_add(ev->acc, "ground_truth_statements",
                                   json_object_get(get(rep, "statements")));
            if (json_object_array_length(get(ev->acc, "answer_statements")) ||
                json_object_array_length(get(ev->acc, "ground_truth_statements")))
                return chat(ev, PROMPT_CLASSIFY,
                            ragas_obj("question", S(ev->question),
                                      "answer", json_object_get(get(ev->acc, "answer_statements")),
                                      "ground_truth",
                                      json_object_get(get(ev->acc, "ground_truth_statements"))),
                            -1);
            rep = NULL;           /* both empty: F1 = 1 */
            st = ev->stage++;
        }
        if (st == 3) {
            double tp = 0, fp = 0, fn = 0;

            if (rep) {
                json_object_object_add(ev->acc, "classification", json_object_get(rep));
                tp = (double)json_object_array_length(get(rep, "TP"));
                fp = (double)json_object_array_length(get(rep, "FP"));
                fn = (double)json_object_array_length(get(rep, "FN"));
            }
            ev->f1 = tp + fp + fn > 0 ? tp / (tp + 0.5 * (fp + fn)) : 1.0;
            json_object_object_add(ev->acc, "f1", json_object_new_double(ev->f1));
            return embed(ev, strs(ev->answer, ev->ground_truth));
        }
        v = cosine(json_object_array_get_idx(rep, 0), json_object_array_get_idx(rep, 1));
        json_object_object_add(ev->acc, "semantic_similarity", json_object_new_double(v));
        ragas_set_score(ev, 0.75 * ev->f1 + 0.25 * v, ev->acc);
        return RAGAS_DONE;
    case M_SSIM:
        if (st == 0)
            return embed(ev, strs(ev->answer, ev->ground_truth));
        v = cosine(json_object_array_get_idx(rep, 0), json_object_array_get_idx(rep, 1));
        ragas_set_score(ev, v, NULL);
        return RAGAS_DONE;
    default:                      /* M_CORR */
        if (st == 0)
            return chat(ev, PROMPT_CORRECTNESS,
                        ragas_obj("query", S(ev->question), "reference_answer",
                                  S(ev->ground_truth ? ev->ground_truth
                                                     : "(no reference supplied)"),
                                  "generated_answer", S(ev->answer)), -1);
        v = json_object_get_double(get(rep, "score"));
        reason = ragas_obj("reasoning", json_object_get(get(rep, "reasoning")), "passing",
                           json_object_new_boolean(v >= 4.0), "passing_threshold",
                           json_object_new_double(4.0));
        ragas_set_score(ev, v, reason);
        json_object_put(reason);
        return RAGAS_DONE;
    }
}

const char *ragas_missing(int kind, const row *r)
{
    int need_ctx = kind == M_FAITH || kind == M_CPREC || kind == M_CREC;
    int need_gt = kind == M_CPREC || kind == M_CREC || kind == M_ACORR || kind == M_SSIM;

    if (!r->answer && kind != M_CPREC && kind != M_CREC)
        return "needs an answer";
    if (!r->question && kind != M_SSIM)
        return "needs a question";
    if (need_gt && !r->ground_truth)
        return "needs a ground truth";
    if (need_ctx && r->n_contexts == 0)
        return "needs at least one context";
    return NULL;
}

