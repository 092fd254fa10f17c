/* prompts.c - the prompt texts, schemas and worked examples, laid out as
 * ragas lays them out (instruction, schema, examples, input), and a
 * validator for the subset of JSON Schema the schemas use: object with
 * required properties, array with items, string, integer, number, boolean,
 * enum. Extra properties in a reply are ignored. */
#include "prompts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

struct prompt {
    const char *name;
    const char *instruction;
    const char *schema;           /* JSON text */
    const char *ex_input;         /* JSON text */
    const char *ex_output;        /* JSON text */
    const char *list_key;         /* the list n_items counts, or NULL */
};

#define STR "{\"type\":\"string\"}"
#define BIT "{\"type\":\"integer\",\"enum\":[0,1]}"
#define OBJ(props, req) \
    "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]," \
    "\"additionalProperties\":false}"
#define ARR(items) "{\"type\":\"array\",\"items\":" items "}"
#define REASONED OBJ("\"statement\":" STR ",\"reason\":" STR, "\"statement\",\"reason\"")

static const struct prompt prompts[PROMPT_N] = {
    [PROMPT_STATEMENTS] = {
        "StatementGeneratorOutput",
        "Given a question and an answer, analyze the complexity of each sentence in the answer. "
        "Break down each sentence into one or more fully understandable statements. Ensure that "
        "no pronouns are used in any statement. Format the outputs in JSON.",
        OBJ("\"statements\":" ARR(STR), "\"statements\""),
        "{\"question\":\"Who was Albert Einstein and what is he best known for?\",\"answer\":\"He "
        "was a German-born theoretical physicist, widely acknowledged to be one of the greatest "
        "physicists of all time. He was best known for developing the theory of relativity.\"}",
        "{\"statements\":[\"Albert Einstein was a German-born theoretical physicist.\",\"Albert "
        "Einstein is recognized as one of the greatest physicists of all time.\",\"Albert "
        "Einstein was best known for developing the theory of relativity.\"]}",
        NULL },
    [PROMPT_NLI] = {
        "NLIStatementOutput",
        "Your task is to judge the faithfulness of a series of statements based on a given "
        "context. For each statement you must return verdict as 1 if the statement can be "
        "directly inferred based on the context or 0 if the statement can not be directly "
        "inferred based on the context.",
        OBJ("\"statements\":" ARR(OBJ("\"statement\":" STR ",\"reason\":" STR ",\"verdict\":" BIT,
                                      "\"statement\",\"reason\",\"verdict\"")),
            "\"statements\""),
        "{\"context\":\"John is a student at XYZ University. He is pursuing a degree in Computer "
        "Science. He often stays late in the library to work on his projects.\",\"statements\":"
        "[\"John is majoring in Biology.\",\"John is a dedicated student.\"]}",
        "{\"statements\":[{\"statement\":\"John is majoring in Biology.\",\"reason\":\"John's "
        "major is explicitly mentioned as Computer Science. There is no information suggesting "
        "he is majoring in Biology.\",\"verdict\":0},{\"statement\":\"John is a dedicated "
        "student.\",\"reason\":\"The context says that he often stays late in the library to "
        "work on his projects, which implies dedication.\",\"verdict\":1}]}",
        "statements" },
    [PROMPT_QUESTION] = {
        "ResponseRelevanceOutput",
        "Generate a question for the given answer and identify if the answer is noncommittal. "
        "Give noncommittal as 1 if the answer is noncommittal and 0 if the answer is committal. "
        "A noncommittal answer is one that is evasive, vague, or ambiguous. For example, \"I "
        "don't know\" or \"I'm not sure\" are noncommittal answers.",
        OBJ("\"question\":" STR ",\"noncommittal\":" BIT, "\"question\",\"noncommittal\""),
        "{\"response\":\"Albert Einstein was born in Germany.\"}",
        "{\"question\":\"Where was Albert Einstein born?\",\"noncommittal\":0}",
        NULL },
    [PROMPT_CTX_PRECISION] = {
        "ContextPrecisionVerification",
        "Given question, answer and context verify if the context was useful in arriving at the "
        "given answer. Give verdict as 1 if useful and 0 if not with json output.",
        OBJ("\"reason\":" STR ",\"verdict\":" BIT, "\"reason\",\"verdict\""),
        "{\"question\":\"What can you tell me about Albert Einstein?\",\"context\":\"Albert "
        "Einstein (14 March 1879 - 18 April 1955) was a German-born theoretical physicist, "
        "widely held to be one of the greatest scientists of all time.\",\"answer\":\"Albert "
        "Einstein, born on 14 March 1879, was a German-born theoretical physicist.\"}",
        "{\"reason\":\"The context gives Einstein's birth date and profession, which are the "
        "facts stated in the answer.\",\"verdict\":1}",
        NULL },
    [PROMPT_CTX_RECALL] = {
        "ContextRecallClassifications",
        "Given a context, and an answer, analyze each sentence in the answer and classify if the "
        "sentence can be attributed to the given context or not. Use only 1 (yes) or 0 (no) as "
        "a binary classification. Output json with reason.",
        OBJ("\"classifications\":" ARR(OBJ("\"statement\":" STR ",\"reason\":" STR
                                           ",\"attributed\":" BIT,
                                           "\"statement\",\"reason\",\"attributed\"")),
            "\"classifications\""),
        "{\"question\":\"What can you tell me about Albert Einstein?\",\"context\":\"Albert "
        "Einstein was a German-born theoretical physicist. He received the 1921 Nobel Prize in "
        "Physics.\",\"answer\":\"Albert Einstein was born in Germany. He won the Nobel Prize in "
        "1921. He was born in 1879.\"}",
        "{\"classifications\":[{\"statement\":\"Albert Einstein was born in Germany.\",\"reason\":"
        "\"The context says he was German-born.\",\"attributed\":1},{\"statement\":\"He won the "
        "Nobel Prize in 1921.\",\"reason\":\"The context states the 1921 Nobel Prize.\","
        "\"attributed\":1},{\"statement\":\"He was born in 1879.\",\"reason\":\"The context gives "
        "no birth date.\",\"attributed\":0}]}",
        "classifications" },
    [PROMPT_CLASSIFY] = {
        "ClassificationWithReason",
        "Given a ground truth and an answer statements, analyze each statement and classify "
        "them in one of the following categories: TP (true positive): statements that are "
        "present in answer that are also directly supported by the one or more statements in "
        "ground truth, FP (false positive): statements present in the answer but not directly "
        "supported by any statement in ground truth, FN (false negative): statements found in "
        "the ground truth but not present in answer. Each statement can only belong to one of "
        "the categories. Provide a reason for each classification.",
        OBJ("\"TP\":" ARR(REASONED) ",\"FP\":" ARR(REASONED) ",\"FN\":" ARR(REASONED),
            "\"TP\",\"FP\",\"FN\""),
        "{\"question\":\"What powers the sun?\",\"answer\":[\"The sun is powered by nuclear "
        "fission.\",\"The sun's energy provides light.\"],\"ground_truth\":[\"The sun is powered "
        "by nuclear fusion.\",\"The sun's energy provides light.\"]}",
        "{\"TP\":[{\"statement\":\"The sun's energy provides light.\",\"reason\":\"The ground "
        "truth says the same.\"}],\"FP\":[{\"statement\":\"The sun is powered by nuclear "
        "fission.\",\"reason\":\"The ground truth says fusion, not fission.\"}],\"FN\":"
        "[{\"statement\":\"The sun is powered by nuclear fusion.\",\"reason\":\"The answer does "
        "not mention fusion.\"}]}",
        NULL },
    [PROMPT_CORRECTNESS] = {
        "CorrectnessEvaluation",
        "You are an expert evaluation system for a question answering chatbot. You are given a "
        "user query and a generated answer, and may also be given a reference answer. Judge the "
        "relevance and correctness of the generated answer with a single holistic score between "
        "1 and 5, where 1 is the worst and 5 is the best: 1 if the generated answer is not "
        "relevant to the user query; 2 to 3 if it is relevant but contains mistakes; 4 to 5 if "
        "it is relevant and fully correct. Give the reasoning for the score.",
        OBJ("\"score\":{\"type\":\"number\"},\"reasoning\":" STR, "\"score\",\"reasoning\""),
        "{\"query\":\"What is the capital of France?\",\"reference_answer\":\"Paris is the "
        "capital of France.\",\"generated_answer\":\"The capital of France is Paris, on the "
        "Seine.\"}",
        "{\"score\":5.0,\"reasoning\":\"The answer is relevant and matches the reference.\"}",
        NULL },
    [PROMPT_PROBE] = {
        "ProbeOutput",
        "Reply with a JSON object whose key ok is true.",
        OBJ("\"ok\":{\"type\":\"boolean\"}", "\"ok\""),
        "{}", "{\"ok\":true}", NULL },
};

const char *prompts_name(enum prompt_kind k) { return prompts[k].name; }

/* A malloc'd formatted string, or NULL. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, f);
    n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    if (n < 0 || !(s = malloc((size_t)n + 1)))
        goto out;
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
out:
    return s;
}

json_object *prompts_schema(enum prompt_kind k)
{
    return json_tokener_parse(prompts[k].schema);
}

char *prompts_render(enum prompt_kind k, json_object *input)
{
    const struct prompt *p = &prompts[k];
    const char *in = json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
    char *s = NULL;

    if (in)
        s = fmt("%s\nPlease return the output in a JSON format that complies with the "
                "following schema as specified in JSON Schema:\n%s\nDo not use single quotes in "
                "your response but double quotes, properly escaped with a backslash.\n\n"
                "--------EXAMPLES-----------\nExample 1\nInput: %s\nOutput: %s\n"
                "-----------------------------\n\nNow perform the same with the following "
                "input\ninput: %s\nOutput: ",
                p->instruction, p->schema, p->ex_input, p->ex_output, in);
    return s;
}

char *prompts_repair(enum prompt_kind k, const char *problem)
{
    return fmt("Your previous output did not satisfy the constraints: %s. Return the output "
               "again, complete and concise, as one JSON object that complies with this JSON "
               "Schema, and nothing else:\n%s",
               problem, prompts[k].schema);
}

/* Check v against the schema node s; path names the place for err. */
static int check(json_object *s, json_object *v, const char *path, char *err, size_t errlen)
{
    json_object *t, *props, *req, *items, *en, *x;
    const char *type;
    char sub[128];
    size_t i, n;
    double d;
    int rc = -EINVAL;

    if (!json_object_object_get_ex(s, "type", &t)) {
        rc = 0;
        goto out;
    }
    type = json_object_get_string(t);
    if (strcmp(type, "object") == 0) {
        if (!json_object_is_type(v, json_type_object)) {
            snprintf(err, errlen, "%s must be an object", path);
            goto out;
        }
        json_object_object_get_ex(s, "properties", &props);
        json_object_object_get_ex(s, "required", &req);
        n = req ? json_object_array_length(req) : 0;
        for (i = 0; i < n; i++) {
            const char *key = json_object_get_string(json_object_array_get_idx(req, i));

            if (!json_object_object_get_ex(v, key, &x)) {
                snprintf(err, errlen, "%s lacks the key \"%s\"", path, key);
                goto out;
            }
            snprintf(sub, sizeof sub, "%s.%s", path, key);
            if (props && json_object_object_get_ex(props, key, &t) &&
                check(t, x, sub, err, errlen) < 0)
                goto out;
        }
    } else if (strcmp(type, "array") == 0) {
        if (!json_object_is_type(v, json_type_array)) {
            snprintf(err, errlen, "%s must be an array", path);
            goto out;
        }
        json_object_object_get_ex(s, "items", &items);
        n = json_object_array_length(v);
        for (i = 0; items && i < n; i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (check(items, json_object_array_get_idx(v, i), sub, err, errlen) < 0)
                goto out;
        }
    } else if (strcmp(type, "string") == 0) {
        if (!json_object_is_type(v, json_type_string)) {
            snprintf(err, errlen, "%s must be a string", path);
            goto out;
        }
    } else if (strcmp(type, "boolean") == 0) {
        if (!json_object_is_type(v, json_type_boolean)) {
            snprintf(err, errlen, "%s must be true or false", path);
            goto out;
        }
    } else {                      /* integer or number */
        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
            snprintf(err, errlen, "%s must be a number", path);
            goto out;
        }
        d = json_object_get_double(v);
        if (!isfinite(d) || (strcmp(type, "integer") == 0 && d != floor(d))) {
            snprintf(err, errlen, "%s must be a finite %s", path, type);
            goto out;
        }
        if (json_object_object_get_ex(s, "enum", &en)) {
            n = json_object_array_length(en);
            for (i = 0; i < n && json_object_get_double(json_object_array_get_idx(en, i)) != d; i++)
                ;
            if (i == n) {
                snprintf(err, errlen, "%s must be one of %s", path, json_object_get_string(en));
                goto out;
            }
        }
    }
    rc = 0;
out:
    return rc;
}

int prompts_validate(enum prompt_kind k, const char *text, long n_items, json_object **out,
                     char *err, size_t errlen)
{
    json_tokener *tok = NULL;
    json_object *v = NULL, *s = NULL, *x;
    const char *p = text, *end;
    size_t len;
    double d;
    int rc = -EINVAL;

    *out = NULL;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    if (strncmp(p, "```", 3) == 0) {             /* ```json ... ``` */
        p += strcspn(p, "\n");
        end = strstr(p, "```");
        len = end ? (size_t)(end - p) : strlen(p);
    } else {
        len = strlen(p);
    }
    if (!(tok = json_tokener_new()) || !(s = prompts_schema(k))) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    v = json_tokener_parse_ex(tok, p, (int)len);
    if (!v || json_tokener_get_error(tok) != json_tokener_success) {
        snprintf(err, errlen, "the output is not valid JSON (%s)",
                 v ? "incomplete" : json_tokener_error_desc(json_tokener_get_error(tok)));
        goto out;
    }
    for (end = p + json_tokener_get_parse_end(tok); end < p + len; end++)
        if (*end != ' ' && *end != '\n' && *end != '\r' && *end != '\t') {
            snprintf(err, errlen, "the output has text after the JSON object");
            goto out;
        }
    if (check(s, v, "output", err, errlen) < 0)
        goto out;
    if (k == PROMPT_CORRECTNESS) {
        json_object_object_get_ex(v, "score", &x);
        d = json_object_get_double(x);
        if (d < 1.0 || d > 5.0) {
            snprintf(err, errlen, "output.score must be between 1 and 5, not %g", d);
            goto out;
        }
    }
    if (n_items >= 0 && prompts[k].list_key) {
        json_object_object_get_ex(v, prompts[k].list_key, &x);
        if ((long)json_object_array_length(x) != n_items) {
            snprintf(err, errlen, "output.%s must have %ld entries, one per input statement, "
                     "not %zu", prompts[k].list_key, n_items, json_object_array_length(x));
            goto out;
        }
    }
    *out = v;
    v = NULL;
    rc = 0;
out:
    json_object_put(v);
    json_object_put(s);
    if (tok)
        json_tokener_free(tok);
    return rc;
}
