/* distance.h - edit distances and similarities over arrays of code points
 * or token ids, for the built-in metrics. The scratch memory is the
 * caller's: grown as needed, kept between calls, freed by
 * dist_scratch_free. */
#ifndef RAGRADE_DISTANCE_H
#define RAGRADE_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

/* The largest dynamic-programming table any one call may fill. */
#define DIST_MAX_CELLS ((size_t)1 << 27)

typedef struct dist_scratch {
    uint32_t *row;                /* one DP row */
    size_t rowcap;
    unsigned char *flags;         /* Jaro's matched flags; callers may borrow it */
    size_t flagcap;
} dist_scratch;

void dist_scratch_free(dist_scratch *s);   /* NULL is a no-op; s is reusable after */

/* Levenshtein distance of a (n) and b (k) code points, or limit + 1 once
 * it must exceed limit. -ENOMEM, or -E2BIG when the table is over cells. */
long dist_levenshtein(dist_scratch *s, const int32_t *a, size_t n, const int32_t *b, size_t k,
                      size_t limit, size_t cells);
/* Length of the longest common subsequence of a and b. -ENOMEM, or -E2BIG
 * over DIST_MAX_CELLS. */
long dist_lcs(dist_scratch *s, const uint32_t *a, size_t n, const uint32_t *b, size_t k);
/* rapidfuzz's Jaro-Winkler similarity of a and b in *out. 0, -ENOMEM or
 * -E2BIG. */
int dist_jaro_winkler(dist_scratch *s, const int32_t *a, size_t n, const int32_t *b, size_t k,
                      double *out);

#endif
