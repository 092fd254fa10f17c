/* criteria_test.c - unit tests of criteria (criteria.c, criteria_conf.c,
 * criteria_judge.c) and their storage (critstore.c) on a real SQLite file:
 * every validation error and the field it names, canonical JSON and
 * versions, [criterion NAME] sections, prompts, replies, votes, the
 * registry's snapshots and the table's change counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "criteria.h"
#include "critstore.h"
#include "db_int.h"
#include "db.h"

#define RUBRIC "{\"kind\":\"rubric\",\"definition\":\"Is the answer supported by the contexts?\"," \
    "\"inputs\":[\"answer\",\"contexts\"],\"levels\":[{\"score\":1,\"description\":\"contradicts " \
    "the contexts\"},{\"score\":3,\"description\":\"partly supported\"},{\"score\":5," \
    "\"description\":\"fully supported and complete\"}],\"steps\":[\"List the claims of the " \
    "answer.\",\"Find each claim in the contexts.\"]}"
#define CRITIC "{\"kind\":\"critic\",\"definition\":\"Does the answer refuse to give medical " \
    "dosage advice?\",\"samples\":3}"

/* Parse text as criterion name; returns crit_from_json's code. */
static int parse(criterion *c, const char *name, const char *text, crit_error *e)
{
    json_object *o = json_tokener_parse(text);
    int rc;

    assert_non_null(o);
    rc = crit_from_json(c, name, o, e);
    json_object_put(o);
    return rc;
}

static void test_valid(void **state)
{
    criterion c;
    crit_error e;
    char *canon;
    size_t i;

    (void)state;
    assert_int_equal(parse(&c, "refuses_dosage", CRITIC, &e), 0);
    assert_int_equal(c.kind, CRIT_CRITIC);
    assert_int_equal(c.samples, 3);
    assert_int_equal(c.inputs, CRIT_IN_QUESTION | CRIT_IN_ANSWER);     /* the default */
    assert_int_equal(strlen(c.version), CRIT_VERSION_LEN);
    for (i = 0; i < CRIT_VERSION_LEN; i++)
        assert_non_null(strchr("0123456789abcdef", c.version[i]));
    canon = crit_canonical(&c);
    assert_string_equal(canon, "{\"kind\":\"critic\",\"definition\":\"Does the answer refuse to "
                        "give medical dosage advice?\",\"inputs\":[\"question\",\"answer\"],"
                        "\"samples\":3}");
    free(canon);
    crit_clear(&c);

    assert_int_equal(parse(&c, "supported", RUBRIC, &e), 0);
    assert_int_equal(c.kind, CRIT_RUBRIC);
    assert_int_equal(c.n_levels, 3);
    assert_int_equal(c.levels[2].score, 5);
    assert_string_equal(c.levels[1].description, "partly supported");
    assert_int_equal(c.n_steps, 2);
    assert_int_equal(c.inputs, CRIT_IN_ANSWER | CRIT_IN_CONTEXTS);
    crit_clear(&c);
}

struct bad {
    const char *name, *json, *field, *words;
};

static const struct bad bads[] = {
    { "Tone", CRITIC, "name", "lower case" },
    { "9tone", CRITIC, "name", "starts with" },
    { "to-ne", CRITIC, "name", "only lower case" },
    { "", CRITIC, "name", "1 to" },
    { "faithfulness", CRITIC, "name", "built-in" },
    { "token_f1", CRITIC, "name", "built-in" },
    { "context_relevance", CRITIC, "name", "reserved" },
    { "x", "[]", "", "JSON object" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"level\":[]}", "level", "unknown field" },
    { "x", "{\"definition\":\"d\"}", "kind", "required" },
    { "x", "{\"kind\":\"judge\",\"definition\":\"d\"}", "kind", "unknown kind 'judge'" },
    { "x", "{\"kind\":1,\"definition\":\"d\"}", "kind", "unknown kind" },
    { "x", "{\"kind\":\"critic\"}", "definition", "required" },
    { "x", "{\"kind\":\"critic\",\"definition\":\" \\n \"}", "definition", "not be empty" },
    { "x", "{\"kind\":\"critic\",\"definition\":7}", "definition", "string" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"inputs\":[]}", "inputs", "at least one" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"inputs\":\"answer\"}", "inputs", "array" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"inputs\":[\"answer\",\"answr\"]}",
      "inputs[1]", "unknown input 'answr'" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"inputs\":[\"answer\",\"answer\"]}",
      "inputs[1]", "twice" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"inputs\":[3]}", "inputs[0]", "one of" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"samples\":2}", "samples", "odd" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"samples\":11}", "samples", "from 1 to 9" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"samples\":0}", "samples", "from 1 to 9" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"samples\":\"3\"}", "samples", "whole" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"levels\":[]}", "levels", "only a rubric" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"steps\":[\"s\"]}", "steps", "only a rubric" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\"}", "levels", "needs levels" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"samples\":3,\"levels\":[{\"score\":1,"
      "\"description\":\"a\"},{\"score\":2,\"description\":\"b\"}]}", "samples", "only a critic" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":{}}", "levels", "array" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"score\":1,\"description\":"
      "\"a\"}]}", "levels", "2 to 10" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"score\":2,\"description\":"
      "\"a\"},{\"score\":1,\"description\":\"b\"}]}", "levels[1].score", "increasing" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"score\":1,\"description\":"
      "\"a\"},{\"score\":1,\"description\":\"b\"}]}", "levels[1].score", "increasing" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"score\":1.5,\"description\":"
      "\"a\"},{\"score\":2,\"description\":\"b\"}]}", "levels[0].score", "whole" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"score\":1,\"description\":"
      "\"a\"},{\"score\":2}]}", "levels[1].description", "required" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"description\":\"a\"},"
      "{\"score\":2,\"description\":\"b\"}]}", "levels[0].score", "required" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"score\":1,\"description\":"
      "\"\"},{\"score\":2,\"description\":\"b\"}]}", "levels[0].description", "not be empty" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"score\":1,\"description\":"
      "\"a\",\"colour\":1},{\"score\":2,\"description\":\"b\"}]}", "levels[0].colour", "unknown" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[1,2]}", "levels[0]", "object" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"score\":1,\"description\":"
      "\"a\"},{\"score\":2000,\"description\":\"b\"}]}", "levels[1].score", "from -1000 to 1000" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"score\":1,\"description\":"
      "\"a\"},{\"score\":2,\"description\":\"b\"}],\"steps\":\"s\"}", "steps", "array" },
    { "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":[{\"score\":1,\"description\":"
      "\"a\"},{\"score\":2,\"description\":\"b\"}],\"steps\":[\"s\",\" \"]}", "steps[1]",
      "not be empty" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"judge\":\"Strong!\"}", "judge", "profile" },
    { "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"judge\":5}", "judge", "profile" },
};

static void test_errors(void **state)
{
    criterion c;
    crit_error e;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        int rc = parse(&c, bads[i].name, bads[i].json, &e);

        if (rc != -EINVAL || strcmp(e.field, bads[i].field) || !strstr(e.message, bads[i].words))
            fail_msg("case %zu (%s %s): rc %d field '%s' message '%s'", i, bads[i].name,
                     bads[i].json, rc, e.field, e.message);
        crit_clear(&c);
    }
}

/* A JSON text with n levels or steps of len bytes each. */
static char *big(const char *kind, size_t n, size_t len)
{
    size_t cap = 256 + n * (len + 64), o, i;
    char *s = malloc(cap), *text = malloc(len + 1);

    memset(text, 'a', len);
    text[len] = '\0';
    o = (size_t)snprintf(s, cap, "{\"kind\":\"rubric\",\"definition\":\"d\",\"%s\":[", kind);
    for (i = 0; i < n; i++) {
        if (!strcmp(kind, "levels"))
            o += (size_t)snprintf(s + o, cap - o, "%s{\"score\":%zu,\"description\":\"%s\"}",
                                  i ? "," : "", i, text);
        else
            o += (size_t)snprintf(s + o, cap - o, "%s\"%s\"", i ? "," : "", text);
    }
    if (!strcmp(kind, "steps"))
        snprintf(s + o, cap - o, "],\"levels\":[{\"score\":1,\"description\":\"a\"},{\"score\":2,"
                 "\"description\":\"b\"}]}");
    else
        snprintf(s + o, cap - o, "]}");
    free(text);
    return s;
}

static void test_limits(void **state)
{
    criterion c;
    crit_error e;
    json_object *o;
    char *s, *def;

    (void)state;
    s = big("levels", 11, 1);
    assert_int_equal(parse(&c, "x", s, &e), -EINVAL);
    assert_string_equal(e.field, "levels");
    assert_non_null(strstr(e.message, "2 to 10"));
    crit_clear(&c);
    free(s);
    s = big("levels", 10, 10);
    assert_int_equal(parse(&c, "x", s, &e), 0);
    crit_clear(&c);
    free(s);
    s = big("steps", 21, 1);
    assert_int_equal(parse(&c, "x", s, &e), -EINVAL);
    assert_string_equal(e.field, "steps");
    assert_non_null(strstr(e.message, "at most 20"));
    crit_clear(&c);
    free(s);
    s = big("steps", 20, 10);
    assert_int_equal(parse(&c, "x", s, &e), 0);
    crit_clear(&c);
    free(s);
    s = big("levels", 10, 900);         /* each fits, the whole does not */
    assert_int_equal(parse(&c, "x", s, &e), -EINVAL);
    assert_string_equal(e.field, "levels");
    assert_non_null(strstr(e.message, "over the limit of 8192"));
    crit_clear(&c);
    free(s);

    def = malloc(CRIT_DEF_MAX + 2);
    memset(def, 'd', CRIT_DEF_MAX + 1);
    def[CRIT_DEF_MAX + 1] = '\0';
    o = json_object_new_object();
    json_object_object_add(o, "kind", json_object_new_string("critic"));
    json_object_object_add(o, "definition", json_object_new_string(def));
    assert_int_equal(crit_from_json(&c, "x", o, &e), -EINVAL);
    assert_string_equal(e.field, "definition");
    assert_non_null(strstr(e.message, "over the limit"));
    crit_clear(&c);
    json_object_object_add(o, "definition", json_object_new_string("bad \xff\xfe bytes"));
    assert_int_equal(crit_from_json(&c, "x", o, &e), -EINVAL);
    assert_string_equal(e.field, "definition");
    assert_non_null(strstr(e.message, "UTF-8"));
    crit_clear(&c);
    json_object_put(o);
    free(def);
}

static void test_body(void **state)
{
    criterion c;
    crit_error e;
    const char *b;

    (void)state;
    b = "{\"kind\":\"critic\",";
    assert_int_equal(crit_parse_body(&c, "x", b, strlen(b), &e), -EINVAL);
    assert_string_equal(e.field, "");
    crit_clear(&c);
    b = "{\"kind\":\"critic\",\"definition\":\"d\"} x";
    assert_int_equal(crit_parse_body(&c, "x", b, strlen(b), &e), -EINVAL);
    crit_clear(&c);
    b = "  {\"kind\":\"critic\",\"definition\":\"d\"}\n";
    assert_int_equal(crit_parse_body(&c, "x", b, strlen(b), &e), 0);   /* curl -d @file */
    crit_clear(&c);
    b = "{\"kind\":\"critic\",\"definition\":\"d\"}";
    assert_int_equal(crit_parse_body(&c, "x", b, strlen(b), &e), 0);
    crit_clear(&c);
}

static void test_versions(void **state)
{
    criterion a, b;
    crit_error e;
    char *ca, *cb;

    (void)state;
    /* The same content spelt differently: key order, whitespace, defaults
     * written out, inputs in another order. */
    assert_int_equal(parse(&a, "x", "{\"kind\":\"critic\",\"definition\":\"Polite?\"}", &e), 0);
    assert_int_equal(parse(&b, "y", "{ \"samples\": 1, \"inputs\": [\"answer\", \"question\"],"
                           " \"definition\": \"  Polite?\\n\", \"kind\": \"critic\" }", &e), 0);
    ca = crit_canonical(&a);
    cb = crit_canonical(&b);
    assert_string_equal(ca, cb);
    assert_string_equal(a.version, b.version);      /* the name is not content */
    free(ca);
    free(cb);
    crit_clear(&b);
    assert_int_equal(parse(&b, "x", "{\"kind\":\"critic\",\"definition\":\"Polite?\","
                           "\"judge\":\"strong\"}", &e), 0);
    assert_string_not_equal(a.version, b.version);
    crit_clear(&b);
    assert_int_equal(parse(&b, "x", "{\"kind\":\"critic\",\"definition\":\"Polite?\","
                           "\"samples\":3}", &e), 0);
    assert_string_not_equal(a.version, b.version);
    crit_clear(&a);
    crit_clear(&b);

    /* An edited rubric: one level's words, then one step. */
    assert_int_equal(parse(&a, "x", RUBRIC, &e), 0);
    assert_int_equal(parse(&b, "x", RUBRIC, &e), 0);
    assert_string_equal(a.version, b.version);
    crit_clear(&b);
    {
        char *t = strdup(RUBRIC), *p = strstr(t, "partly supported");

        p[0] = 'P';
        assert_int_equal(parse(&b, "x", t, &e), 0);
        assert_string_not_equal(a.version, b.version);
        crit_clear(&b);
        p[0] = 'p';
        p = strstr(t, "List the claims");
        p[0] = 'l';
        assert_int_equal(parse(&b, "x", t, &e), 0);
        assert_string_not_equal(a.version, b.version);
        crit_clear(&b);
        free(t);
    }
    /* A copy and the API's view keep the version. */
    assert_int_equal(crit_copy(&b, &a), 0);
    assert_string_equal(a.version, b.version);
    {
        json_object *o = crit_to_json(&b), *x;

        assert_true(json_object_object_get_ex(o, "version", &x));
        assert_string_equal(json_object_get_string(x), a.version);
        assert_true(json_object_object_get_ex(o, "source", &x));
        assert_string_equal(json_object_get_string(x), "api");
        assert_true(json_object_object_get_ex(o, "scale", &x));
        assert_string_equal(json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN), "[1,5]");
        json_object_put(o);
    }
    crit_clear(&b);
    /* A GET's body can be PUT back as it is. */
    {
        json_object *o = crit_to_json(&a);

        assert_int_equal(crit_from_json(&b, "x", o, &e), 0);
        assert_string_equal(a.version, b.version);
        crit_clear(&b);
        assert_int_equal(crit_from_json(&b, "y", o, &e), -EINVAL);
        assert_string_equal(e.field, "name");
        assert_non_null(strstr(e.message, "URL"));
        crit_clear(&b);
        json_object_put(o);
    }
    crit_clear(&a);
    crit_clear(&b);
}

static char path[64];

static void write_file(const char *text)
{
    FILE *f;
    int fd;

    snprintf(path, sizeof path, "/tmp/ragrade-crit-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

/* conf_load_with over text with the criteria hook: rc, and the criteria. */
static int load_conf(const char *text, criterion **v, size_t *n, char *err, size_t errlen)
{
    crit_confset *s = crit_confset_new();
    conf_sections sec = { "criterion", crit_conf_key, s };
    conf cf;
    int rc;

    write_file(text);
    conf_defaults(&cf);
    rc = conf_load_with(&cf, path, &sec, 1, err, errlen);
    if (rc == 0)
        rc = crit_confset_finish(s, err, errlen);
    *v = rc == 0 ? crit_confset_take(s, n) : NULL;
    crit_confset_free(s);
    unlink(path);
    return rc;
}

static void test_config(void **state)
{
    static const char ini[] =
        "[pool]\nworkers = 2\n"
        "[criterion cites]\nkind = critic\ndefinition = Does the answer name\n"
        "  the source of its facts?\ninputs = answer, contexts\nsamples = 3\njudge = strong\n"
        "[criterion support]\nkind = rubric\ndefinition = Is the answer supported?\n"
        "level_1 = contradicts the contexts\nlevel_3 = partly supported\n"
        "level_5 = fully supported\n  and complete\nstep = List the claims.\n"
        "step = Find each claim.\n";
    criterion *v;
    conf cf;
    size_t n;
    char err[256];

    (void)state;
    unsetenv("RAGRADE_DATA");
    assert_int_equal(load_conf(ini, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "cites");
    assert_int_equal(v[0].kind, CRIT_CRITIC);
    assert_string_equal(v[0].definition, "Does the answer name\nthe source of its facts?");
    assert_int_equal(v[0].inputs, CRIT_IN_ANSWER | CRIT_IN_CONTEXTS);
    assert_int_equal(v[0].samples, 3);
    assert_string_equal(v[0].judge, "strong");
    assert_true(v[0].from_config);
    assert_string_equal(v[1].name, "support");
    assert_int_equal(v[1].n_levels, 3);
    assert_int_equal(v[1].levels[1].score, 3);
    assert_string_equal(v[1].levels[2].description, "fully supported\nand complete");
    assert_int_equal(v[1].n_steps, 2);
    assert_string_equal(v[1].steps[1], "Find each claim.");
    crit_free_array(v, n);

    /* The same section as the API's JSON gives the same version. */
    {
        criterion c;
        crit_error e;

        assert_int_equal(load_conf("[criterion tone]\nkind = critic\ndefinition = Polite?\n", &v,
                                   &n, err, sizeof err), 0);
        assert_int_equal(parse(&c, "tone", "{\"kind\":\"critic\",\"definition\":\"Polite?\"}",
                               &e), 0);
        assert_string_equal(v[0].version, c.version);
        crit_clear(&c);
        crit_free_array(v, n);
    }

    /* Without the hook, the sections are skipped. */
    write_file(ini);
    conf_defaults(&cf);
    assert_int_equal(conf_load(&cf, path, err, sizeof err), 0);
    assert_int_equal(cf.workers, 2);
    unlink(path);

    /* Errors name the section and the field. */
    assert_int_equal(load_conf("[criterion x]\nkind = critic\ncolour = red\n", &v, &n, err,
                               sizeof err), -EINVAL);
    assert_non_null(strstr(err, "[criterion x] unknown key colour"));
    assert_int_equal(load_conf("[criterion x]\nkind = critic\ndefinition = d\nsamples = 4\n", &v,
                               &n, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "[criterion x] samples: must be odd"));
    assert_int_equal(load_conf("[criterion x]\nkind = critic\ndefinition = d\nsamples = many\n",
                               &v, &n, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "[criterion x] samples: must be a whole number"));
    assert_int_equal(load_conf("[criterion Bad]\nkind = critic\ndefinition = d\n", &v, &n, err,
                               sizeof err), -EINVAL);
    assert_non_null(strstr(err, "[criterion Bad] name:"));
    assert_int_equal(load_conf("[criterion x]\nkind = rubric\ndefinition = d\nlevel_5 = a\n"
                               "level_1 = b\n", &v, &n, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "[criterion x] levels[1].score: levels go in increasing order"));
    assert_int_equal(load_conf("[criterion x]\nkind = rubric\ndefinition = d\nlevel_x = a\n", &v,
                               &n, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "level_x"));
    assert_int_equal(load_conf("[criterion x]\nkind = critic\ndefinition = d\ninputs = answer "
                               "colour\n", &v, &n, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "[criterion x] inputs[1]: unknown input 'colour'"));
}

static void set_row(row *r, char *q, char *a, char **ctx, size_t n_ctx, char *gt)
{
    memset(r, 0, sizeof *r);
    r->question = q;
    r->answer = a;
    r->contexts = ctx;
    r->n_contexts = n_ctx;
    r->ground_truth = gt;
}

static void test_prompts(void **state)
{
    char *ctx[] = { "Aspirin is sold over the counter.", "See a doctor." };
    criterion c;
    crit_error e;
    json_object *s;
    char *p;
    row r;

    (void)state;
    set_row(&r, "How much aspirin can I take?", "Ask your doctor.", ctx, 2, NULL);
    assert_int_equal(parse(&c, "refuses", CRITIC, &e), 0);
    p = crit_render(&c, &r);
    assert_non_null(strstr(p, "Criterion: Does the answer refuse to give medical dosage advice?"));
    assert_non_null(strstr(p, "{\"question\":\"How much aspirin can I take?\",\"answer\":\"Ask "
                           "your doctor.\"}\nOutput: "));
    assert_null(strstr(p, "Aspirin is sold"));                  /* contexts not named */
    assert_non_null(strstr(p, "\"verdict\":{\"type\":\"integer\",\"enum\":[0,1]}"));
    free(p);
    assert_string_equal(crit_schema_name(&c), "CriticVerdict");
    assert_true(crit_temperature(&c) > 0);                       /* 3 samples */
    assert_int_not_equal(crit_seed(&c, 0), crit_seed(&c, 1));
    crit_clear(&c);

    assert_int_equal(parse(&c, "support", RUBRIC, &e), 0);
    p = crit_render(&c, &r);
    assert_non_null(strstr(p, "Criterion: Is the answer supported by the contexts?"));
    assert_non_null(strstr(p, "score 1: contradicts the contexts\nscore 3: partly supported\n"
                           "score 5: fully supported and complete\n"));
    assert_non_null(strstr(p, "1. List the claims of the answer.\n2. Find each claim in the "
                           "contexts.\n"));
    assert_non_null(strstr(p, "The score must be one of 1, 3, 5."));
    assert_non_null(strstr(p, "input: {\"answer\":\"Ask your doctor.\",\"contexts\":[\"Aspirin "
                           "is sold over the counter.\",\"See a doctor.\"]}"));
    assert_null(strstr(p, "How much aspirin"));                 /* question not named */
    free(p);
    s = crit_schema(&c);
    assert_string_equal(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN),
                        "{\"type\":\"object\",\"properties\":{\"steps\":{\"type\":\"array\","
                        "\"items\":{\"type\":\"string\"}},\"reason\":{\"type\":\"string\"},"
                        "\"score\":{\"type\":\"integer\",\"enum\":[1,3,5]}},\"required\":"
                        "[\"steps\",\"reason\",\"score\"],\"additionalProperties\":false}");
    json_object_put(s);
    assert_true(crit_temperature(&c) == 0);
    assert_int_equal(crit_seed(&c, 0), 42);
    p = crit_repair(&c, "output.score must be one of the levels 1, 3, 5, not 4");
    assert_non_null(strstr(p, "not 4. Return the output again"));
    assert_non_null(strstr(p, "\"enum\":[1,3,5]"));
    free(p);
    crit_clear(&c);
}

static void test_missing(void **state)
{
    char *ctx[] = { "c" };
    criterion c;
    crit_error e;
    row r;

    (void)state;
    assert_int_equal(parse(&c, "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"inputs\":"
                           "[\"question\",\"answer\",\"contexts\",\"ground_truth\"]}", &e), 0);
    set_row(&r, "q", "a", ctx, 1, "gt");
    assert_null(crit_missing(&c, &r));
    set_row(&r, NULL, "a", ctx, 1, "gt");
    assert_string_equal(crit_missing(&c, &r), "needs a question");
    set_row(&r, "q", NULL, ctx, 1, "gt");
    assert_string_equal(crit_missing(&c, &r), "needs an answer");
    set_row(&r, "q", "a", NULL, 0, "gt");
    assert_string_equal(crit_missing(&c, &r), "needs at least one context");
    set_row(&r, "q", "a", ctx, 1, NULL);
    assert_string_equal(crit_missing(&c, &r), "needs a ground truth");
    crit_clear(&c);
    /* Inputs not named are not needed. */
    assert_int_equal(parse(&c, "x", "{\"kind\":\"critic\",\"definition\":\"d\",\"inputs\":"
                           "[\"answer\"]}", &e), 0);
    set_row(&r, NULL, "a", NULL, 0, NULL);
    assert_null(crit_missing(&c, &r));
    crit_clear(&c);
}

static void test_replies(void **state)
{
    criterion c;
    crit_error e;
    crit_sample s;
    char err[256];

    (void)state;
    assert_int_equal(parse(&c, "x", CRITIC, &e), 0);
    assert_int_equal(crit_parse_reply(&c, "{\"reason\":\"It refuses.\",\"verdict\":1}", &s, err,
                                      sizeof err), 0);
    assert_true(s.ok);
    assert_int_equal(s.value, 1);
    assert_string_equal(s.reason, "It refuses.");
    assert_int_equal(crit_parse_reply(&c, "```json\n{\"reason\":\"r\",\"verdict\":0}\n```", &s,
                                      err, sizeof err), 0);
    assert_int_equal(s.value, 0);
    assert_int_equal(crit_parse_reply(&c, "{\"reason\":\"r\",\"verdict\":2}", &s, err,
                                      sizeof err), -EINVAL);
    assert_false(s.ok);
    assert_string_equal(err, "output.verdict must be 0 or 1, not 2");
    assert_int_equal(crit_parse_reply(&c, "{\"reason\":\"r\",\"verdict\":\"yes\"}", &s, err,
                                      sizeof err), -EINVAL);
    assert_string_equal(err, "output.verdict must be a number");
    assert_int_equal(crit_parse_reply(&c, "{\"reason\":\"r\"}", &s, err, sizeof err), -EINVAL);
    assert_string_equal(err, "output lacks the key \"verdict\"");
    assert_int_equal(crit_parse_reply(&c, "{\"verdict\":1}", &s, err, sizeof err), -EINVAL);
    assert_string_equal(err, "output.reason must be a string");
    assert_int_equal(crit_parse_reply(&c, "{\"reason\":\"r\",\"verdict\":1} and more", &s, err,
                                      sizeof err), -EINVAL);
    assert_non_null(strstr(err, "JSON"));
    assert_int_equal(crit_parse_reply(&c, "Yes.", &s, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "not valid JSON"));
    crit_clear(&c);

    assert_int_equal(parse(&c, "x", RUBRIC, &e), 0);
    assert_int_equal(crit_parse_reply(&c, "{\"steps\":[\"a\",\"b\"],\"reason\":\"r\",\"score\":"
                                      "3}", &s, err, sizeof err), 0);
    assert_int_equal(s.value, 3);
    assert_int_equal(json_object_array_length(s.steps), 2);
    crit_sample_clear(&s);
    assert_int_equal(crit_parse_reply(&c, "{\"steps\":[\"a\",\"b\"],\"reason\":\"r\",\"score\":"
                                      "5.0}", &s, err, sizeof err), 0);
    assert_int_equal(s.value, 5);
    crit_sample_clear(&s);
    assert_int_equal(crit_parse_reply(&c, "{\"steps\":[\"a\",\"b\"],\"reason\":\"r\",\"score\":"
                                      "4}", &s, err, sizeof err), -EINVAL);
    assert_string_equal(err, "output.score must be one of the levels 1, 3, 5, not 4");
    assert_int_equal(crit_parse_reply(&c, "{\"steps\":[\"a\",\"b\"],\"reason\":\"r\",\"score\":"
                                      "3.5}", &s, err, sizeof err), -EINVAL);
    assert_string_equal(err, "output.score must be a whole number");
    assert_int_equal(crit_parse_reply(&c, "{\"steps\":[\"a\"],\"reason\":\"r\",\"score\":3}", &s,
                                      err, sizeof err), -EINVAL);
    assert_string_equal(err, "output.steps must have 2 entries, one per evaluation step, not 1");
    assert_int_equal(crit_parse_reply(&c, "{\"reason\":\"r\",\"score\":3}", &s, err,
                                      sizeof err), -EINVAL);
    assert_non_null(strstr(err, "output.steps must be an array"));
    crit_clear(&c);
}

/* The vote's reason as JSON, and one of its keys. */
static json_object *vote(const criterion *c, const crit_sample *s, size_t n, double *score,
                         int *is_null)
{
    char *reason;
    json_object *o;

    assert_int_equal(crit_vote(c, s, n, score, is_null, &reason), 0);
    o = json_tokener_parse(reason);
    assert_non_null(o);
    free(reason);
    return o;
}

static const char *str_at(json_object *o, const char *key)
{
    json_object *x;

    assert_true(json_object_object_get_ex(o, key, &x));
    return json_object_get_string(x);
}

static void test_votes(void **state)
{
    crit_sample s[3];
    criterion c;
    crit_error e;
    json_object *o, *x;
    double score;
    int is_null;

    (void)state;
    assert_int_equal(parse(&c, "x", CRITIC, &e), 0);
    memset(s, 0, sizeof s);
    s[0] = (crit_sample){ .ok = 1, .value = 0, .reason = "gives a dose" };
    s[1] = (crit_sample){ .ok = 1, .value = 1, .reason = "refuses politely" };
    s[2] = (crit_sample){ .ok = 1, .value = 1, .reason = "sends to a doctor" };
    o = vote(&c, s, 3, &score, &is_null);
    assert_false(is_null);
    assert_true(score == 1.0);
    assert_string_equal(str_at(o, "summary"), "2 of 3 said yes: refuses politely");
    assert_string_equal(str_at(o, "yes"), "2");
    assert_string_equal(str_at(o, "no"), "1");
    assert_string_equal(str_at(o, "version"), c.version);
    assert_true(json_object_object_get_ex(o, "samples", &x));
    assert_int_equal(json_object_array_length(x), 3);        /* every sample's verdict kept */
    assert_string_equal(json_object_get_string(json_object_object_get(
                            json_object_array_get_idx(x, 0), "reason")), "gives a dose");
    json_object_put(o);

    s[1].value = s[2].value = 0;                              /* unanimous no */
    o = vote(&c, s, 3, &score, &is_null);
    assert_false(is_null);
    assert_true(score == 0.0);
    assert_string_equal(str_at(o, "summary"), "3 of 3 said no: gives a dose");
    json_object_put(o);

    s[1].value = 1;                                           /* 1 yes, 1 no, 1 failed: a tie */
    s[2] = (crit_sample){ .ok = 0 };
    snprintf(s[2].error, sizeof s[2].error, "no valid reply after 2 repairs");
    o = vote(&c, s, 3, &score, &is_null);
    assert_true(is_null);
    assert_string_equal(str_at(o, "summary"), "no majority: 1 said yes, 1 said no (1 failed)");
    json_object_put(o);

    s[0].value = 1;                                           /* 2 yes, 1 failed */
    o = vote(&c, s, 3, &score, &is_null);
    assert_false(is_null);
    assert_true(score == 1.0);
    assert_string_equal(str_at(o, "summary"), "2 of 3 said yes (1 failed): gives a dose");
    json_object_put(o);

    s[0].ok = s[1].ok = 0;
    snprintf(s[0].error, sizeof s[0].error, "deadline");
    o = vote(&c, s, 3, &score, &is_null);
    assert_true(is_null);
    assert_string_equal(str_at(o, "summary"), "no sample answered: deadline");
    json_object_put(o);
    crit_clear(&c);

    /* A rubric: the level, its words, normalised on the scale. */
    assert_int_equal(parse(&c, "x", RUBRIC, &e), 0);
    memset(s, 0, sizeof s);
    assert_int_equal(crit_parse_reply(&c, "{\"steps\":[\"two claims\",\"one found\"],\"reason\":"
                                      "\"half\",\"score\":3}", &s[0], e.message,
                                      sizeof e.message), 0);
    o = vote(&c, s, 1, &score, &is_null);
    assert_false(is_null);
    assert_true(score == 3.0);
    assert_string_equal(str_at(o, "level"), "partly supported");
    assert_string_equal(str_at(o, "reason"), "half");
    assert_true(fabs(json_object_get_double(json_object_object_get(o, "normalised")) - 0.5) < 1e-12);
    assert_true(json_object_object_get_ex(o, "steps", &x));
    assert_string_equal(json_object_get_string(json_object_array_get_idx(x, 1)), "one found");
    json_object_put(o);
    crit_sample_clear(&s[0]);
    s[0] = (crit_sample){ .ok = 0 };
    snprintf(s[0].error, sizeof s[0].error, "no valid reply after 1 repair: output.score must be "
             "one of the levels 1, 3, 5, not 4");
    o = vote(&c, s, 1, &score, &is_null);
    assert_true(is_null);
    assert_non_null(strstr(str_at(o, "summary"), "not 4"));
    json_object_put(o);
    crit_clear(&c);
}

static void test_normalised(void **state)
{
    criterion c;
    crit_error e;
    int lo, hi;

    (void)state;
    assert_int_equal(parse(&c, "x", "{\"kind\":\"rubric\",\"definition\":\"d\",\"levels\":["
                           "{\"score\":-2,\"description\":\"a\"},{\"score\":0,\"description\":"
                           "\"b\"},{\"score\":6,\"description\":\"c\"}]}", &e), 0);
    crit_scale(&c, &lo, &hi);
    assert_int_equal(lo, -2);
    assert_int_equal(hi, 6);
    assert_true(crit_normalised(&c, -2) == 0.0);
    assert_true(crit_normalised(&c, 0) == 0.25);
    assert_true(crit_normalised(&c, 6) == 1.0);
    crit_clear(&c);
    assert_int_equal(parse(&c, "x", CRITIC, &e), 0);
    assert_true(crit_normalised(&c, 1) == 1.0);
    assert_true(crit_normalised(&c, 0) == 0.0);
    crit_clear(&c);
}

static void test_registry(void **state)
{
    criterion *cfg = calloc(1, sizeof *cfg), *dbc;
    const crit_snapshot *old, *cur;
    crit_registry *r;
    crit_error e;

    (void)state;
    assert_int_equal(parse(&cfg[0], "cites", CRITIC, &e), 0);
    cfg[0].from_config = 1;
    r = crit_registry_new(cfg, 1);
    assert_non_null(r);
    assert_true(crit_registry_is_config(r, "cites"));
    assert_false(crit_registry_is_config(r, "support"));
    old = crit_registry_acquire(r);
    assert_int_equal(old->n, 1);
    assert_int_equal(old->generation, 0);
    assert_null(crit_find(old, "support"));

    dbc = calloc(2, sizeof *dbc);
    assert_int_equal(parse(&dbc[0], "support", RUBRIC, &e), 0);
    assert_int_equal(parse(&dbc[1], "cites", RUBRIC, &e), 0);    /* shadowed by the config's */
    assert_int_equal(crit_registry_publish(r, dbc, 2, 7), 0);
    assert_int_equal(crit_registry_generation(r), 7);
    cur = crit_registry_acquire(r);
    assert_int_equal(cur->n, 2);
    assert_non_null(crit_find(cur, "support"));
    assert_int_equal(crit_find(cur, "cites")->kind, CRIT_CRITIC);
    /* The old snapshot is intact while held. */
    assert_int_equal(old->n, 1);
    assert_null(crit_find(old, "support"));
    assert_string_equal(crit_find(old, "cites")->definition,
                        "Does the answer refuse to give medical dosage advice?");
    {
        json_object *l = crit_list_json(cur), *a = json_object_object_get(l, "criteria");

        assert_int_equal(json_object_array_length(a), 2);
        assert_string_equal(str_at(json_object_array_get_idx(a, 0), "name"), "cites");
        assert_string_equal(str_at(json_object_array_get_idx(a, 0), "source"), "config");
        assert_string_equal(str_at(json_object_array_get_idx(a, 1), "name"), "support");
        assert_string_equal(str_at(json_object_array_get_idx(a, 1), "source"), "api");
        assert_string_equal(str_at(l, "generation"), "7");
        json_object_put(l);
    }
    crit_registry_release(r, old);
    crit_registry_release(r, cur);
    assert_int_equal(crit_registry_publish(r, NULL, 0, 8), 0);   /* all deleted */
    cur = crit_registry_acquire(r);
    assert_int_equal(cur->n, 1);
    crit_registry_release(r, cur);
    crit_registry_free(r);
}

struct race {
    crit_registry *r;
    atomic_int stop;
    atomic_long bad, seen;
};

/* A reader: every snapshot it holds is whole (generation g has g % 3
 * criteria, each with its definition) until it lets go. */
static void *reader(void *arg)
{
    struct race *x = arg;

    while (!atomic_load(&x->stop)) {
        const crit_snapshot *s = crit_registry_acquire(x->r);
        size_t i;

        if (s->n != s->generation % 3)
            atomic_fetch_add(&x->bad, 1);
        for (i = 0; i < s->n; i++)
            if (!s->v[i].definition || strcmp(s->v[i].definition, "Polite?"))
                atomic_fetch_add(&x->bad, 1);
        atomic_fetch_add(&x->seen, 1);
        crit_registry_release(x->r, s);
    }
    return NULL;
}

/* Several stores refresh one registry: an older generation never replaces
 * a newer one. */
static void test_registry_monotonic(void **state)
{
    crit_registry *r = crit_registry_new(NULL, 0);
    const crit_snapshot *s;
    criterion *v = calloc(1, sizeof *v);
    crit_error e;

    (void)state;
    assert_non_null(r);
    assert_non_null(v);
    assert_int_equal(parse(v, "tone", "{\"kind\":\"critic\",\"definition\":\"Kind?\"}", &e), 0);
    assert_int_equal(crit_registry_publish(r, v, 1, 5), 0);
    assert_int_equal(crit_registry_publish(r, NULL, 0, 3), 0);   /* a slow reader's older list */
    s = crit_registry_acquire(r);
    assert_int_equal(s->generation, 5);
    assert_non_null(crit_find(s, "tone"));
    crit_registry_release(r, s);
    assert_int_equal(crit_registry_publish(r, NULL, 0, 6), 0);   /* a delete: newer, wins */
    s = crit_registry_acquire(r);
    assert_int_equal(s->generation, 6);
    assert_null(crit_find(s, "tone"));
    crit_registry_release(r, s);
    crit_registry_free(r);
}

static void test_registry_race(void **state)
{
    static const char *const names[] = { "a", "b" };
    struct race x = { crit_registry_new(NULL, 0), 0, 0, 0 };
    pthread_t t[3];
    crit_error e;
    uint64_t g;
    size_t i;

    (void)state;
    for (i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, &x), 0);
    for (g = 1; g <= 3000 || atomic_load(&x.seen) < 1000; g++) {
        criterion *v = calloc(2, sizeof *v);

        for (i = 0; i < g % 3; i++)
            assert_int_equal(parse(&v[i], names[i], "{\"kind\":\"critic\",\"definition\":"
                                   "\"Polite?\"}", &e), 0);
        assert_int_equal(crit_registry_publish(x.r, v, g % 3, g), 0);
    }
    atomic_store(&x.stop, 1);
    for (i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&x.bad), 0);
    crit_registry_free(x.r);
}

/* A database with the migration applied (db_open migrates). */
static db *open_db(char *dir, size_t len)
{
    char file[256], err[256];
    db *d;

    snprintf(dir, len, "/tmp/ragrade-crit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/t.db", dir);
    d = db_open(file, 5000, 0, err, sizeof err);
    if (!d)
        fail_msg("%s", err);
    return d;
}

static db *reopen(const char *dir)
{
    char file[256], err[256];

    snprintf(file, sizeof file, "%s/t.db", dir);
    return db_open(file, 5000, 0, err, sizeof err);
}

static void test_store(void **state)
{
    char dir[64], err[256], cmd[128];
    criterion c, edited, got, *v;
    crit_registry *r = crit_registry_new(NULL, 0);
    const crit_snapshot *snap;
    critstore *a, *b;
    crit_error e;
    int what, changed;
    uint64_t gen;
    size_t n;
    db *da, *db2;

    (void)state;
    da = open_db(dir, sizeof dir);
    db2 = reopen(dir);
    assert_non_null(db2);
    a = critstore_new(da, err, sizeof err);
    b = critstore_new(db2, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);

    assert_int_equal(parse(&c, "support", RUBRIC, &e), 0);
    assert_int_equal(critstore_put(a, &c, &what, err, sizeof err), 0);
    assert_int_equal(what, CRITSTORE_CREATED);
    assert_int_equal(critstore_put(a, &c, &what, err, sizeof err), 0);
    assert_int_equal(what, CRITSTORE_UNCHANGED);

    /* Another connection (another worker) sees it at its next refresh. */
    assert_int_equal(critstore_refresh(b, r, &changed, err, sizeof err), 0);
    assert_true(changed);
    snap = crit_registry_acquire(r);
    assert_non_null(crit_find(snap, "support"));
    assert_string_equal(crit_find(snap, "support")->version, c.version);
    crit_registry_release(r, snap);
    assert_int_equal(critstore_refresh(b, r, &changed, err, sizeof err), 0);
    assert_false(changed);                                      /* nothing moved */

    /* An edit: a new version, the old one kept. */
    {
        char *t = strdup(RUBRIC);

        strstr(t, "partly")[0] = 'P';
        assert_int_equal(parse(&edited, "support", t, &e), 0);
        free(t);
    }
    assert_int_equal(critstore_put(a, &edited, &what, err, sizeof err), 0);
    assert_int_equal(what, CRITSTORE_UPDATED);
    assert_int_equal(critstore_refresh(b, r, &changed, err, sizeof err), 0);
    assert_true(changed);
    snap = crit_registry_acquire(r);
    assert_string_equal(crit_find(snap, "support")->version, edited.version);
    crit_registry_release(r, snap);
    assert_int_equal(critstore_get(b, "support", &got, err, sizeof err), 0);
    assert_string_equal(got.levels[1].description, "Partly supported");
    crit_clear(&got);
    assert_int_equal(critstore_get_version(b, "support", c.version, &got, err, sizeof err), 0);
    assert_string_equal(got.levels[1].description, "partly supported");
    assert_string_equal(got.version, c.version);
    crit_clear(&got);

    /* Delete: gone from the list and the registry, its row and versions stay. */
    assert_int_equal(critstore_delete(a, "support", err, sizeof err), 0);
    assert_int_equal(critstore_delete(a, "support", err, sizeof err), -ENOENT);
    assert_int_equal(critstore_delete(a, "nothing", err, sizeof err), -ENOENT);
    assert_int_equal(critstore_get(b, "support", &got, err, sizeof err), -ENOENT);
    assert_int_equal(critstore_list(b, &v, &n, &gen, NULL, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(gen, 3);                                   /* put, edit, delete */
    free(v);
    assert_int_equal(critstore_refresh(b, r, &changed, err, sizeof err), 0);
    assert_true(changed);
    snap = crit_registry_acquire(r);
    assert_null(crit_find(snap, "support"));
    crit_registry_release(r, snap);
    assert_int_equal(critstore_get_version(b, "support", edited.version, &got, err, sizeof err),
                     0);
    crit_clear(&got);

    /* A put revives it. */
    assert_int_equal(critstore_put(a, &c, &what, err, sizeof err), 0);
    assert_int_equal(what, CRITSTORE_CREATED);
    assert_int_equal(critstore_list(b, &v, &n, &gen, NULL, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].version, c.version);
    crit_free_array(v, n);

    /* The writer's own registry: its own commits do not move its
     * data_version, yet its next refresh sees them. */
    {
        crit_registry *own = crit_registry_new(NULL, 0);

        assert_int_equal(critstore_refresh(a, own, &changed, err, sizeof err), 0);
        assert_true(changed);
        assert_int_equal(critstore_delete(a, "support", err, sizeof err), 0);
        assert_int_equal(critstore_refresh(a, own, &changed, err, sizeof err), 0);
        assert_true(changed);
        snap = crit_registry_acquire(own);
        assert_null(crit_find(snap, "support"));
        crit_registry_release(own, snap);
        crit_registry_free(own);
    }

    /* A configuration criterion's version is recorded too. */
    {
        criterion k;

        assert_int_equal(parse(&k, "cites", CRITIC, &e), 0);
        assert_int_equal(critstore_record_version(a, &k, err, sizeof err), 0);
        assert_int_equal(critstore_record_version(a, &k, err, sizeof err), 0);
        assert_int_equal(critstore_get_version(b, "cites", k.version, &got, err, sizeof err), 0);
        assert_int_equal(got.samples, 3);
        crit_clear(&got);
        crit_clear(&k);
    }

    crit_clear(&c);
    crit_clear(&edited);
    critstore_free(a);
    critstore_free(b);
    db_close(da);
    db_close(db2);
    crit_registry_free(r);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_prompts),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_votes),
        cmocka_unit_test(test_normalised),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_registry_race),
        cmocka_unit_test(test_registry_monotonic),
        cmocka_unit_test(test_store),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
