/* conf_test.c - unit tests of the configuration: defaults, the INI file,
 * environment overrides and the error messages (conf.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

static char path[64];

static void write_file(const char *text)
{
    FILE *f;
    int fd;

    snprintf(path, sizeof path, "/tmp/ragrade-conf-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

static void test_defaults(void **state)
{
    conf cf;
    char err[256];

    (void)state;
    unsetenv("RAGRADE_DATA");
    conf_defaults(&cf);
    assert_int_equal(conf_load(&cf, NULL, err, sizeof err), 0);
    assert_string_equal(cf.data_dir, "./var");
    assert_string_equal(cf.db_path, "./var/ragrade.db");
    assert_string_equal(cf.socket, "./var/ragrade.sock");
    assert_string_equal(cf.backend, "builtin");
    assert_true(cf.workers >= 1);
    assert_int_equal(cf.max_body, 1 << 20);
    assert_int_equal(cf.max_batch, 1000);
    assert_int_equal(cf.max_concurrency, 8);
    assert_int_equal(cf.max_attempts, 3);
}

static void test_file_and_env(void **state)
{
    conf cf;
    char err[256];

    (void)state;
    write_file("; comment\n[pool]\nworkers = 3\n[limits]\nmax_body = 2m\n[judge]\nbackend = ollama\n"
               "url = http://127.0.0.1:1/, http://127.0.0.1:2\nmodel = m\n"
               "embedding_url = http://127.0.0.1:3/\ncheck_models = no\ntemperature = none\n");
    setenv("RAGRADE_POOL_WORKERS", "5", 1);
    setenv("RAGRADE_DATA", "/tmp/x", 1);
    conf_defaults(&cf);
    assert_int_equal(conf_load(&cf, path, err, sizeof err), 0);
    assert_int_equal(cf.workers, 5);                       /* the environment wins */
    assert_int_equal(cf.max_body, 2 << 20);
    assert_string_equal(cf.backend, "ollama");
    assert_int_equal(cf.n_urls, 2);
    assert_string_equal(cf.urls[0], "http://127.0.0.1:1");  /* trailing slash dropped */
    assert_int_equal(cf.n_embedding_urls, 1);              /* a list of its own */
    assert_string_equal(cf.embedding_urls[0], "http://127.0.0.1:3");
    assert_int_equal(cf.check_models, 0);
    assert_string_equal(cf.temperature, "none");
    assert_int_equal(cf.max_tokens, 1024);
    assert_int_equal(cf.embedding_batch, 16);
    {
        char name[64], value[256];
        size_t i;
        int seen = 0;

        for (i = 0; conf_key(&cf, i, name, sizeof name, value, sizeof value) == 0; i++) {
            if (!strcmp(name, "judge.embedding_url"))
                seen += !strcmp(value, "http://127.0.0.1:3");
            if (!strcmp(name, "judge.url"))
                seen += !strcmp(value, "http://127.0.0.1:1 http://127.0.0.1:2");
        }
        assert_int_equal(seen, 2);
    }
    assert_string_equal(cf.db_path, "/tmp/x/ragrade.db");
    unsetenv("RAGRADE_POOL_WORKERS");
    unsetenv("RAGRADE_DATA");
    unlink(path);
}

static void expect_bad(const char *text, const char *words)
{
    conf cf;
    char err[256] = "";

    write_file(text);
    conf_defaults(&cf);
    assert_int_equal(conf_load(&cf, path, err, sizeof err), -EINVAL);
    if (!strstr(err, words))
        fail_msg("error '%s' lacks '%s'", err, words);
    unlink(path);
}

static void test_errors(void **state)
{
    conf cf;
    char err[256];

    (void)state;
    expect_bad("[pool]\nworkerz = 1\n", "unknown key pool.workerz");
    expect_bad("[pool]\nworkers = -1\n", "pool.workers");
    expect_bad("[pool]\nthreads = lots\n", "not 'lots'");
    expect_bad("[judge]\nbackend = gpt\n", "builtin, openai or ollama");
    expect_bad("[judge]\nbackend = openai\n", "needs at least one URL");
    expect_bad("[judge]\ncache = maybe\n", "yes or no");
    expect_bad("[server]\nlog_level = loud\n", "debug, info");
    setenv("RAGRADE_LIMITS_MAX_BATCH", "0", 1);
    conf_defaults(&cf);
    assert_int_equal(conf_load(&cf, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "RAGRADE_LIMITS_MAX_BATCH"));
    unsetenv("RAGRADE_LIMITS_MAX_BATCH");
    conf_defaults(&cf);
    assert_int_equal(conf_load(&cf, "/nonexistent/ragrade.conf", err, sizeof err), -ENOENT);
}

static void test_shipped_config(void **state)
{
    const char *src = getenv("RAGRADE_SRCDIR");
    char p[512], err[256];
    conf cf;

    (void)state;
    snprintf(p, sizeof p, "%s/conf/ragrade.conf", src ? src : ".");
    conf_defaults(&cf);
    assert_int_equal(conf_load(&cf, p, err, sizeof err), 0);   /* every documented key is known */
}

/* [judge NAME] profiles: the default [judge]'s keys with the section's on
 * top, every judge key through the key table; metric_judges checked. */
static void test_profiles(void **state)
{
    static const char *const bad[][2] = {
        { "[judge Strong]\nmodel = x\n", "profile's name" },
        { "[judge s]\nnot_a_key = 1\n", "[judge s]" },
        { "[judge s]\nmax_concurrency = 0\n", "max_concurrency" },
        { "[judge s]\nbackend = builtin\n", "LLM backend" },
        { "[judge s]\nmetric_judges = a:b\n", "default [judge] only" },
        { "[judge]\nmetric_judges = correctness:nope\n", "[judge nope]" },
        { "[judge]\nmetric_judges = correctness\n", "metric:profile" },
        { "[judge a]\nmodel=1\n[judge b]\nmodel=1\n[judge c]\nmodel=1\n[judge d]\nmodel=1\n"
          "[judge e]\nmodel=1\n[judge f]\nmodel=1\n[judge g]\nmodel=1\n[judge h]\nmodel=1\n"
          "[judge i]\nmodel=1\n", "at most 8" },
    };
    conf *cf = malloc(sizeof *cf), *p = malloc(sizeof *p);
    char err[256], buf[64];
    size_t i;

    (void)state;
    assert_non_null(cf);
    assert_non_null(p);
    write_file("[judge]\nbackend = openai\nurl = http://127.0.0.1:1/\nmodel = cheap\n"
               "max_concurrency = 6\nmetric_judges = correctness:strong, faithfulness:cheap\n"
               "[judge strong]\nurl = http://127.0.0.1:2/, http://127.0.0.1:3/\n"
               "model = big\nmax_concurrency = 2\nmax_tokens = 4000\n"
               "embedding_url = http://127.0.0.1:4/\n"
               "[judge cheap]\nbackend = ollama\nmodel = small\n");
    conf_defaults(cf);
    assert_int_equal(conf_load(cf, path, err, sizeof err), 0);
    unlink(path);
    assert_int_equal(cf->n_profiles, 2);
    assert_int_equal(conf_profile_index(cf, "strong"), 0);
    assert_int_equal(conf_profile_index(cf, "cheap"), 1);
    assert_int_equal(conf_profile_index(cf, "other"), -1);
    assert_int_equal(conf_profile(cf, 0, p, err, sizeof err), 0);
    assert_string_equal(p->backend, "openai");        /* the default's */
    assert_string_equal(p->model, "big");
    assert_int_equal(p->n_urls, 2);                   /* the default's list replaced */
    assert_string_equal(p->urls[1], "http://127.0.0.1:3");
    assert_int_equal(p->max_concurrency, 2);
    assert_int_equal(p->max_tokens, 4000);
    assert_int_equal(p->n_embedding_urls, 1);
    assert_int_equal(p->n_profiles, 0);
    assert_int_equal(conf_profile(cf, 1, p, err, sizeof err), 0);
    assert_string_equal(p->backend, "ollama");
    assert_string_equal(p->urls[0], "http://127.0.0.1:1");
    assert_int_equal(p->max_concurrency, 6);
    assert_string_equal(cf->model, "cheap");          /* the default is untouched */
    assert_string_equal(conf_metric_judge(cf, "correctness", buf, sizeof buf), "strong");
    assert_string_equal(conf_metric_judge(cf, "faithfulness", buf, sizeof buf), "cheap");
    assert_null(conf_metric_judge(cf, "answer_relevancy", buf, sizeof buf));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];

        snprintf(text, sizeof text, "[judge]\nbackend = openai\nurl = http://127.0.0.1:1/\n"
                 "model = m\n%s", bad[i][0]);
        write_file(text);
        conf_defaults(cf);
        err[0] = '\0';
        assert_int_equal(conf_load(cf, path, err, sizeof err), -EINVAL);
        unlink(path);
        if (!strstr(err, bad[i][1]))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i][1]);
    }
    free(cf);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_and_env),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_shipped_config),
        cmocka_unit_test(test_profiles),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
