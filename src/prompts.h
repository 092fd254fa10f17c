/* prompts.h - the ragas prompts (and LlamaIndex's correctness prompt) that
 * the LLM judges send, in ragrade's own words, with worked examples in
 * English and Chinese; the JSON schema each reply must fit; and a validator
 * of replies against those schemas. Pure functions; no I/O. */
#ifndef RAGRADE_PROMPTS_H
#define RAGRADE_PROMPTS_H

#include <json-c/json.h>
#include <stddef.h>

enum prompt_kind {
    PROMPT_STATEMENTS = 0,        /* {question, answer} -> {statements: [str]} */
    PROMPT_NLI,                   /* {context, statements} ->
                                   * {statements: [{statement, reason, verdict}]} */
    PROMPT_QUESTION,              /* {response} -> {question, noncommittal} */
    PROMPT_CTX_PRECISION,         /* {question, context, answer} -> {reason, verdict} */
    PROMPT_CTX_RECALL,            /* {question, context, answer} ->
                                   * {classifications: [{statement, reason, attributed}]} */
    PROMPT_CLASSIFY,              /* {question, answer: [str], ground_truth: [str]} ->
                                   * {TP, FP, FN} */
    PROMPT_CORRECTNESS,           /* {query, reference_answer, generated_answer} ->
                                   * {score, reasoning};
                                   * a system and a user message (prompts_render_chat) */
    PROMPT_CTX_RELEVANCE,         /* {question, context} -> {rating: 0|1|2} */
    PROMPT_CTX_RELEVANCE_ALT,     /* the same, worded differently (see below) */
    PROMPT_PROBE,                 /* {} -> {ok: true}: the init call that loads the model */
    PROMPT_N
};

/* context_relevance (ragas's ContextRelevance in _nv_metrics.py, for the
 * metric still to be written): PROMPT_CTX_RELEVANCE and
 * PROMPT_CTX_RELEVANCE_ALT rate the same input (the question and the
 * contexts joined with "\n") 0 (not relevant), 1 (partly) or 2 (fully),
 * each in its own words; score = (rating1 / 2 + rating2 / 2) / 2, in
 * [0, 1]. ragas scores 0 without calling the judge when the question or
 * the joined contexts are empty after stripping white space, when the two
 * are equal after stripping, or when the stripped contexts occur inside the
 * stripped question; a failed rating is NaN and the other one is then the
 * score (Python's max() of a number and NaN, which keeps its first
 * argument: only a failed second rating leaves the first). ragas sends
 * these two as plain text at temperature 0.1 and reads the first digit;
 * ragrade asks for the JSON schema like every other prompt. */

/* The language of a prompt's worked examples. */
enum prompt_lang {
    PROMPT_LANG_EN = 0,
    PROMPT_LANG_ZH,               /* Chinese: the row's text is mostly Han */
    PROMPT_LANG_N
};

/* The one sentence every prompt in which the judge writes text carries (all
 * but the context relevance ratings and the probe): statements, questions
 * and reasons come back in the language of the row's answer, so that, for
 * one, answer_relevancy embeds its generated questions in the language of
 * the original question. */
#define PROMPTS_LANG_RULE \
    "Write every statement, question, reason and reasoning in the language of the answer " \
    "or response in the input (or of its statements), even where these instructions and the " \
    "examples are in another language."

/* The schema's name ([a-zA-Z0-9_-]{1,64}, for OpenAI's response_format). */
const char *prompts_name(enum prompt_kind k);

/* The JSON schema of the reply as a new object (the caller owns it), or
 * NULL on out of memory. */
json_object *prompts_schema(enum prompt_kind k);

/* The examples' language for this input: PROMPT_LANG_ZH when the text that
 * the judge writes about (the answer, the response, the statements; the
 * question or the contexts when that text has no letters) is Chinese by
 * text_script(), else PROMPT_LANG_EN. Japanese and Korean rows get the
 * English examples; every prompt tells the judge to write in the language
 * of the answer whatever the examples' language. */
enum prompt_lang prompts_lang(enum prompt_kind k, json_object *input);

/* The messages of a chat request. *system is NULL for the prompts that are
 * one user message (all but PROMPT_CORRECTNESS): instructions, the schema,
 * the worked examples, then the input as JSON. PROMPT_CORRECTNESS follows
 * LlamaIndex's template: *system holds the guidelines, the schema and the
 * worked example; *user has sections for the query, the reference answer
 * ("(NO REFERENCE ANSWER SUPPLIED)" when reference_answer is missing, null
 * or "") and the generated answer. Both malloc'd (the caller frees them);
 * 0, or -ENOMEM with both NULL. The examples follow prompts_lang(). */
int prompts_render_chat(enum prompt_kind k, json_object *input, char **system, char **user);

/* The same with the examples' language chosen by the caller. */
int prompts_render_lang(enum prompt_kind k, json_object *input, enum prompt_lang lang,
                        char **system, char **user);

/* One user message: prompts_render_chat's user message, or for a prompt
 * with a system message the two joined by a blank line (for a client that
 * sends only one message). malloc'd (the caller frees); NULL on OOM. */
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
