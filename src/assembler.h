/* assembler.h - the trace assembler as the scheduler drives it: in the
 * pool's checkpointer process only (one assembler at a time, so passes
 * never race), one ingest_assemble pass a second and again at once while a
 * pass stopped at its cap. Each row is stored with its trace and span ids
 * in the pass's own transaction. */
#ifndef RAGRADE_ASSEMBLER_H
#define RAGRADE_ASSEMBLER_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "db.h"

typedef struct assembler assembler;

/* On d, the scheduler's connection (borrowed; its thread only). NULL with
 * err filled (bad [ingest] filters, no memory, no span tables). */
assembler *assembler_new(const conf *cf, db *d, char *err, size_t errlen);
void assembler_free(assembler *a);        /* NULL is a no-op */

/* Run a pass when one is due and this process holds the checkpointer's
 * role. Returns the rows made (0 if none or not due), or a negative errno
 * with err filled. *next_ms: when the next pass is due (now_ms when a pass
 * stopped at its cap). */
int assembler_tick(assembler *a, int64_t now_ms, int64_t *next_ms, char *err, size_t errlen);

#endif
