/* distance.c - the dynamic programmes behind the built-in string metrics
 * (metrics.c): Levenshtein distance with an early exit, the longest common
 * subsequence, and rapidfuzz's Jaro-Winkler similarity. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"
#include "text.h"

void dist_scratch_free(dist_scratch *s)
{
    if (!s)
        return;
    free(s->row);
    free(s->flags);
    memset(s, 0, sizeof *s);
}

/* Levenshtein distance of a (n) and b (k) code points. Gives up (returns
 * limit + 1) as soon as the distance must exceed limit. -ENOMEM, or
 * -E2BIG when the table is over cells. */
long dist_levenshtein(dist_scratch *s, const int32_t *a, size_t n, const int32_t *b, size_t k,
                      size_t limit, size_t cells)
{
    size_t i, j;
    long rc;

    while (n && k && a[0] == b[0])
        a++, b++, n--, k--;
    while (n && k && a[n - 1] == b[k - 1])
        n--, k--;
    if (n < k) {
        const int32_t *t = a;
        size_t tn = n;
        a = b, n = k, b = t, k = tn;
    }
    /* now k <= n; the distance is at least n - k */
    if (n - k > limit) {
        rc = (long)limit + 1;
        goto out;
    }
    if (k == 0) {
        rc = (long)n;
        goto out;
    }
    if (n > cells / k) {
        rc = -E2BIG;
        goto out;
    }
    rc = text_grow((void **)&s->row, &s->rowcap, k + 1, sizeof(*s->row));
    if (rc < 0)
        goto out;
    for (j = 0; j <= k; j++)
        s->row[j] = (uint32_t)j;
    for (i = 1; i <= n; i++) {
        uint32_t diag = s->row[0], best;
        int32_t c = a[i - 1];
        s->row[0] = (uint32_t)i;
        best = s->row[0];
        for (j = 1; j <= k; j++) {
            uint32_t up = s->row[j], v = diag + (c != b[j - 1]);
            if (up + 1 < v)
                v = up + 1;
            if (s->row[j - 1] + 1 < v)
                v = s->row[j - 1] + 1;
            s->row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best > limit) {
            rc = (long)limit + 1;
            goto out;
        }
    }
    rc = (long)s->row[k];
out:
    return rc;
}

/* Length of the longest common subsequence of a (n) and b (k). -ENOMEM or
 * -E2BIG (over DIST_MAX_CELLS). */
long dist_lcs(dist_scratch *s, const uint32_t *a, size_t n, const uint32_t *b, size_t k)
{
    size_t i, j, pre = 0;
    long rc;

    while (n && k && a[0] == b[0])
        a++, b++, n--, k--, pre++;
    while (n && k && a[n - 1] == b[k - 1])
        n--, k--, pre++;
    if (n < k) {
        const uint32_t *t = a;
        size_t tn = n;
        a = b, n = k, b = t, k = tn;
    }
    if (k == 0) {
        rc = (long)pre;
        goto out;
    }
    if (n > DIST_MAX_CELLS / k) {
        rc = -E2BIG;
        goto out;
    }
    rc = text_grow((void **)&s->row, &s->rowcap, k + 1, sizeof(*s->row));
    if (rc < 0)
        goto out;
    memset(s->row, 0, (k + 1) * sizeof(*s->row));
    for (i = 0; i < n; i++) {
        uint32_t diag = 0, x = a[i];
        for (j = 1; j <= k; j++) {
            uint32_t up = s->row[j];
            if (x == b[j - 1])
                s->row[j] = diag + 1;
            else if (s->row[j - 1] > up)
                s->row[j] = s->row[j - 1];
            diag = up;
        }
    }
    rc = (long)(s->row[k] + pre);
out:
    return rc;
}

/* rapidfuzz's Jaro-Winkler similarity (prefix weight 0.1, threshold 0.7). */
int dist_jaro_winkler(dist_scratch *s, const int32_t *a, size_t n, const int32_t *b, size_t k,
                      double *out)
{
    size_t win, i, j, match = 0, trans = 0, pre = 0;
    unsigned char *fa, *fb;
    double jaro;
    int rc = 0;

    if (n == 0 || k == 0) {
        *out = (n == 0 && k == 0) ? 1.0 : 0.0;
        goto out;
    }
    if (n > DIST_MAX_CELLS / k) {
        rc = -E2BIG;
        goto out;
    }
    rc = text_grow((void **)&s->flags, &s->flagcap, n + k, 1);
    if (rc < 0)
        goto out;
    fa = s->flags, fb = s->flags + n;
    memset(s->flags, 0, n + k);
    win = (n > k ? n : k) / 2;
    win = win > 0 ? win - 1 : 0;
    for (i = 0; i < n; i++) {
        size_t lo = i > win ? i - win : 0, hi = i + win + 1 < k ? i + win + 1 : k;
        for (j = lo; j < hi; j++) {
            if (!fb[j] && a[i] == b[j]) {
                fa[i] = fb[j] = 1;
                match++;
                break;
            }
        }
    }
    if (match == 0) {
        *out = 0.0;
        goto out;
    }
    for (i = 0, j = 0; i < n; i++) {
        if (!fa[i])
            continue;
        while (!fb[j])
            j++;
        if (a[i] != b[j])
            trans++;
        j++;
    }
    trans /= 2;
    jaro = ((double)match / (double)n + (double)match / (double)k +
            (double)(match - trans) / (double)match) / 3.0;
    if (jaro > 0.7) {
        while (pre < 4 && pre < n && pre < k && a[pre] == b[pre])
            pre++;
        jaro += (double)pre * 0.1 * (1.0 - jaro);
    }
    *out = jaro;
out:
    return rc;
}
