/* critstore.h - the criteria tables of sql/005_criteria.sql: put, get,
 * list and delete a criterion, record its versions, and refresh a worker's
 * registry when another process changed them (the design is in
 * criteria.h). A storage module: it owns its SQL; every write is one
 * BEGIN IMMEDIATE transaction under the writers' turn (db_exec(Q_BEGIN)).
 * One critstore per connection, used by the thread that owns it, and
 * refreshing one registry (its data_version shortcut is per store). */
#ifndef RAGRADE_CRITSTORE_H
#define RAGRADE_CRITSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "criteria.h"
#include "db.h"

typedef struct critstore critstore;

/* Prepare the statements on d (borrowed; close the critstore first).
 * NULL with err filled (the tables are missing: the migration did not run). */
critstore *critstore_new(db *d, char *err, size_t errlen);
void critstore_free(critstore *s);                 /* NULL is a no-op */

enum { CRITSTORE_UNCHANGED = 0, CRITSTORE_CREATED = 1, CRITSTORE_UPDATED = 2 };

/* Store validated c (from crit_from_json) as its name's definition, reviving
 * a deleted one, and record its version. *what: CREATED (new or revived:
 * 201), UPDATED (a new version: 200), UNCHANGED (same version: 200, no
 * generation spent). 0 or a negative code (-EBUSY, -EIO, -ENOSPC) with err. */
int critstore_put(critstore *s, const criterion *c, int *what, char *err, size_t errlen);
/* Flag name deleted (its row and versions stay). 0, or -ENOENT when no
 * live criterion has that name, or a negative code with err. */
int critstore_delete(critstore *s, const char *name, char *err, size_t errlen);
/* The live criterion name into c (crit_clear it). 0, -ENOENT, or negative. */
int critstore_get(critstore *s, const char *name, criterion *c, char *err, size_t errlen);
/* Every live criterion by name: *v malloc'd (crit_free_array), and the
 * table's generation as of no later than the list. Rows whose stored
 * definition no longer validates are left out and counted in *skipped
 * (may be NULL). 0 or negative. */
int critstore_list(critstore *s, criterion **v, size_t *n, uint64_t *gen, size_t *skipped,
                   char *err, size_t errlen);
/* Record c's version in criterion_versions (idempotent): the configuration's
 * criteria at start, so that their scores find their definition. */
int critstore_record_version(critstore *s, const criterion *c, char *err, size_t errlen);
/* The definition name had at version (live, deleted or from the
 * configuration) into c. 0, -ENOENT, or negative. */
int critstore_get_version(critstore *s, const char *name, const char *version, criterion *c,
                          char *err, size_t errlen);

/* Bring r up to date with the table: PRAGMA data_version, then
 * max(generation), then (only if that moved) the list, published into r.
 * *changed = 1 when a new snapshot was published (may be NULL). Cheap when
 * nothing changed; call before resolving metric names or claiming rows. */
int critstore_refresh(critstore *s, crit_registry *r, int *changed, char *err, size_t errlen);

#endif
