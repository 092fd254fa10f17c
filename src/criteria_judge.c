/* criteria_judge.c - the judge's side of criteria, as pure functions: the
 * critic and rubric prompts (laid out as prompts.c lays out ragas's:
 * instruction, schema, a worked example, the input), their JSON schemas,
 * the validation of replies, and the vote over a critic's samples. */
#include "criteria.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EX_CRITIC_DEF "Does the answer name the source of its facts?"
#define EX_CRITIC_IN "{\"question\":\"When did the Berlin Wall fall?\",\"answer\":\"It fell on " \
    "9 November 1989.\"}"
#define EX_CRITIC_OUT "{\"reason\":\"The answer gives the date but names no source for it.\"," \
    "\"verdict\":0}"
#define EX_RUBRIC_DEF "Is the answer complete? Scale: 1: misses the main point; 2: partly " \
    "complete; 3: complete."
#define EX_RUBRIC_STEPS " Steps: 1. List what the question asks. 2. Check each item " \
    "against the answer."
#define EX_RUBRIC_IN "{\"question\":\"What are the primary colours of light?\",\"answer\":" \
    "\"Red and green.\"}"
#define EX_RUBRIC_OUT_STEPS "{\"steps\":[\"The question asks for the three primary colours " \
    "of light: red, green and blue.\",\"The answer names red and green but not blue.\"],"
#define EX_RUBRIC_OUT "\"reason\":\"Two of the three colours are named; blue is missing.\"," \
    "\"score\":2}"

static const char *const missing_why[] = {
    "needs a question", "needs an answer", "needs at least one context", "needs a ground truth",
};

const char *crit_missing(const criterion *c, const row *r)
{
    if ((c->inputs & CRIT_IN_QUESTION) && !r->question)
        return missing_why[0];
    if ((c->inputs & CRIT_IN_ANSWER) && !r->answer)
        return missing_why[1];
    if ((c->inputs & CRIT_IN_CONTEXTS) && r->n_contexts == 0)
        return missing_why[2];
    if ((c->inputs & CRIT_IN_GROUND_TRUTH) && !r->ground_truth)
        return missing_why[3];
    return NULL;
}

const char *crit_schema_name(const criterion *c)
{
    return c->kind == CRIT_CRITIC ? "CriticVerdict" : "RubricScore";
}

static json_object *typed(const char *type)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "type", json_object_new_string(type));
    return o;
}

json_object *crit_schema(const criterion *c)
{
    json_object *s = typed("object"), *props = json_object_new_object(), *req, *x, *en;
    size_t i;

    req = json_object_new_array();
    if (c->kind == CRIT_RUBRIC && c->n_steps) {
        x = typed("array");
        json_object_object_add(x, "items", typed("string"));
        json_object_object_add(props, "steps", x);
        json_object_array_add(req, json_object_new_string("steps"));
    }
    json_object_object_add(props, "reason", typed("string"));
    json_object_array_add(req, json_object_new_string("reason"));
    x = typed("integer");
    en = json_object_new_array();
    if (c->kind == CRIT_CRITIC) {
        json_object_array_add(en, json_object_new_int(0));
        json_object_array_add(en, json_object_new_int(1));
    }
    for (i = 0; c->kind == CRIT_RUBRIC && i < c->n_levels; i++)
        json_object_array_add(en, json_object_new_int(c->levels[i].score));
    json_object_object_add(x, "enum", en);
    json_object_object_add(props, c->kind == CRIT_CRITIC ? "verdict" : "score", x);
    json_object_array_add(req, json_object_new_string(c->kind == CRIT_CRITIC ? "verdict"
                                                                             : "score"));
    json_object_object_add(s, "properties", props);
    json_object_object_add(s, "required", req);
    json_object_object_add(s, "additionalProperties", json_object_new_boolean(0));
    return s;
}

/* A growing string; on out of memory it stays NULL. */
struct buf {
    char *s;
    size_t n, cap;
    int oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    char *p;
    int n;

    if (b->oom)
        return;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (b->n + (size_t)n + 1 > b->cap) {
        size_t cap = 2 * (b->n + (size_t)n + 1);

        if (!(p = realloc(b->s, cap))) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static char *done(struct buf *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

/* The row's named inputs (a new object, owned by the caller); a missing
 * one is null (crit_missing should have kept the row from here). */
static json_object *inputs_of(const criterion *c, const row *r)
{
    json_object *o = json_object_new_object(), *a;
    size_t i;

    if (c->inputs & CRIT_IN_QUESTION)
        json_object_object_add(o, "question", r->question ? json_object_new_string(r->question)
                                                          : NULL);
    if (c->inputs & CRIT_IN_ANSWER)
        json_object_object_add(o, "answer", r->answer ? json_object_new_string(r->answer) : NULL);
    if (c->inputs & CRIT_IN_CONTEXTS) {
        a = json_object_new_array();
        for (i = 0; i < r->n_contexts; i++)
            json_object_array_add(a, json_object_new_string(r->contexts[i]));
        json_object_object_add(o, "contexts", a);
    }
    if (c->inputs & CRIT_IN_GROUND_TRUTH)
        json_object_object_add(o, "ground_truth", r->ground_truth
                               ? json_object_new_string(r->ground_truth) : NULL);
    return o;
}

static void instruction(struct buf *b, const criterion *c)
{
    size_t i;

    if (c->kind == CRIT_CRITIC) {
        put(b, "Evaluate the input on the criterion defined below. Give the verdict as 1 (yes) "
            "if the input meets the criterion and 0 (no) if it does not, with the reason for "
            "it.\nCriterion: %s\n", c->definition);
        return;
    }
    put(b, "Your task is to score the input on the criterion defined below, using only the "
        "scoring rubric, and to give the reason for the score.\nCriterion: %s\nScoring rubric:\n",
        c->definition);
    for (i = 0; i < c->n_levels; i++)
        put(b, "score %d: %s\n", c->levels[i].score, c->levels[i].description);
    if (c->n_steps) {
        put(b, "Evaluation steps: walk through these steps in order, writing one short finding "
            "per step in \"steps\" (%zu entries), before you choose the score:\n", c->n_steps);
        for (i = 0; i < c->n_steps; i++)
            put(b, "%zu. %s\n", i + 1, c->steps[i]);
    }
    put(b, "The score must be one of");
    for (i = 0; i < c->n_levels; i++)
        put(b, "%s %d", i ? "," : "", c->levels[i].score);
    put(b, ".\n");
}

char *crit_render(const criterion *c, const row *r)
{
    json_object *schema = crit_schema(c), *in = inputs_of(c, r);
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    struct buf b = { 0 };
    int critic = c->kind == CRIT_CRITIC;

    if (!schema || !in) {
        b.oom = 1;
        goto out;
    }
    instruction(&b, c);
    put(&b, "Please return the output in a JSON format that complies with the following schema "
        "as specified in JSON Schema:\n%s\nDo not use single quotes in your response but "
        "double quotes, properly escaped with a backslash.\n\n--------EXAMPLES-----------\n"
        "Example 1 (for the criterion \"%s\"%s)\nInput: %s\nOutput: %s%s\n"
        "-----------------------------\n\nNow perform the same with the following input\n"
        "input: %s\nOutput: ",
        json_object_to_json_string_ext(schema, flags), critic ? EX_CRITIC_DEF : EX_RUBRIC_DEF,
        !critic && c->n_steps ? EX_RUBRIC_STEPS : "", critic ? EX_CRITIC_IN : EX_RUBRIC_IN,
        critic ? EX_CRITIC_OUT : c->n_steps ? EX_RUBRIC_OUT_STEPS : "{",
        critic ? "" : EX_RUBRIC_OUT, json_object_to_json_string_ext(in, flags));
out:
    json_object_put(schema);
    json_object_put(in);
    return done(&b);
}

char *crit_repair(const criterion *c, const char *problem)
{
    json_object *schema = crit_schema(c);
    struct buf b = { 0 };

    if (!schema)
        return NULL;
    put(&b, "Your previous output did not satisfy the constraints: %s. Return the output again, "
        "complete and concise, as one JSON object that complies with this JSON Schema, and "
        "nothing else:\n%s", problem,
        json_object_to_json_string_ext(schema, JSON_C_TO_STRING_PLAIN));
    json_object_put(schema);
    return done(&b);
}

double crit_temperature(const criterion *c) { return c->samples > 1 ? CRIT_TEMPERATURE : 0.0; }

int crit_seed(const criterion *c, int i) { return c->samples > 1 ? 42 + i : 42; }

/* Copy at most len - 1 bytes of s, not splitting a UTF-8 sequence. */
static void copy_capped(char *dst, size_t len, const char *s)
{
    size_t n = strlen(s);

    if (n >= len) {
        n = len - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* The reply's JSON object, ```json fences tolerated, nothing after it. */
static json_object *parse_text(const char *text, char *err, size_t errlen)
{
    json_tokener *tok = json_tokener_new();
    json_object *v = NULL;
    const char *p = text, *end;
    size_t len;

    if (!tok) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p += strspn(p, " \n\r\t");
    if (strncmp(p, "```", 3) == 0) {
        p += strcspn(p, "\n");
        end = strstr(p, "```");
        len = end ? (size_t)(end - p) : strlen(p);
    } else {
        len = strlen(p);
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    v = json_tokener_parse_ex(tok, p, (int)len);
    if (!v || json_tokener_get_error(tok) != json_tokener_success) {
        snprintf(err, errlen, "the output is not valid JSON (%s)",
                 v ? "incomplete" : json_tokener_error_desc(json_tokener_get_error(tok)));
        goto bad;
    }
    for (end = p + json_tokener_get_parse_end(tok); end < p + len; end++)
        if (*end != ' ' && *end != '\n' && *end != '\r' && *end != '\t') {
            snprintf(err, errlen, "the output has text after the JSON object");
            goto bad;
        }
    if (!json_object_is_type(v, json_type_object)) {
        snprintf(err, errlen, "output must be an object");
        goto bad;
    }
    json_tokener_free(tok);
    return v;
bad:
    json_object_put(v);
    json_tokener_free(tok);
    return NULL;
}

/* The integer at key: 0, or -EINVAL with err. A number with no fraction
 * (4.0) counts as an integer, as prompts.c counts it. */
static int int_at(json_object *v, const char *key, int *out, char *err, size_t errlen)
{
    json_object *x;
    double d;

    if (!json_object_object_get_ex(v, key, &x)) {
        snprintf(err, errlen, "output lacks the key \"%s\"", key);
        return -EINVAL;
    }
    if (!json_object_is_type(x, json_type_int) && !json_object_is_type(x, json_type_double)) {
        snprintf(err, errlen, "output.%s must be a number", key);
        return -EINVAL;
    }
    d = json_object_get_double(x);
    if (!isfinite(d) || d != floor(d) || fabs(d) > 1e6) {
        snprintf(err, errlen, "output.%s must be a whole number", key);
        return -EINVAL;
    }
    *out = (int)d;
    return 0;
}

static int check_value(const criterion *c, int value, char *err, size_t errlen)
{
    size_t i, o = 0;
    char list[128] = "";

    if (c->kind == CRIT_CRITIC) {
        if (value == 0 || value == 1)
            return 0;
        snprintf(err, errlen, "output.verdict must be 0 or 1, not %d", value);
        return -EINVAL;
    }
    for (i = 0; i < c->n_levels; i++) {
        if (c->levels[i].score == value)
            return 0;
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%d", i ? ", " : "",
                              c->levels[i].score);
        if (o >= sizeof list)
            break;
    }
    snprintf(err, errlen, "output.score must be one of the levels %s, not %d", list, value);
    return -EINVAL;
}

static int check_steps(const criterion *c, json_object *v, json_object **steps, char *err,
                       size_t errlen)
{
    json_object *x;
    size_t i, n;

    if (c->kind == CRIT_CRITIC || c->n_steps == 0)
        return 0;
    if (!json_object_object_get_ex(v, "steps", &x) || !json_object_is_type(x, json_type_array)) {
        snprintf(err, errlen, "output.steps must be an array of %zu findings, one per step",
                 c->n_steps);
        return -EINVAL;
    }
    if ((n = json_object_array_length(x)) != c->n_steps) {
        snprintf(err, errlen, "output.steps must have %zu entries, one per evaluation step, "
                 "not %zu", c->n_steps, n);
        return -EINVAL;
    }
    for (i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(x, i), json_type_string)) {
            snprintf(err, errlen, "output.steps[%zu] must be a string", i);
            return -EINVAL;
        }
    *steps = json_object_get(x);
    return 0;
}

int crit_parse_reply(const criterion *c, const char *text, crit_sample *out,
                     char *err, size_t errlen)
{
    const char *key = c->kind == CRIT_CRITIC ? "verdict" : "score";
    json_object *v, *x;
    int rc = -EINVAL, value;

    memset(out, 0, sizeof *out);
    if (!(v = parse_text(text, err, errlen)))
        goto out;
    if ((rc = int_at(v, key, &value, err, errlen)) < 0 ||
        (rc = check_value(c, value, err, errlen)) < 0)
        goto out;
    rc = -EINVAL;
    if (!json_object_object_get_ex(v, "reason", &x) || !json_object_is_type(x, json_type_string)) {
        snprintf(err, errlen, "output.reason must be a string");
        goto out;
    }
    copy_capped(out->reason, sizeof out->reason, json_object_get_string(x));
    if ((rc = check_steps(c, v, &out->steps, err, errlen)) < 0)
        goto out;
    out->ok = 1;
    out->value = value;
out:
    json_object_put(v);
    return rc;
}

void crit_sample_clear(crit_sample *s)
{
    if (s) {
        json_object_put(s->steps);
        memset(s, 0, sizeof *s);
    }
}

static void critic_vote(const crit_sample *s, size_t n, double *score, int *is_null,
                       json_object *o)
{
    json_object *a = json_object_new_array(), *x;
    size_t i, yes = 0, no = 0, failed = 0;
    const char *why = NULL;
    char summary[1400], tail[32] = "";
    int win;

    for (i = 0; i < n; i++) {
        x = json_object_new_object();
        if (s[i].ok) {
            if (s[i].value)
                yes++;
            else
                no++;
            json_object_object_add(x, "verdict", json_object_new_int(s[i].value));
            json_object_object_add(x, "reason", json_object_new_string(s[i].reason));
        } else {
            failed++;
            json_object_object_add(x, "error", json_object_new_string(s[i].error));
        }
        json_object_array_add(a, x);
    }
    win = yes > no ? 1 : no > yes ? 0 : -1;
    for (i = 0; i < n && win >= 0 && !why; i++)       /* the first reason of the majority */
        if (s[i].ok && s[i].value == win)
            why = s[i].reason;
    if (failed)
        snprintf(tail, sizeof tail, " (%zu failed)", failed);
    *is_null = win < 0;
    *score = win < 0 ? 0 : win;
    if (yes + no == 0)
        snprintf(summary, sizeof summary, "no sample answered: %s", n ? s[0].error : "none");
    else if (win < 0)
        snprintf(summary, sizeof summary, "no majority: %zu said yes, %zu said no%s", yes, no,
                 tail);
    else
        snprintf(summary, sizeof summary, "%zu of %zu said %s%s: %s", win ? yes : no, n,
                 win ? "yes" : "no", tail, why);
    json_object_object_add(o, "summary", json_object_new_string(summary));
    json_object_object_add(o, "yes", json_object_new_int((int)yes));
    json_object_object_add(o, "no", json_object_new_int((int)no));
    json_object_object_add(o, "failed", json_object_new_int((int)failed));
    json_object_object_add(o, "samples", a);
}

static void rubric_result(const criterion *c, const crit_sample *s, double *score, int *is_null,
                          json_object *o)
{
    size_t i;

    *is_null = !s->ok;
    *score = s->ok ? s->value : 0;
    if (!s->ok) {
        json_object_object_add(o, "summary", json_object_new_string(s->error));
        return;
    }
    json_object_object_add(o, "score", json_object_new_int(s->value));
    for (i = 0; i < c->n_levels && c->levels[i].score != s->value; i++)
        ;
    json_object_object_add(o, "level", json_object_new_string(i < c->n_levels
                                                              ? c->levels[i].description : ""));
    json_object_object_add(o, "normalised", json_object_new_double(crit_normalised(c, s->value)));
    if (s->steps)
        json_object_object_add(o, "steps", json_object_get(s->steps));
    json_object_object_add(o, "reason", json_object_new_string(s->reason));
}

int crit_vote(const criterion *c, const crit_sample *s, size_t n, double *score, int *is_null,
              char **reason)
{
    json_object *o = json_object_new_object();
    const char *t;
    int rc = -ENOMEM;

    *reason = NULL;
    *is_null = 1;
    *score = 0;
    if (!o)
        goto out;
    if (c->kind == CRIT_CRITIC) {
        critic_vote(s, n, score, is_null, o);
    } else if (n == 0) {
        json_object_object_add(o, "summary", json_object_new_string("no sample"));
    } else {
        rubric_result(c, &s[0], score, is_null, o);
    }
    json_object_object_add(o, "version", json_object_new_string(c->version));
    if ((t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                            JSON_C_TO_STRING_NOSLASHESCAPE)) &&
        (*reason = strdup(t)))
        rc = 0;
out:
    json_object_put(o);
    return rc;
}
