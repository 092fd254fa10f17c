/* criteria.h - user-defined LLM metrics ("criteria", issue 15): a critic
 * (a yes/no verdict on a written definition, majority of N samples) or a
 * rubric (a score on a scale of described levels, optionally after G-Eval
 * style evaluation steps). One shape everywhere: the API's JSON and the keys
 * of a [criterion NAME] section of the configuration:
 *
 *   {"kind": "critic" | "rubric", "definition": "...",
 *    "inputs": ["question", "answer", "contexts", "ground_truth"],
 *    "samples": 3,                                   critics only, odd 1-9
 *    "levels": [{"score": 1, "description": "..."}], rubrics only, 2-10
 *    "steps": ["...", ...],                          rubrics only, 0-20
 *    "judge": "PROFILE"}                             optional
 *
 * This module holds the definition (parse, validate, canonical JSON,
 * version), the registry every worker reads, and the judge side as pure
 * functions (prompt, reply validation, vote). No I/O: critstore.c owns the
 * SQL; the judge and the API call these.
 *
 * Versions. A criterion's version is the first 16 hex digits of the
 * SHA-256 of its canonical JSON (fixed key order, defaults written out,
 * text trimmed, name excluded). Same content, same version, whatever the
 * spelling of the request; any edit of kind, definition, inputs, samples,
 * levels, steps or judge gives a new version. The judge stores the version
 * beside every score it produces (evaluation_scores.version).
 *
 * Seeing a change at once (design). Each worker process owns one
 * crit_registry, made at start from the configuration's criteria. The
 * database's criteria live in the table `criteria`, whose column
 * `generation` takes max(generation) + 1 on every put or delete (deleted
 * rows stay, flagged), so `SELECT max(generation) FROM criteria` is a
 * change counter of the whole table. critstore_refresh() first reads
 * `PRAGMA data_version` (no I/O beyond the WAL index; it changes when
 * another connection commits anything), and only when that moved does it
 * read max(generation) through its index; only when that differs from the
 * registry's does it re-read the table and publish a new snapshot. The
 * scheduler calls it before each claim and the API handlers before they
 * resolve a metric name, so a PUT in one worker is seen by every other at
 * its next request or claim, with no restart and no signal. A PUT in this
 * worker publishes at once (critstore_put refreshes its own registry).
 *
 * Snapshots. Readers never see a half-replaced set: the registry holds an
 * immutable, reference-counted snapshot; crit_registry_acquire() returns it
 * with a reference (a mutex held for the swap only), and an evaluation
 * keeps its snapshot for the whole row, so a criterion deleted or edited
 * while a row runs finishes that row with the definition it started with
 * (and that version). A row that names a criterion that no longer exists
 * when it is claimed gets null with the reason. */
#ifndef RAGRADE_CRITERIA_H
#define RAGRADE_CRITERIA_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "row.h"

#define CRIT_NAME_MAX 64          /* bytes of a name, NUL included */
#define CRIT_DEF_MAX 8192         /* bytes of the canonical JSON, and of the definition text */
#define CRIT_BODY_MAX 65536       /* bytes of a request body (whitespace allowed) */
#define CRIT_LEVELS_MAX 10
#define CRIT_STEPS_MAX 20
#define CRIT_SAMPLES_MAX 9
#define CRIT_JUDGE_MAX 64         /* bytes of a judge profile name, NUL included */
#define CRIT_VERSION_LEN 16       /* hex digits */
#define CRIT_TEMPERATURE 0.3      /* of each sample when samples > 1 (ragas: 0.3 for n > 1) */

enum crit_kind { CRIT_CRITIC = 0, CRIT_RUBRIC = 1 };

/* Inputs as bits, in canonical order. */
enum {
    CRIT_IN_QUESTION = 1, CRIT_IN_ANSWER = 2, CRIT_IN_CONTEXTS = 4, CRIT_IN_GROUND_TRUTH = 8,
};
#define CRIT_IN_DEFAULT (CRIT_IN_QUESTION | CRIT_IN_ANSWER)

typedef struct crit_level {
    int score;
    char *description;            /* owned */
} crit_level;

/* One criterion. Every pointer is owned by the struct (crit_clear). */
typedef struct criterion {
    char name[CRIT_NAME_MAX];
    enum crit_kind kind;
    char *definition;
    unsigned inputs;              /* CRIT_IN_* bits, never 0 */
    int samples;                  /* critics: odd, 1-9; rubrics: 1 */
    crit_level levels[CRIT_LEVELS_MAX];
    size_t n_levels;              /* rubrics: 2-10, scores strictly increasing */
    char *steps[CRIT_STEPS_MAX];
    size_t n_steps;
    char judge[CRIT_JUDGE_MAX];   /* "" : the default judge */
    char version[CRIT_VERSION_LEN + 1];
    int from_config;              /* 1: a [criterion NAME] section (read-only to the API) */
} criterion;

/* A bad definition: the field (for the API's 400) and why, in words. */
typedef struct crit_error {
    char field[64];               /* "kind", "levels[2].score", "name", ... */
    char message[256];
} crit_error;

/* ---- definition ---- */

/* 0 if name is lower case letters, digits and _ (starting with a letter,
 * under CRIT_NAME_MAX bytes) and no built-in metric's name; -EINVAL with
 * e filled (field "name"). */
int crit_check_name(const char *name, crit_error *e);

/* Parse and validate obj as the definition of criterion name. c is reset
 * first and must be crit_clear'ed in both cases. 0, or -EINVAL with e
 * filled; -ENOMEM. On success c->version is set. */
int crit_from_json(criterion *c, const char *name, json_object *obj, crit_error *e);

/* The same from a request body of len bytes (at most CRIT_BODY_MAX). */
int crit_parse_body(criterion *c, const char *name, const char *body, size_t len,
                    crit_error *e);

/* The canonical JSON (see above), malloc'd; NULL on out of memory. */
char *crit_canonical(const criterion *c);

/* The API's view: the canonical fields plus "name", "version" and
 * "source" ("config" or "api"). A new object; NULL on out of memory. */
json_object *crit_to_json(const criterion *c);

/* Deep copy; 0 or -ENOMEM (dst cleared). */
int crit_copy(criterion *dst, const criterion *src);
void crit_clear(criterion *c);

/* Lowest and highest level of a rubric (0 and 1 for a critic). */
void crit_scale(const criterion *c, int *lo, int *hi);
/* A stored score normalised to [0, 1] on c's scale: (score - lo) / (hi - lo). */
double crit_normalised(const criterion *c, double score);

/* ---- [criterion NAME] sections of the configuration ----
 * Keys: kind, definition (continued on indented lines), inputs (comma or
 * space separated), samples, judge, level_<score> = description (in
 * increasing order), step = text (one line per step, in order). Used as
 * conf_load_with's hook for the prefix "criterion". */
typedef struct crit_confset crit_confset;
crit_confset *crit_confset_new(void);
void crit_confset_free(crit_confset *s);            /* NULL is a no-op */
/* The conf_section_fn: one key of section [criterion name]. */
int crit_conf_key(void *set, const char *name, const char *key, const char *value,
                  char *err, size_t errlen);
/* Validate every section read; 0 or -EINVAL with "[criterion NAME] field:
 * message" in err. Then crit_confset_take moves them out. */
int crit_confset_finish(crit_confset *s, char *err, size_t errlen);
/* The criteria read (from_config set), malloc'd array owned by the caller
 * (crit_free_array); *n may be 0 and then NULL is returned. */
criterion *crit_confset_take(crit_confset *s, size_t *n);
void crit_free_array(criterion *v, size_t n);
/* The [criterion NAME] sections of the file at path (NULL: none), read,
 * validated and moved into *v (crit_free_array; NULL when *n is 0). 0, or a
 * negative code with "[criterion NAME] field: message" in err. */
int crit_load_config(const char *path, criterion **v, size_t *n, char *err, size_t errlen);

/* ---- registry: the criteria every handler and evaluation sees ---- */

typedef struct crit_registry crit_registry;
/* An immutable set: config criteria first, then the database's (not
 * deleted). Owned by the registry; hold it between acquire and release. */
typedef struct crit_snapshot {
    const criterion *v;
    size_t n;
    uint64_t generation;          /* the database's max(generation) it reflects */
} crit_snapshot;

/* cfg: n criteria from the configuration, moved into the registry (the
 * array is freed by it). NULL on out of memory (cfg freed too). */
crit_registry *crit_registry_new(criterion *cfg, size_t n);
void crit_registry_free(crit_registry *r);         /* NULL is a no-op; no snapshot may be held */
/* The current snapshot with a reference; never NULL. Any thread. */
const crit_snapshot *crit_registry_acquire(crit_registry *r);
void crit_registry_release(crit_registry *r, const crit_snapshot *s);
/* Replace the database's criteria by db (n, moved in, freed by the
 * registry) as of generation gen; readers see the new set on their next
 * acquire. A gen older than the current snapshot's is dropped (several
 * threads' stores refresh one registry: a slow reader must not bring back
 * an older set). 0 or -ENOMEM (db freed, the old set kept). Any thread. */
int crit_registry_publish(crit_registry *r, criterion *db, size_t n, uint64_t gen);
/* The generation of the current snapshot. */
uint64_t crit_registry_generation(crit_registry *r);
/* The criterion named name in s, or NULL. */
const criterion *crit_find(const crit_snapshot *s, const char *name);
/* GET /api/criteria's body: {"criteria": [crit_to_json of each, by name],
 * "generation": N}. A new object; NULL on out of memory. */
json_object *crit_list_json(const crit_snapshot *s);
/* 1 if name is a configuration criterion (PUT and DELETE answer 409). */
int crit_registry_is_config(crit_registry *r, const char *name);

/* ---- the judge's side: pure functions ---- */

/* Why row r cannot be scored on c ("needs a ground truth"), or NULL. */
const char *crit_missing(const criterion *c, const row *r);

/* The schema's name for response_format: "CriticVerdict" or "RubricScore". */
const char *crit_schema_name(const criterion *c);
/* The reply's JSON schema, a new object; NULL on out of memory.
 * critic: {"reason": str, "verdict": 0|1}; rubric: {"steps": [str] (only
 * when c has steps), "score": one of the level scores, "reason": str}. */
json_object *crit_schema(const criterion *c);
/* The one user message for row r (call crit_missing first): instruction
 * with the definition, levels and steps, the schema, a worked example, and
 * the named inputs as JSON. malloc'd; NULL on out of memory. */
char *crit_render(const criterion *c, const row *r);
/* The follow-up after a reply that did not fit. malloc'd; NULL on OOM. */
char *crit_repair(const criterion *c, const char *problem);

/* Temperature and seed of sample i (0-based) of samples: 0 and seed 42
 * for one sample; CRIT_TEMPERATURE and seed 42 + i for several, so the
 * samples differ and the reply cache keeps them apart. */
double crit_temperature(const criterion *c);
int crit_seed(const criterion *c, int i);

/* One sample's outcome: ok with value (the verdict 0/1 or the level) and
 * the judge's reason and steps, or failed with why. */
typedef struct crit_sample {
    int ok;
    int value;
    char reason[1024];
    json_object *steps;           /* rubric with steps: the judge's findings (owned); else NULL */
    char error[256];              /* when !ok */
} crit_sample;

/* Parse reply text (```json fences tolerated) and validate it against
 * c's schema: a verdict must be 0 or 1, a score one of the levels, as
 * many steps as c has. 0 with *out filled (ok = 1), or -EINVAL with err
 * saying what is wrong, for the repair prompt; -ENOMEM. */
int crit_parse_reply(const criterion *c, const char *text, crit_sample *out,
                     char *err, size_t errlen);
void crit_sample_clear(crit_sample *s);

/* The stored score and reason from n samples (n = c->samples; failed ones
 * have ok = 0). critic: the majority of the samples that answered (null
 * on a tie or when none did); rubric: the one sample's level. *reason is
 * malloc'd JSON: critic {"summary": "2 of 3 said yes: <reason>", "yes",
 * "no", "failed", "samples": [{"verdict", "reason"} | {"error"}]};
 * rubric {"score", "level": description, "normalised", "steps", "reason"}.
 * *is_null set when there is no score. 0 or -ENOMEM. */
int crit_vote(const criterion *c, const crit_sample *s, size_t n, double *score, int *is_null,
              char **reason);

#endif
