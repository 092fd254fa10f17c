/* llmkeep.h - the scores of a row the LLM judge puts back in the queue
 * (endpoint-wide trouble), kept in the reply cache's table (cache.h) under
 * the row's id, inputs and judge, whatever judge.cache says, so that its
 * retry, on any worker, does not ask again for the metrics it scored.
 * Internal to llmjudge.c. */
#ifndef RAGRADE_LLMKEEP_H
#define RAGRADE_LLMKEEP_H

#include "db.h"
#include "ragas.h"

/* Keep the LLM metrics of ev that are done (scored, or null for good);
 * who: the judge's name. Failures are only logged at debug: the retry
 * then asks again. */
void llmkeep_save(db *d, const char *who, struct eval *ev);

/* Mark done, with their kept score and reason, the metrics of a newly
 * submitted ev that a former attempt of the same row kept. */
void llmkeep_restore(db *d, const char *who, struct eval *ev);

#endif
