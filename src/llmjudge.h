/* llmjudge.h - the LLM judges (OpenAI-compatible and Ollama): ragas's and
 * LlamaIndex's LLM metrics as asynchronous state machines over llm.c. The
 * public face is judge.h; judge.c forwards to these functions when
 * judge.backend is openai or ollama. Same contracts as the judge_* twins. */
#ifndef RAGRADE_LLMJUDGE_H
#define RAGRADE_LLMJUDGE_H

#include "criteria.h"
#include "judge.h"

typedef struct llmjudge llmjudge;

/* cache: the reply cache's connection (borrowed), or NULL for none. */
llmjudge *llmjudge_new(const conf *cf, struct db *cache, char *err, size_t errlen);
void llmjudge_free(llmjudge *lj);                 /* NULL is a no-op */
const char *llmjudge_name(const llmjudge *lj);     /* "openai/MODEL" */
int llmjudge_metric_known(const char *name);       /* the LLM metrics only */
const char *llmjudge_metric_name(int k);          /* the k-th LLM metric; NULL past the last */
const char *const *llmjudge_default_metrics(void);
/* The criteria rows may name (borrowed, outlives lj); NULL: none. */
void llmjudge_set_criteria(llmjudge *lj, crit_registry *reg);
int llmjudge_start_init(llmjudge *lj);
int llmjudge_state(const llmjudge *lj, char *err, size_t errlen);
int llmjudge_submit(llmjudge *lj, const row *r, judge_done_fn done, void *arg);
int llmjudge_inflight(const llmjudge *lj);
int llmjudge_run(llmjudge *lj, int timeout_ms);
void llmjudge_wakeup(llmjudge *lj);
void llmjudge_cancel_all(llmjudge *lj);

#endif
