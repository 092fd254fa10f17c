/* gate.h - `ragrade compare` and `ragrade gate`: two runs compared from
 * the JSONL files `ragrade eval` writes (so that CI needs no server), as a
 * table, JSON, JUnit XML or markdown, and the gate's exit code. */
#ifndef RAGRADE_GATE_H
#define RAGRADE_GATE_H

#include <stdio.h>

#include "compare.h"

/* Exit codes of the gate (and of compare where they apply). */
enum {
    GATE_PASS = 0,          /* no metric dropped significantly beyond its allowed drop */
    GATE_REGRESSION = 1,    /* at least one did */
    GATE_UNKNOWN = 2,       /* too few pairs, or a metric missing on one side */
    GATE_USAGE = 64,        /* EX_USAGE */
    GATE_DATAERR = 65,      /* EX_DATAERR: a result file is not what ragrade eval writes */
    GATE_NOINPUT = 66,      /* EX_NOINPUT: a file cannot be opened */
    GATE_CANTCREAT = 73,    /* EX_CANTCREAT: --junit or --markdown cannot be written */
};

/* Where the two runs come from: two JSONL files of `ragrade eval`, or a
 * database (db set) with two runs of a dataset, or two datasets (one per
 * run), read by runs.c. Strings are borrowed (argv). */
typedef struct gate_source {
    const char *base_file;
    const char *cand_file;
    const char *db;               /* NULL: the files */
    const char *dataset;          /* both sides' dataset, unless named per side */
    const char *baseline, *candidate;                   /* runs; NULL: every row of the side's dataset */
    const char *baseline_dataset, *candidate_dataset;   /* NULL: dataset */
} gate_source;

/* Read one `ragrade eval` output file into r (initialised by the caller):
 * rows pair by "item", else "question"; "line" is the evaluation id; lines
 * with "error" are skipped. 0, or -EINVAL / -ENOMEM / -errno with err
 * filled ("FILE:LINE: why"). */
int gate_read_jsonl(compare_run *r, FILE *in, const char *name, char *err, size_t errlen);

/* Fill both runs from s (initialised here; the caller frees them with
 * compare_run_free in every case). Returns 0 or a GATE_* exit code with
 * err filled. */
int gate_load(const gate_source *s, compare_run *base, compare_run *cand, char *err,
              size_t errlen);

/* The commands; argv[0] is "compare" or "gate". They return the exit code. */
int gate_compare_main(int argc, char **argv);
int gate_main(int argc, char **argv);

#endif
