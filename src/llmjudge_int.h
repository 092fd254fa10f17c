/* llmjudge_int.h - private to llmjudge.c and llmjudge_init.c: the judge's
 * struct and the helpers they share. */
#ifndef RAGRADE_LLMJUDGE_INT_H
#define RAGRADE_LLMJUDGE_INT_H

#include "llmjudge.h"
#include "db.h"
#include "llm.h"
#include "llmwire.h"
#include "metrics.h"
#include "ragas.h"

#include <stdint.h>

/* judge.temperature and judge.seed: ragrade's own values, left out of the
 * body, or fixed. */
enum { SAMPLE_OWN = 0, SAMPLE_NONE, SAMPLE_FIXED };

struct llmjudge {
    conf cf;
    enum llmwire_api api;
    char name[160];
    llm *http;
    llm *emb_http;                /* the embedding endpoint: http itself, or a client of its own */
    int temp_mode, seed_mode;     /* SAMPLE_* */
    double temp_fixed;
    int seed_fixed;
    db *cache_db;                 /* the reply cache's connection (borrowed); NULL: no cache */
    db *keep_db;                  /* the same connection whatever judge.cache says: a requeued
                                   * row's scores (llmkeep.h) */
    metrics_ctx *mx;
    int state;
    char error[512];
    int64_t init_deadline;
    llm *init_http;               /* the client of init_req */
    llm_req *init_req;
    struct eval *evals;
    int n_evals;
    crit_registry *reg;           /* the criteria (borrowed); NULL: none */
    /* Judge profiles ([judge NAME]): the default judge owns one llmjudge
     * per profile (prof, n_prof), whose clients are siblings of its own
     * so that its loop drives them; a profile has pname, root (the owner)
     * and no profiles. A profile's rows are the owner's (evals); only its
     * calls go through it. settled: its first init ended (ready or
     * failed); retry_at: when a failed one is probed again. */
    llmjudge *prof[CONF_MAX_PROFILES];
    int n_prof;
    char pname[CONF_PROFILE_NAME];
    llmjudge *root;
    int settled;
    int64_t retry_at;
    int idx;                      /* a profile's index in root->prof */
    int calls;                    /* a profile's calls in flight in this process */
    int init_held;                /* a profile's init holds room for one call (gate_take) */
    int init_wanted;              /* a profile's init waits for room */
    llmjudge_gate_fn gate;        /* root: the pool-wide bound per profile; NULL: calls only */
    void *gate_arg;
};

int lj_gate_take(llmjudge *p);
void lj_gate_put(llmjudge *p);
llm_opts lj_opts(const llmjudge *lj, int timeout_ms, int64_t deadline);
void lj_settings(const llmjudge *lj, llmwire_chat_req *r, double temperature, int seed,
                 int max_tokens);
const char *lj_embedding_model(const llmjudge *lj);
int lj_start_one(llmjudge *lj);

#endif
