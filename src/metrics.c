/* metrics.c - the built-in judge's metrics: lexical, no network, pure
 * functions of a row (see metrics.h). Each is ragas's metric of the same
 * name (token_f1 is SQuAD's token F1), except where noted below.
 *
 * Where ragrade differs from ragas:
 * - bleu_score is sacrebleu's sentence BLEU (13a, exp smoothing, effective
 *   order) of the whole answer against the whole ground truth; ragas splits
 *   both on ". " and scores sentence pairs (its bug 2888). A ground truth
 *   written in Chinese, Japanese or Korean (text_script) is tokenised with
 *   sacrebleu's zh tokeniser instead (tokenize='zh'): under 13a an unspaced
 *   Chinese sentence is one token and a right answer scores 0.
 * - rouge_score is rouge_score's ROUGE-L F-measure with nltk's Porter stems,
 *   over Unicode words (text.c) instead of [a-z0-9]+ only, so Russian or
 *   Chinese answers are not scored 0; Han and Kana count one per character.
 * - token_f1 also drops Unicode punctuation and splits Han and Kana
 *   characters, as SQuAD's whitespace split would leave a Chinese sentence
 *   as one token.
 * - non_llm_string_similarity with Jaro-Winkler is rapidfuzz's (as ragas):
 *   window max(len)/2 - 1, half the transpositions rounded down, prefix
 *   bonus 0.1 per common character (at most 4) when Jaro > 0.7.
 * - non_llm_context_recall/precision always use Levenshtein similarity
 *   (ragas's default): their 0.5 thresholds are meant for it.
 * - context_overlap is ragrade's own reference-free groundedness check: the
 *   share of the answer's content tokens (Unicode words, case-folded,
 *   Porter-stemmed like rouge_score, text.c's English stop words left out,
 *   counted with repetition) that occur anywhere in the contexts. 1 means
 *   every content word of the answer appears in the retrieved text; it says
 *   nothing about whether the answer is correct or uses the words sensibly.
 * A metric whose inputs are missing is null with the reason, never 0.
 *
 * Work caps: Levenshtein and LCS are the classic dynamic programmes (time
 * n*m, memory one row of the shorter side, common prefix and suffix removed
 * first). One pair may take at most MAX_CELLS cells and the context metrics
 * at most MAX_CTX_CELLS in all (pairs whose lengths alone decide the
 * threshold cost nothing); beyond that the metric is null and says why.
 * MAX_CELLS is about 0.1 s of work: two 11,000-character texts. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"
#include "metrics.h"
#include "text.h"

#define MAX_CELLS DIST_MAX_CELLS
#define MAX_CTX_CELLS ((size_t)1 << 28)

typedef struct ids {
    uint32_t *v;
    size_t n, cap;
} ids;

typedef struct slot {
    const char *s;
    uint32_t len, hash, id;
} slot;

struct metrics_ctx {
    text_stemmer *stem;
    text_tokens ta, tb;           /* token scratch */
    ids ia, ib;                   /* the tokens as interned ids */
    slot *tab;                    /* the interning table */
    size_t tabcap;
    uint32_t nids;
    int32_t *ca, *cb;             /* code point scratch */
    size_t cacap, cbcap;
    dist_scratch ds;              /* DP rows, Jaro's flags; also borrowed below */
};

const char *const metrics_builtin_names[] = {
    "exact_match", "string_presence", "bleu_score", "rouge_score", "non_llm_string_similarity",
    "token_f1", "non_llm_context_recall", "non_llm_context_precision_with_reference",
    "context_overlap", NULL,
};

/* The defaults: the reference-free context_overlap, which every row can
 * have, and the graded ground-truth metrics, which are null without a
 * ground truth. exact_match and string_presence are 0 for almost any free
 * text answer; the reference-context metrics need reference_contexts and
 * cost a Levenshtein per pair of contexts. Ask for them by name. */
const char *const metrics_builtin_defaults[] = {
    "context_overlap", "token_f1", "rouge_score", "bleu_score", "non_llm_string_similarity",
    NULL,
};

metrics_ctx *metrics_ctx_new(void)
{
    metrics_ctx *m = calloc(1, sizeof(*m));

    if (!m)
        goto fail;
    text_tokens_init(&m->ta);
    text_tokens_init(&m->tb);
    m->stem = text_stemmer_new();
    if (!m->stem)
        goto fail;
    return m;
fail:
    metrics_ctx_free(m);
    return NULL;
}

void metrics_ctx_free(metrics_ctx *m)
{
    if (!m)
        return;
    text_stemmer_free(m->stem);
    text_tokens_free(&m->ta);
    text_tokens_free(&m->tb);
    free(m->ia.v);
    free(m->ib.v);
    free(m->tab);
    free(m->ca);
    free(m->cb);
    dist_scratch_free(&m->ds);
    free(m);
}

int metrics_is_builtin(const char *name)
{
    size_t i;

    for (i = 0; metrics_builtin_names[i]; i++)
        if (strcmp(metrics_builtin_names[i], name) == 0)
            return 1;
    return 0;
}

static void set_null(metric_result *out, const char *why)
{
    out->is_null = 1;
    out->score = 0;
    snprintf(out->reason, sizeof(out->reason), "%s", why);
}

/* ---- interning: equal tokens get equal small ids ---- */

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Prepare the table for up to n distinct tokens. */
static int intern_begin(metrics_ctx *m, size_t n)
{
    size_t want = 64;
    int rc = 0;

    while (want < n * 2)
        want *= 2;
    if (want > m->tabcap) {
        slot *t = realloc(m->tab, want * sizeof(*t));
        if (!t) {
            rc = -ENOMEM;
            goto out;
        }
        m->tab = t;
        m->tabcap = want;
    }
    memset(m->tab, 0, m->tabcap * sizeof(*m->tab));
    m->nids = 0;
out:
    return rc;
}

static uint32_t intern_one(metrics_ctx *m, const char *s, uint32_t len)
{
    uint32_t h = hash_str(s, len);
    size_t mask = m->tabcap - 1, i = h & mask;

    while (m->tab[i].s) {
        if (m->tab[i].hash == h && m->tab[i].len == len && memcmp(m->tab[i].s, s, len) == 0)
            return m->tab[i].id;
        i = (i + 1) & mask;
    }
    m->tab[i].s = s;
    m->tab[i].len = len;
    m->tab[i].hash = h;
    m->tab[i].id = m->nids++;
    return m->tab[i].id;
}

/* The ids of t's tokens into out (the table must have room). */
static int intern_list(metrics_ctx *m, const text_tokens *t, ids *out)
{
    size_t i;
    int rc;

    rc = text_grow((void **)&out->v, &out->cap, t->n + 1, sizeof(*out->v));
    if (rc < 0)
        goto out;
    for (i = 0; i < t->n; i++)
        out->v[i] = intern_one(m, t->buf + t->off[i], t->tlen[i]);
    out->n = t->n;
out:
    return rc;
}

/* Tokens of a and b as ids in m->ia and m->ib. */
static int intern_pair(metrics_ctx *m)
{
    int rc = intern_begin(m, m->ta.n + m->tb.n);

    if (rc == 0)
        rc = intern_list(m, &m->ta, &m->ia);
    if (rc == 0)
        rc = intern_list(m, &m->tb, &m->ib);
    return rc;
}

/* ---- the metrics ---- */

typedef int (*metric_fn)(metrics_ctx *m, const metrics_opts *o, const row *r,
                         metric_result *out);

static int need_gt(const row *r, metric_result *out)
{
    if (r->ground_truth)
        return 1;
    set_null(out, "no ground_truth given");
    return 0;
}

static int m_exact_match(metrics_ctx *m, const metrics_opts *o, const row *r, metric_result *out)
{
    if (need_gt(r, out))
        out->score = strcmp(r->answer, r->ground_truth) == 0;
    return 0;
}

static int m_string_presence(metrics_ctx *m, const metrics_opts *o, const row *r,
                             metric_result *out)
{
    if (!need_gt(r, out))
        goto out;
    if (!r->ground_truth[0]) {
        set_null(out, "the ground_truth is empty: there is nothing to look for");
        goto out;
    }
    out->score = strstr(r->answer, r->ground_truth) != NULL;
out:
    return 0;
}

typedef struct gram {
    uint32_t w[4];
} gram;

static int cmp_gram(const void *x, const void *y)
{
    const gram *a = x, *b = y;
    int i;

    for (i = 0; i < 4; i++)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

static gram *grams(const ids *t, size_t order, size_t *count)
{
    size_t c = t->n >= order ? t->n - order + 1 : 0, i, j;
    gram *g = malloc((c ? c : 1) * sizeof(*g));

    if (!g)
        goto out;
    for (i = 0; i < c; i++) {
        for (j = 0; j < 4; j++)
            g[i].w[j] = j < order ? t->v[i + j] : UINT32_MAX;
    }
    qsort(g, c, sizeof(*g), cmp_gram);
    *count = c;
out:
    return g;
}

/* Clipped matches of hypothesis n-grams h against reference n-grams r. */
static size_t clipped(const gram *h, size_t nh, const gram *r, size_t nr)
{
    size_t i = 0, j = 0, hits = 0;

    while (i < nh && j < nr) {
        int c = cmp_gram(&h[i], &r[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            size_t ci = 0, cj = 0;
            while (i + ci < nh && cmp_gram(&h[i + ci], &h[i]) == 0)
                ci++;
            while (j + cj < nr && cmp_gram(&r[j + cj], &r[j]) == 0)
                cj++;
            hits += ci < cj ? ci : cj;
            i += ci, j += cj;
        }
    }
    return hits;
}

static int m_bleu(metrics_ctx *m, const metrics_opts *o, const row *r, metric_result *out)
{
    size_t correct[4] = {0}, total[4] = {0}, hyp, ref, n, any = 0;
    double bp, logsum = 0, smooth = 1;
    int (*tok)(const char *, text_tokens *);
    int rc = 0, eff = 0;

    if (!need_gt(r, out))
        goto out;
    text_tokens_reset(&m->ta);
    text_tokens_reset(&m->tb);
    tok = TEXT_SCRIPT_IS_CJK(text_script(r->ground_truth)) ? text_zh : text_13a;
    rc = tok(r->answer, &m->ta);
    if (rc == 0)
        rc = tok(r->ground_truth, &m->tb);
    if (rc == 0)
        rc = intern_pair(m);
    if (rc < 0)
        goto out;
    hyp = m->ia.n, ref = m->ib.n;
    if (ref == 0) {
        set_null(out, "the ground_truth has no tokens to compare with");
        goto out;
    }
    for (n = 1; n <= 4; n++) {
        size_t nh = 0, nr = 0;
        gram *h = grams(&m->ia, n, &nh), *g = grams(&m->ib, n, &nr);
        if (!h || !g) {
            free(h);
            free(g);
            rc = -ENOMEM;
            goto out;
        }
        correct[n - 1] = clipped(h, nh, g, nr);
        total[n - 1] = nh;
        any += correct[n - 1];
        free(h);
        free(g);
    }
    if (any == 0) {                                /* sacrebleu: no match at all */
        out->score = 0;
        goto out;
    }
    bp = hyp < ref ? exp(1.0 - (double)ref / (double)hyp) : 1.0;
    for (n = 0; n < 4 && total[n] > 0; n++) {      /* effective order */
        double p;
        if (correct[n] == 0) {
            smooth *= 2;
            p = 1.0 / (smooth * (double)total[n]);
        } else {
            p = (double)correct[n] / (double)total[n];
        }
        logsum += log(p);
        eff++;
    }
    out->score = bp * exp(logsum / eff);
out:
    return rc;
}

static int m_rouge(metrics_ctx *m, const metrics_opts *o, const row *r, metric_result *out)
{
    double p, rec;
    long l;
    int rc = 0;

    if (!need_gt(r, out))
        goto out;
    text_tokens_reset(&m->ta);
    text_tokens_reset(&m->tb);
    rc = text_words(r->answer, m->stem, 0, &m->ta);
    if (rc == 0)
        rc = text_words(r->ground_truth, m->stem, 0, &m->tb);
    if (rc == 0)
        rc = intern_pair(m);
    if (rc < 0)
        goto out;
    if (m->ib.n == 0) {
        set_null(out, "the ground_truth has no words to compare with");
        goto out;
    }
    if (m->ia.n == 0) {
        out->score = 0;
        goto out;
    }
    l = dist_lcs(&m->ds, m->ia.v, m->ia.n, m->ib.v, m->ib.n);
    if (l == -E2BIG) {
        set_null(out, "answer and ground_truth are too long for ROUGE-L (over 2^27 token pairs)");
        goto out;
    }
    if (l < 0) {
        rc = (int)l;
        goto out;
    }
    p = (double)l / (double)m->ia.n;
    rec = (double)l / (double)m->ib.n;
    out->score = p + rec > 0 ? 2 * p * rec / (p + rec) : 0;
out:
    return rc;
}

/* Levenshtein similarity of the code points in m->ca (na) and m->cb (nb). */
static int lev_sim(metrics_ctx *m, size_t na, size_t nb, double *sim)
{
    size_t mx = na > nb ? na : nb;
    long d;

    if (mx == 0) {
        *sim = 1.0;
        return 0;
    }
    d = dist_levenshtein(&m->ds, m->ca, na, m->cb, nb, mx, MAX_CELLS);
    if (d < 0)
        return (int)d;
    *sim = 1.0 - (double)d / (double)mx;
    return 0;
}

static int m_string_similarity(metrics_ctx *m, const metrics_opts *o, const row *r,
                               metric_result *out)
{
    size_t na = 0, nb = 0;
    int rc = 0;

    if (!need_gt(r, out))
        goto out;
    rc = text_codepoints(r->answer, &m->ca, &na, &m->cacap);
    if (rc == 0)
        rc = text_codepoints(r->ground_truth, &m->cb, &nb, &m->cbcap);
    if (rc < 0)
        goto out;
    if (o && o->jaro_winkler)
        rc = dist_jaro_winkler(&m->ds, m->ca, na, m->cb, nb, &out->score);
    else
        rc = lev_sim(m, na, nb, &out->score);
    if (rc == -E2BIG) {
        rc = 0;
        set_null(out, "answer and ground_truth are too long to compare (over 2^27 character "
                 "pairs)");
    }
out:
    return rc;
}

static int m_token_f1(metrics_ctx *m, const metrics_opts *o, const row *r, metric_result *out)
{
    size_t i, common = 0;
    uint32_t *count;
    double p, rec;
    int rc = 0;

    if (!need_gt(r, out))
        goto out;
    text_tokens_reset(&m->ta);
    text_tokens_reset(&m->tb);
    rc = text_squad(r->answer, &m->ta);
    if (rc == 0)
        rc = text_squad(r->ground_truth, &m->tb);
    if (rc == 0)
        rc = intern_pair(m);
    if (rc < 0)
        goto out;
    if (m->ia.n == 0 || m->ib.n == 0) {
        out->score = m->ia.n == 0 && m->ib.n == 0;
        goto out;
    }
    rc = text_grow((void **)&m->ds.row, &m->ds.rowcap, m->nids + 1, sizeof(*m->ds.row));
    if (rc < 0)
        goto out;
    count = m->ds.row;
    memset(count, 0, m->nids * sizeof(*count));
    for (i = 0; i < m->ib.n; i++)
        count[m->ib.v[i]]++;
    for (i = 0; i < m->ia.n; i++) {
        if (count[m->ia.v[i]] > 0) {
            count[m->ia.v[i]]--;
            common++;
        }
    }
    if (common == 0) {
        out->score = 0;
        goto out;
    }
    p = (double)common / (double)m->ia.n;
    rec = (double)common / (double)m->ib.n;
    out->score = 2 * p * rec / (p + rec);
out:
    return rc;
}

/* Whether some string of set is similar to s: > 0.5 when strict, else
 * >= 0.5 (Levenshtein similarity). *budget counts the cells left. */
static int similar_any(metrics_ctx *m, const char *s, char *const *set, size_t nset, int strict,
                       size_t *budget, int *hit)
{
    size_t ns = 0, nt = 0, i;
    int rc;

    *hit = 0;
    rc = text_codepoints(s, &m->ca, &ns, &m->cacap);
    for (i = 0; rc == 0 && i < nset && !*hit; i++) {
        size_t mx, limit;
        long d;
        rc = text_codepoints(set[i], &m->cb, &nt, &m->cbcap);
        if (rc < 0)
            break;
        mx = ns > nt ? ns : nt;
        if (mx == 0) {
            *hit = 1;
            break;
        }
        /* 1 - d/mx > 0.5 <=> 2d < mx;  >= 0.5 <=> 2d <= mx. d >= |ns - nt|. */
        limit = strict ? (mx - 1) / 2 : mx / 2;
        if ((ns > nt ? ns - nt : nt - ns) > limit)
            continue;
        if (ns * nt > *budget) {
            rc = -E2BIG;
            break;
        }
        *budget -= ns * nt;
        d = dist_levenshtein(&m->ds, m->ca, ns, m->cb, nt, limit, (size_t)-1);
        if (d < 0) {
            rc = (int)d;
            break;
        }
        *hit = (size_t)d <= limit;
    }
    return rc;
}

static int need_refs(const row *r, metric_result *out)
{
    if (!r->reference_contexts) {
        set_null(out, "no reference_contexts given");
        return 0;
    }
    if (r->n_reference_contexts == 0) {
        set_null(out, "reference_contexts is empty");
        return 0;
    }
    return 1;
}

static int m_context_recall(metrics_ctx *m, const metrics_opts *o, const row *r,
                            metric_result *out)
{
    size_t i, hits = 0, budget = MAX_CTX_CELLS;
    int rc = 0, hit;

    if (!need_refs(r, out))
        goto out;
    for (i = 0; i < r->n_reference_contexts; i++) {
        rc = similar_any(m, r->reference_contexts[i], r->contexts, r->n_contexts, 1, &budget,
                         &hit);
        if (rc < 0)
            goto out;
        hits += hit;
    }
    out->score = (double)hits / (double)r->n_reference_contexts;
out:
    if (rc == -E2BIG) {
        rc = 0;
        set_null(out, "contexts too long to compare (over 2^28 character pairs in all)");
    }
    return rc;
}

static int m_context_precision(metrics_ctx *m, const metrics_opts *o, const row *r,
                               metric_result *out)
{
    size_t i, relevant = 0, budget = MAX_CTX_CELLS;
    double sum = 0;
    int rc = 0, hit;

    if (!need_refs(r, out))
        goto out;
    if (r->n_contexts == 0) {
        set_null(out, "no contexts given");
        goto out;
    }
    for (i = 0; i < r->n_contexts; i++) {
        rc = similar_any(m, r->contexts[i], r->reference_contexts, r->n_reference_contexts, 0,
                         &budget, &hit);
        if (rc < 0)
            goto out;
        if (hit) {
            relevant++;
            sum += (double)relevant / (double)(i + 1);
        }
    }
    out->score = sum / ((double)relevant + 1e-10);
out:
    if (rc == -E2BIG) {
        rc = 0;
        set_null(out, "contexts too long to compare (over 2^28 character pairs in all)");
    }
    return rc;
}

static int m_context_overlap(metrics_ctx *m, const metrics_opts *o, const row *r,
                             metric_result *out)
{
    size_t i, found = 0;
    unsigned char *seen;
    int rc = 0;

    if (r->n_contexts == 0) {
        set_null(out, "no contexts given");
        goto out;
    }
    text_tokens_reset(&m->ta);
    text_tokens_reset(&m->tb);
    rc = text_words(r->answer, m->stem, 1, &m->ta);
    for (i = 0; rc == 0 && i < r->n_contexts; i++)
        rc = text_words(r->contexts[i], m->stem, 1, &m->tb);
    if (rc == 0)
        rc = intern_pair(m);
    if (rc < 0)
        goto out;
    if (m->ia.n == 0) {
        set_null(out, "the answer has no content words");
        goto out;
    }
    rc = text_grow((void **)&m->ds.flags, &m->ds.flagcap, m->nids + 1, 1);
    if (rc < 0)
        goto out;
    seen = m->ds.flags;
    memset(seen, 0, m->nids);
    for (i = 0; i < m->ib.n; i++)
        seen[m->ib.v[i]] = 1;
    for (i = 0; i < m->ia.n; i++)
        found += seen[m->ia.v[i]];
    out->score = (double)found / (double)m->ia.n;
out:
    return rc;
}

static const struct {
    const char *name;
    metric_fn fn;
} table[] = {
    {"exact_match", m_exact_match},
    {"string_presence", m_string_presence},
    {"bleu_score", m_bleu},
    {"rouge_score", m_rouge},
    {"non_llm_string_similarity", m_string_similarity},
    {"token_f1", m_token_f1},
    {"non_llm_context_recall", m_context_recall},
    {"non_llm_context_precision_with_reference", m_context_precision},
    {"context_overlap", m_context_overlap},
};

int metrics_compute(metrics_ctx *m, const metrics_opts *o, const char *name, const row *r,
                    metric_result *out)
{
    size_t i;
    int rc = -ENOENT;

    memset(out, 0, sizeof(*out));
    if (!r->answer) {
        set_null(out, "no answer given");
        rc = metrics_is_builtin(name) ? 0 : -ENOENT;
        goto out;
    }
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(table[i].name, name) == 0) {
            rc = table[i].fn(m, o, r, out);
            break;
        }
    }
    if (rc < 0 && rc != -ENOENT)
        set_null(out, "out of memory");
out:
    return rc;
}
