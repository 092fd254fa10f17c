/* prompts.h - the ragas prompts (and LlamaIndex's correctness prompt) that
 * the LLM judges send, the JSON schema each reply must fit, and a validator
 * of replies against those schemas. Pure functions; no I/O. */
#ifndef RAGRADE_PROMPTS_H
#define RAGRADE_PROMPTS_H

#include <json-c/json.h>
#include <stddef.h>

enum prompt_kind {
    PROMPT_STATEMENTS = 0,        /* {question, answer} -> {statements: [str]} */
    PROMPT_NLI,                   /* {context, statements} -> {statements: [{statement, reason, verdict}]} */
    PROMPT_QUESTION,              /* {response} -> {question, noncommittal} */
    PROMPT_CTX_PRECISION,         /* {question, context, answer} -> {reason, verdict} */
    PROMPT_CTX_RECALL,            /* {question, context, answer} -> {classifications: [{statement, reason, attributed}]} */
    PROMPT_CLASSIFY,              /* {question, answer: [str], ground_truth: [str]} -> {TP, FP, FN} */
    PROMPT_CORRECTNESS,           /* {query, reference_answer, generated_answer} -> {score, reasoning} */
    PROMPT_PROBE,                 /* {} -> {ok: true}: the init call that loads the model */
    PROMPT_N
};

/* The schema's name ([a-zA-Z0-9_-]{1,64}, for OpenAI's response_format). */
const char *prompts_name(enum prompt_kind k);

/* The JSON schema of the reply as a new object (the caller owns it), or
 * NULL on out of memory. */
json_object *prompts_schema(enum prompt_kind k);

/* The one user message: instructions, the schema, a worked example, then
 * the input as JSON. malloc'd (the caller frees); NULL on out of memory. */
char *prompts_render(enum prompt_kind k, json_object *input);

/* The follow-up user message after a reply that did not fit; problem says
 * why (no secrets: it is sent to the endpoint). malloc'd; NULL on OOM. */
char *prompts_repair(enum prompt_kind k, const char *problem);

/* Parse reply text (```json fences tolerated) and check it against k's
 * schema: types, required keys, 0/1 verdicts, a score within 1-5, finite
 * numbers. n_items >= 0 also requires that many entries in the reply's main
 * list (NLI verdicts, one per statement). 0 with *out a new object, or
 * -EINVAL with err saying what is wrong. */
int prompts_validate(enum prompt_kind k, const char *text, long n_items, json_object **out,
                     char *err, size_t errlen);

#endif
