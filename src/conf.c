/* conf.c - defaults, the INI file and environment overrides. A table maps
 * every key to its field, so the file, the environment and the docs in
 * conf/ragrade.conf all name the same keys. */
#include "conf.h"
#include "log.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum kind { K_INT, K_SIZE, K_STR, K_BOOL, K_LEVEL, K_URLS, K_FRAC };

struct key {
    const char *section, *name;
    enum kind kind;
    size_t off, len;       /* offset in conf; len for strings */
    long min, max;         /* for numbers */
};

#define I(s, n, f, lo, hi) { s, n, K_INT, offsetof(conf, f), 0, lo, hi }
#define Z(s, n, f, lo, hi) { s, n, K_SIZE, offsetof(conf, f), 0, lo, hi }
#define S(s, n, f) { s, n, K_STR, offsetof(conf, f), sizeof(((conf *)0)->f), 0, 0 }
#define B(s, n, f) { s, n, K_BOOL, offsetof(conf, f), 0, 0, 1 }

static const struct key keys[] = {
    S("server", "data_dir", data_dir),
    S("server", "socket", socket),
    S("server", "database", db_path),
    { "server", "log_level", K_LEVEL, offsetof(conf, log_level), 0, 0, 3 },
    S("server", "cors_origins", cors_origins),
    I("server", "slow_request_ms", slow_request_ms, 1, 3600000),
    S("auth", "read_tokens", read_tokens),
    S("auth", "submit_tokens", submit_tokens),
    S("auth", "admin_tokens", admin_tokens),
    S("auth", "tokens_file", tokens_file),
    I("pool", "workers", workers, 0, 256),
    I("pool", "threads", threads, 1, 1024),
    I("pool", "active_threads", active_threads, 1, 1024),
    I("pool", "graceful_timeout_ms", graceful_timeout_ms, 0, 3600000),
    I("pool", "backlog", backlog, 1, 65535),
    Z("limits", "max_body", max_body, 1024, 256L << 20),
    I("limits", "max_batch", max_batch, 1, 100000),
    I("limits", "max_contexts", max_contexts, 1, 10000),
    Z("limits", "max_field", max_field, 16, 64L << 20),
    Z("limits", "max_dataset", max_dataset, 1, 4096),
    I("limits", "max_list", max_list, 1, 10000),
    I("db", "busy_timeout_ms", busy_timeout_ms, 0, 600000),
    I("db", "checkpoint_pages", checkpoint_pages, 0, 1000000),
    I("db", "commit_interval_us", commit_interval_us, 0, 100000),
    Z("db", "mmap_size", mmap_size, 0, 64L << 30),
    S("judge", "backend", backend),
    { "judge", "url", K_URLS, offsetof(conf, urls), 0, 0, 0 },
    S("judge", "model", model),
    S("judge", "embedding_model", embedding_model),
    S("judge", "api_key_file", api_key_file),
    S("judge", "metrics", default_metrics),
    I("judge", "max_concurrency", max_concurrency, 1, 4096),
    I("judge", "max_attempts", max_attempts, 1, 100),
    I("judge", "lease_ms", lease_ms, 200, 3600000),
    I("judge", "backoff_base_ms", backoff_base_ms, 1, 3600000),
    I("judge", "backoff_max_ms", backoff_max_ms, 1, 3600000),
    I("judge", "init_timeout_ms", init_timeout_ms, 10, 3600000),
    I("judge", "request_timeout_ms", request_timeout_ms, 10, 3600000),
    I("judge", "row_deadline_ms", row_deadline_ms, 10, 86400000),
    I("judge", "stall_ms", stall_ms, 100, 86400000),
    I("judge", "max_retries", max_retries, 0, 100),
    I("judge", "max_repairs", max_repairs, 0, 10),
    B("judge", "cache", cache),
    B("judge", "jaro_winkler", similarity_jaro_winkler),
    B("judge", "idle_priority", idle_priority),
    I("judge", "slow_eval_ms", slow_eval_ms, 0, 86400000),
    Z("limits", "max_otlp_body", max_otlp_body, 1024, 256L << 20),
    I("limits", "max_otlp_spans", max_otlp_spans, 1, 1000000),
    I("limits", "max_trace_spans", max_trace_spans, 1, 100000),
    B("ingest", "enabled", ingest_enabled),
    { "ingest", "sample_rate", K_FRAC, offsetof(conf, ingest_sample_rate), 0, 0, 1 },
    S("ingest", "dataset", ingest_dataset),
    S("ingest", "run", ingest_run),
    S("ingest", "metrics", ingest_metrics),
    S("ingest", "filters", ingest_filters),
    I("ingest", "assemble_ms", ingest_assemble_ms, 0, 86400000),
    I("ingest", "max_wait_ms", ingest_max_wait_ms, 1, 604800000),
    S("ingest", "trace_url", ingest_trace_url),
};

int conf_key(const conf *cf, size_t i, char *name, size_t namelen, char *value, size_t len)
{
    static const char *const levels[] = { "debug", "info", "warn", "error" };
    const struct key *k;
    const char *p;
    size_t o = 0;
    int u, rc = 0;

    if (i >= sizeof keys / sizeof keys[0]) {
        rc = -ENOENT;
        goto out;
    }
    k = &keys[i];
    p = (const char *)cf + k->off;
    snprintf(name, namelen, "%s.%s", k->section, k->name);
    switch (k->kind) {
    case K_STR:
        snprintf(value, len, "%s", p);
        break;
    case K_INT:
        snprintf(value, len, "%d", *(const int *)p);
        break;
    case K_SIZE:
        snprintf(value, len, "%zu", *(const size_t *)p);
        break;
    case K_BOOL:
        snprintf(value, len, "%s", *(const int *)p ? "yes" : "no");
        break;
    case K_LEVEL:
        u = *(const int *)p;
        snprintf(value, len, "%s", u >= 0 && u < 4 ? levels[u] : "?");
        break;
    case K_FRAC:
        snprintf(value, len, "%g", *(const double *)p);
        break;
    case K_URLS:
        value[0] = '\0';
        for (u = 0; u < cf->n_urls && o < len; u++)
            o += (size_t)snprintf(value + o, len - o, "%s%s", u ? " " : "", cf->urls[u]);
        break;
    }
out:
    return rc;
}

void conf_defaults(conf *cf)
{
    const char *d = getenv("RAGRADE_DATA");

    memset(cf, 0, sizeof *cf);
    snprintf(cf->data_dir, sizeof cf->data_dir, "%s", d && *d ? d : "./var");
    cf->log_level = LOG_INFO;
    cf->slow_request_ms = 1000;
    cf->workers = 0;
    cf->threads = 16;
    cf->active_threads = 4;
    cf->graceful_timeout_ms = 10000;
    cf->backlog = 1024;
    cf->max_body = 1 << 20;
    cf->max_batch = 1000;
    cf->max_contexts = 100;
    cf->max_field = 64 * 1024;
    cf->max_dataset = 128;
    cf->max_list = 500;
    cf->busy_timeout_ms = 5000;
    cf->checkpoint_pages = 256;
    cf->commit_interval_us = 2000;
    cf->mmap_size = 256 << 20;
    snprintf(cf->backend, sizeof cf->backend, "builtin");
    cf->max_concurrency = 8;
    cf->max_attempts = 3;
    cf->lease_ms = 30000;
    cf->backoff_base_ms = 500;
    cf->backoff_max_ms = 60000;
    cf->init_timeout_ms = 30000;
    cf->request_timeout_ms = 60000;
    cf->row_deadline_ms = 180000;
    cf->stall_ms = 120000;
    cf->max_retries = 5;
    cf->max_repairs = 2;
    cf->cache = 1;
    cf->idle_priority = 1;
    cf->slow_eval_ms = 10000;
    cf->max_otlp_body = 4 << 20;
    cf->max_otlp_spans = 8192;
    cf->max_trace_spans = 1000;
    cf->ingest_sample_rate = 1.0;
    snprintf(cf->ingest_dataset, sizeof cf->ingest_dataset, "resource:service.name");
    snprintf(cf->ingest_run, sizeof cf->ingest_run, "resource:service.version");
    cf->ingest_assemble_ms = 5000;
    cf->ingest_max_wait_ms = 600000;
}

static int set_urls(conf *cf, const char *value, char *err, size_t errlen)
{
    const char *p = value;
    int rc = 0;

    cf->n_urls = 0;
    while (*p) {
        size_t n;

        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        n = strcspn(p, " ,\t");
        if (n == 0)
            break;
        if (cf->n_urls == CONF_MAX_URLS || n >= CONF_PATH_MAX) {
            snprintf(err, errlen, "judge.url: at most %d URLs of under %d bytes", CONF_MAX_URLS,
                     CONF_PATH_MAX);
            rc = -EINVAL;
            goto out;
        }
        memcpy(cf->urls[cf->n_urls], p, n);
        cf->urls[cf->n_urls][n] = '\0';
        p += n;
        while (n > 1 && cf->urls[cf->n_urls][n - 1] == '/')   /* no trailing slash */
            cf->urls[cf->n_urls][--n] = '\0';
        cf->n_urls++;
    }
out:
    return rc;
}

static int parse_bool(const char *v)
{
    if (!strcasecmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on"))
        return 1;
    if (!strcasecmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off"))
        return 0;
    return -1;
}

int conf_set(conf *cf, const char *section, const char *key, const char *value,
             char *err, size_t errlen)
{
    const struct key *k = NULL;
    char *base = (char *)cf, *end;
    long long v;
    size_t i;
    int rc = 0;

    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcasecmp(keys[i].section, section) && !strcasecmp(keys[i].name, key))
            k = &keys[i];
    if (!k) {
        snprintf(err, errlen, "unknown key %s.%s", section, key);
        rc = -EINVAL;
        goto out;
    }
    switch (k->kind) {
    case K_STR:
        if (strlen(value) >= k->len) {
            snprintf(err, errlen, "%s.%s: longer than %zu bytes", section, key, k->len - 1);
            rc = -EINVAL;
            goto out;
        }
        memcpy(base + k->off, value, strlen(value) + 1);
        break;
    case K_URLS:
        rc = set_urls(cf, value, err, errlen);
        break;
    case K_LEVEL:
        if ((*(int *)(base + k->off) = log_parse_level(value)) < 0) {
            snprintf(err, errlen, "%s.%s: want debug, info, warn or error", section, key);
            rc = -EINVAL;
        }
        break;
    case K_BOOL:
        if ((*(int *)(base + k->off) = parse_bool(value)) < 0) {
            snprintf(err, errlen, "%s.%s: want yes or no, not '%s'", section, key, value);
            rc = -EINVAL;
        }
        break;
    case K_FRAC: {
        double d;

        errno = 0;
        d = strtod(value, &end);
        if (errno || end == value || *end || !(d >= (double)k->min && d <= (double)k->max)) {
            snprintf(err, errlen, "%s.%s: want a number from %ld to %ld, not '%s'", section, key,
                     k->min, k->max, value);
            rc = -EINVAL;
            goto out;
        }
        *(double *)(base + k->off) = d;
        break;
    }
    case K_INT:
    case K_SIZE:
        errno = 0;
        v = strtoll(value, &end, 10);
        if (end != value && k->kind == K_SIZE && (*end == 'k' || *end == 'K' || *end == 'm' || *end == 'M')) {
            long long mul = (*end == 'k' || *end == 'K') ? 1024 : 1024 * 1024;

            if (v > LLONG_MAX / mul || v < LLONG_MIN / mul)
                errno = ERANGE;           /* refused below, never wrapped */
            else
                v *= mul;
            end++;
        }
        if (errno || end == value || *end || v < k->min || v > k->max) {
            snprintf(err, errlen, "%s.%s: want a whole number from %ld to %ld, not '%s'",
                     section, key, k->min, k->max, value);
            rc = -EINVAL;
            goto out;
        }
        if (k->kind == K_INT)
            *(int *)(base + k->off) = (int)v;
        else
            *(size_t *)(base + k->off) = (size_t)v;
        break;
    }
out:
    return rc;
}

struct ini_ctx {
    conf *cf;
    char *err;
    size_t errlen;
    int rc;
    const conf_sections *secs;
    size_t n_secs;
};

/* A "[PREFIX NAME]" section: 1 if handled (by a hook, or skipped), 0 if it
 * is no named section and goes to the key table. */
static int named_section(struct ini_ctx *c, const char *section, const char *name,
                         const char *value)
{
    const char *sp = strchr(section, ' ');
    size_t i, n;
    char msg[256];

    if (!sp)
        return 0;
    n = (size_t)(sp - section);
    for (i = 0; i < c->n_secs; i++)
        if (strlen(c->secs[i].prefix) == n && !strncmp(c->secs[i].prefix, section, n))
            break;
    if (i == c->n_secs)
        return n == 9 && !strncmp(section, "criterion", 9);
    if (c->rc == 0 && c->secs[i].fn(c->secs[i].arg, sp + 1, name, value, msg, sizeof msg) < 0) {
        snprintf(c->err, c->errlen, "%s", msg);
        c->rc = -EINVAL;
    }
    return 1;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *c = user;
    char msg[256];

    if (named_section(c, section, name, value))
        return 1;
    if (c->rc == 0 && conf_set(c->cf, section, name, value, msg, sizeof msg) < 0) {
        snprintf(c->err, c->errlen, "%s", msg);
        c->rc = -EINVAL;
    }
    return 1;
}

static void apply_env(conf *cf, char *err, size_t errlen, int *rc)
{
    char name[128], msg[256];
    size_t i, j;

    for (i = 0; i < sizeof keys / sizeof keys[0] && *rc == 0; i++) {
        const char *v;

        snprintf(name, sizeof name, "RAGRADE_%s_%s", keys[i].section, keys[i].name);
        for (j = 0; name[j]; j++)
            if (name[j] >= 'a' && name[j] <= 'z')
                name[j] = (char)(name[j] - 'a' + 'A');
        v = getenv(name);
        if (v && conf_set(cf, keys[i].section, keys[i].name, v, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "%s: %s", name, msg);
            *rc = -EINVAL;
        }
    }
}

/* dir/file into dst of len bytes; -ENAMETOOLONG if it does not fit. */
static int join(char *dst, size_t len, const char *dir, const char *file)
{
    size_t a = strlen(dir), b = strlen(file);

    if (a + 1 + b >= len)
        return -ENAMETOOLONG;
    memcpy(dst, dir, a);
    dst[a] = '/';
    memcpy(dst + a + 1, file, b + 1);
    return 0;
}

static int load(conf *cf, const char *path, const conf_sections *secs, size_t n_secs,
                char *err, size_t errlen)
{
    struct ini_ctx c = { cf, err, errlen, 0, secs, n_secs };
    const char *d;
    long n;
    int rc = 0, line;

    if (path) {
        line = ini_parse(path, on_ini, &c);
        if (line < 0) {
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            rc = -ENOENT;
            goto out;
        }
        if (c.rc < 0) {
            rc = c.rc;
            goto out;
        }
        if (line > 0) {
            snprintf(err, errlen, "%s:%d: not a key = value line", path, line);
            rc = -EINVAL;
            goto out;
        }
    }
    d = getenv("RAGRADE_DATA");   /* the environment wins over the file */
    if (d && *d)
        snprintf(cf->data_dir, sizeof cf->data_dir, "%s", d);
    apply_env(cf, err, errlen, &rc);
    if (rc < 0)
        goto out;
    if (!cf->socket[0])
        rc = join(cf->socket, sizeof cf->socket, cf->data_dir, "ragrade.sock");
    if (!cf->db_path[0] && rc == 0)
        rc = join(cf->db_path, sizeof cf->db_path, cf->data_dir, "ragrade.db");
    if (rc < 0) {
        snprintf(err, errlen, "data directory path too long");
        goto out;
    }
    if (cf->workers == 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        cf->workers = n > 0 ? (int)n : 1;
    }
    if (strcmp(cf->backend, "builtin") && strcmp(cf->backend, "openai") && strcmp(cf->backend, "ollama")) {
        snprintf(err, errlen, "judge.backend: want builtin, openai or ollama, not '%s'", cf->backend);
        rc = -EINVAL;
        goto out;
    }
    if (strcmp(cf->backend, "builtin") && cf->n_urls == 0) {
        snprintf(err, errlen, "judge.url: the %s backend needs at least one URL", cf->backend);
        rc = -EINVAL;
        goto out;
    }
    if (cf->backoff_max_ms < cf->backoff_base_ms)
        cf->backoff_max_ms = cf->backoff_base_ms;
out:
    return rc;
}

int conf_load(conf *cf, const char *path, char *err, size_t errlen)
{
    return load(cf, path, NULL, 0, err, errlen);
}

int conf_load_with(conf *cf, const char *path, const conf_sections *secs, size_t n_secs,
                   char *err, size_t errlen)
{
    return load(cf, path, secs, n_secs, err, errlen);
}
