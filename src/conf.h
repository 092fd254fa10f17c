/* conf.h - ragrade's configuration: defaults, the INI file (libinih) and
 * RAGRADE_<SECTION>_<KEY> environment overrides, in that order. */
#ifndef RAGRADE_CONF_H
#define RAGRADE_CONF_H

#include <stddef.h>

#define CONF_PATH_MAX 512
#define CONF_MAX_URLS 8
#define CONF_TOKENS_MAX 2048

typedef struct conf {
    /* [server] */
    char data_dir[CONF_PATH_MAX];     /* RAGRADE_DATA; default ./var */
    char socket[CONF_PATH_MAX];       /* FastCGI unix socket; default DATA/ragrade.sock */
    char db_path[CONF_PATH_MAX];      /* default DATA/ragrade.db */
    int log_level;
    char cors_origins[1024];          /* origins allowed cross-origin, space separated; empty: none */
    int slow_request_ms;              /* log and count requests slower than this */
    /* [auth] tokens as "sha256:<hex>", comma or space separated (see auth.h) */
    char read_tokens[CONF_TOKENS_MAX];
    char submit_tokens[CONF_TOKENS_MAX];
    char admin_tokens[CONF_TOKENS_MAX];
    char tokens_file[CONF_PATH_MAX];  /* lines "role sha256:<hex> [label]" */
    /* [pool] */
    int workers;                      /* 0: number of cores */
    int threads;                      /* request threads per worker */
    int active_threads;               /* of which may serve submits at once */
    int graceful_timeout_ms;          /* SIGTERM: time to finish requests in hand */
    int backlog;
    /* [limits] */
    size_t max_body;                  /* bytes */
    int max_batch;                    /* rows per POST */
    int max_contexts;                 /* per row, for contexts and reference_contexts */
    size_t max_field;                 /* bytes per question, answer, ground truth, context */
    size_t max_dataset;               /* bytes of the dataset label */
    int max_list;                     /* rows per GET /api/eval page */
    size_t max_otlp_body;             /* bytes of a POST /v1/traces, also once gunzip'd */
    int max_otlp_spans;               /* spans kept per export request */
    int max_trace_spans;              /* spans kept per trace for assembly */
    /* [db] */
    int busy_timeout_ms;
    int checkpoint_pages;             /* the scheduler checkpoints the WAL past this; 0: never */
    int commit_interval_us;           /* least time between a worker's commits under load */
    size_t mmap_size;                 /* bytes of the database each connection maps; 0: pread only */
    /* [judge] */
    char backend[16];                 /* builtin | openai | ollama */
    char urls[CONF_MAX_URLS][CONF_PATH_MAX];
    int n_urls;
    char model[128];
    char embedding_model[128];
    char api_key_file[CONF_PATH_MAX];
    char default_metrics[512];        /* comma separated; empty: the judge's defaults */
    int max_concurrency;              /* evaluations in flight across the pool */
    int max_attempts;
    int lease_ms;
    int backoff_base_ms;
    int backoff_max_ms;
    int init_timeout_ms;
    int request_timeout_ms;           /* one HTTP call to the judge */
    int row_deadline_ms;              /* all calls for one row */
    int stall_ms;                     /* /api/health: no row finished this long = stalled */
    int max_retries;                  /* per judge call */
    int max_repairs;                  /* re-asks after a reply that does not fit */
    int cache;                        /* 1: cache judge replies in SQLite */
    int similarity_jaro_winkler;      /* non_llm_string_similarity uses Jaro-Winkler */
    int idle_priority;                /* 1: evaluate at SCHED_IDLE (sched.c) */
    int slow_eval_ms;                 /* log a line for evaluations slower than this */
    /* [ingest] OTLP traces into rows (trace.h) */
    int ingest_enabled;
    double ingest_sample_rate;        /* 0..1, decided from the trace id */
    char ingest_dataset[256];         /* a label, or resource:KEY / span:KEY */
    char ingest_run[256];             /* the same forms; empty: none */
    char ingest_metrics[512];         /* comma separated; empty: the judge's defaults */
    char ingest_filters[1024];        /* ';' separated scope:KEY=VALUE or scope:KEY~REGEX */
    int ingest_assemble_ms;           /* quiet time after the root ended */
    int ingest_max_wait_ms;           /* a trace not assembled by then is dropped */
    char ingest_trace_url[512];       /* link of a row's trace: {trace_id}, {span_id}; empty: none */
} conf;

/* Fill cf with defaults; data_dir from RAGRADE_DATA when set. */
void conf_defaults(conf *cf);

/* Read an INI file (path may be NULL: no file), then apply environment
 * overrides and derive the paths left empty. 0 or a negative code with a
 * message in err. */
int conf_load(conf *cf, const char *path, char *err, size_t errlen);

/* Sections with a name, "[PREFIX NAME]" (e.g. [criterion tone]), that the
 * key table does not hold: each key goes to fn with NAME; fn returns 0 or
 * a negative code with a message in err. conf_load skips [criterion NAME]
 * sections (their owner reads them with this hook). */
typedef int (*conf_section_fn)(void *arg, const char *name, const char *key, const char *value,
                               char *err, size_t errlen);
typedef struct conf_sections {
    const char *prefix;           /* "criterion" */
    conf_section_fn fn;
    void *arg;
} conf_sections;

/* conf_load, with n hooks for named sections. */
int conf_load_with(conf *cf, const char *path, const conf_sections *secs, size_t n,
                   char *err, size_t errlen);

/* Set one key as the file would; 0, or -EINVAL for an unknown key or a bad
 * value (message in err). */
int conf_set(conf *cf, const char *section, const char *key, const char *value,
             char *err, size_t errlen);

/* The i-th key as "section.key" and its value as the file would spell it.
 * 0, or -ENOENT past the last key. For listing (ragrade admin config). */
int conf_key(const conf *cf, size_t i, char *name, size_t namelen, char *value, size_t len);

#endif
