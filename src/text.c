/* text.c - the tokenisers behind the built-in metrics (see text.h).
 *
 * Words (rouge_score, context_overlap): a token is a maximal run of code
 * points of the categories L*, M* and N*; everything else separates. Han,
 * Hiragana and Katakana characters (which are written without spaces) are
 * one token each, so Chinese and Japanese compare character by character,
 * as ROUGE is usually computed for them. Tokens are normalised with NFKC
 * and full case folding (utf8proc), so "Straße" equals "STRASSE". For ASCII
 * text this is exactly rouge_score's tokeniser (lower-case, [a-z0-9]+).
 *
 * Stemming: nltk's PorterStemmer in its default NLTK_EXTENSIONS mode (what
 * rouge_score uses) differs from Snowball's "porter" (the 1980 algorithm).
 * The layer below reproduces nltk's extensions around libstemmer: the
 * irregular forms (dying -> die, news, skies ...), four-letter "ies"/"ied"
 * (ties -> tie), step 1c's y -> i only after a consonant (days -> day,
 * spry -> spri), the step 2 rules "bli" -> "ble", "fulli" -> "ful",
 * "logi" -> "log" and "alli" -> "al" applied first and again, and the
 * two-letter stem counted as *o (used -> use, eyes -> eye). Only ASCII
 * tokens longer than 3 bytes are stemmed (Porter is English only).
 * t/metrics_oracle.py checks the result against nltk on a word list.
 *
 * sacrebleu's 13a and zh and SQuAD's tokens live in text_ref.c.
 *
 * Script: text_script() counts each Han, Kana or Hangul character as one
 * word (they are written without spaces) and each run of other letters as
 * one word; the text is CJK when the CJK words are at least as many. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>
#include <utf8proc.h>

#include "text.h"

#define STEM_CACHE_SLOTS 4096
#define STEM_CACHE_WORD 24
#define STEM_MAX 64

typedef struct stem_slot {
    char word[STEM_CACHE_WORD];
    char stem[STEM_CACHE_WORD];
} stem_slot;

struct text_stemmer {
    struct sb_stemmer *sb;
    stem_slot *cache;             /* STEM_CACHE_SLOTS, open addressing */
    size_t used;
    char out[STEM_MAX * 2];
    char tmp[STEM_MAX * 2];
};

/* ---- token lists ---- */

void text_tokens_init(text_tokens *t)
{
    memset(t, 0, sizeof(*t));
}

void text_tokens_reset(text_tokens *t)
{
    t->len = 0;
    t->n = 0;
}

void text_tokens_free(text_tokens *t)
{
    if (!t)
        return;
    free(t->buf);
    free(t->off);
    free(t->tlen);
    free(t->scratch);
    text_tokens_init(t);
}

int text_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t nc = *cap ? *cap : 64;
    void *np;

    if (need <= *cap)
        return 0;
    while (nc < need)
        nc *= 2;
    np = realloc(*p, nc * elem);
    if (!np)
        return -ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

int text_push(text_tokens *t, const char *s, size_t n)
{
    size_t ncap = t->ncap;
    int rc;

    rc = text_grow((void **)&t->buf, &t->cap, t->len + n + 1, 1);
    if (rc < 0)
        goto out;
    if (t->n + 1 > t->ncap) {
        rc = text_grow((void **)&t->off, &ncap, t->n + 1, sizeof(*t->off));
        if (rc < 0)
            goto out;
        ncap = t->ncap;
        rc = text_grow((void **)&t->tlen, &ncap, t->n + 1, sizeof(*t->tlen));
        if (rc < 0)
            goto out;
        t->ncap = ncap;
    }
    memcpy(t->buf + t->len, s, n);
    t->buf[t->len + n] = '\0';
    t->off[t->n] = t->len;
    t->tlen[t->n] = (uint32_t)n;
    t->n++;
    t->len += n + 1;
out:
    return rc;
}

/* ---- code points ---- */

size_t text_decode(const char *s, size_t len, int32_t *c)
{
    utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, c);

    if (r <= 0) {
        *c = 0xFFFD;
        return 1;
    }
    return (size_t)r;
}

int text_codepoints(const char *s, int32_t **cp, size_t *n, size_t *cap)
{
    size_t len = strlen(s), i = 0, k = 0;
    int rc;

    rc = text_grow((void **)cp, cap, len + 1, sizeof(**cp));
    if (rc < 0)
        goto out;
    while (i < len) {
        int32_t c;
        if ((unsigned char)s[i] < 0x80)
            c = (unsigned char)s[i++];
        else
            i += text_decode(s + i, len - i, &c);
        (*cp)[k++] = c;
    }
    *n = k;
out:
    return rc;
}

int text_is_cjk(int32_t c)
{
    return (c >= 0x3040 && c <= 0x30FF) ||     /* Hiragana, Katakana */
           (c >= 0x31F0 && c <= 0x31FF) ||     /* Katakana extensions */
           (c >= 0x3400 && c <= 0x4DBF) ||     /* Han extension A */
           (c >= 0x4E00 && c <= 0x9FFF) ||     /* Han */
           (c >= 0xF900 && c <= 0xFAFF) ||     /* compatibility ideographs */
           (c >= 0xFF66 && c <= 0xFF9F) ||     /* half-width Katakana */
           (c >= 0x20000 && c <= 0x3134F) ||   /* Han extensions B-G */
           c == 0x3005 || c == 0x3007;         /* 々 〇 */
}

/* ---- script ---- */

static int is_han(int32_t c)
{
    return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3134F) ||
           c == 0x3005 || c == 0x3007;
}

static int is_kana(int32_t c)
{
    return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) ||
           (c >= 0xFF66 && c <= 0xFF9F);
}

static int is_hangul(int32_t c)
{
    return (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F) ||
           (c >= 0xA960 && c <= 0xA97F) || (c >= 0xAC00 && c <= 0xD7FF) ||
           (c >= 0xFFA0 && c <= 0xFFDC);
}

enum text_script text_script(const char *s)
{
    size_t len = strlen(s), i = 0, han = 0, kana = 0, hangul = 0, other = 0;
    int in_word = 0;
    int32_t c;

    while (i < len) {
        i += text_decode(s + i, len - i, &c);
        if (is_han(c) || is_kana(c) || is_hangul(c)) {
            han += is_han(c), kana += is_kana(c), hangul += is_hangul(c);
            in_word = 0;
        } else if (utf8proc_category(c) >= UTF8PROC_CATEGORY_LU &&
                   utf8proc_category(c) <= UTF8PROC_CATEGORY_LO) {
            other += !in_word;
            in_word = 1;
        } else {
            in_word = 0;
        }
    }
    if (han + kana + hangul == 0)
        return other ? TEXT_SCRIPT_OTHER : TEXT_SCRIPT_NONE;
    if (han + kana + hangul < other)
        return TEXT_SCRIPT_OTHER;
    if (hangul && hangul >= kana)
        return TEXT_SCRIPT_KO;
    return kana ? TEXT_SCRIPT_JA : TEXT_SCRIPT_HAN;
}

static int is_word_cp(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);

    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_NO);   /* L*, M*, N* */
}

int text_is_space(int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- the stemmer ---- */

static int is_cons(const char *w, size_t i)
{
    switch (w[i]) {
    case 'a': case 'e': case 'i': case 'o': case 'u':
        return 0;
    case 'y':
        return i == 0 ? 1 : !is_cons(w, i - 1);
    default:
        return 1;
    }
}

/* Porter's m of w[0..n): the number of vowel-consonant sequences. */
static int measure(const char *w, size_t n)
{
    size_t i = 0;
    int m = 0;

    while (i < n && is_cons(w, i))
        i++;
    while (i < n) {
        while (i < n && !is_cons(w, i))
            i++;
        if (i >= n)
            break;
        m++;
        while (i < n && is_cons(w, i))
            i++;
    }
    return m;
}

static int ends(const char *w, size_t n, const char *suf)
{
    size_t k = strlen(suf);

    return n >= k && memcmp(w + n - k, suf, k) == 0;
}

static const char *const irregular[][2] = {
    {"skies", "sky"}, {"dying", "die"}, {"lying", "lie"}, {"tying", "tie"},
    {"news", "news"}, {"innings", "inning"}, {"inning", "inning"},
    {"outings", "outing"}, {"outing", "outing"}, {"cannings", "canning"},
    {"canning", "canning"}, {"howe", "howe"}, {"proceed", "proceed"},
    {"exceed", "exceed"}, {"succeed", "succeed"},
};

static const char *const alli[] = {"ally", "allys", "allyed", "allying", "allies", "allied"};

/* Snowball's porter on w into s->out, then nltk's differences. depth stops
 * the re-stemming of step 2's rewritten words. */
static int stem_nltk(text_stemmer *s, const char *w, size_t n, size_t *outlen, int depth)
{
    const sb_symbol *r;
    size_t k, i;
    int rc = 0;
    char *o = s->out;

    for (i = 0; i < sizeof(irregular) / sizeof(irregular[0]); i++) {
        if (strlen(irregular[i][0]) == n && memcmp(irregular[i][0], w, n) == 0) {
            k = strlen(irregular[i][1]);
            memcpy(o, irregular[i][1], k + 1);
            *outlen = k;
            goto out;
        }
    }
    if (n == 4 && (ends(w, n, "ies") || ends(w, n, "ied"))) {
        o[0] = w[0], o[1] = 'i', o[2] = 'e', o[3] = '\0';
        *outlen = 3;
        goto out;
    }
    /* "ally", "allies", "allying"...: nltk's step 1 leaves "alli", which
     * step 2 turns into "al" and then rewrites again. */
    for (i = 0; depth == 0 && i < sizeof(alli) / sizeof(alli[0]); i++) {
        size_t p = n - strlen(alli[i]);
        if (ends(w, n, alli[i]) && measure(w, p) > 0 && p + 2 < sizeof(s->tmp)) {
            memmove(s->tmp, w, p);
            memcpy(s->tmp + p, "al", 2);
            rc = stem_nltk(s, s->tmp, p + 2, outlen, depth + 1);
            goto out;
        }
    }
    r = sb_stemmer_stem(s->sb, (const sb_symbol *)w, (int)n);
    if (!r) {
        rc = -ENOMEM;
        goto out;
    }
    k = (size_t)sb_stemmer_length(s->sb);
    if (k >= STEM_MAX) {
        /* too long for the compatibility layer: Snowball's stem as is */
        if (k >= sizeof(s->out))
            k = sizeof(s->out) - 1;
        memcpy(o, r, k);
        o[k] = '\0';
        *outlen = k;
        goto out;
    }
    memcpy(o, r, k);
    o[k] = '\0';
    /* step 1c: nltk turns a final y into i only after a consonant */
    if (k >= 2 && o[k - 1] == 'i' && n >= k && w[k - 1] == 'y' && memcmp(w, o, k - 1) == 0 &&
        !is_cons(o, k - 2))
        o[k - 1] = 'y';
    else if (k >= 3 && o[k - 1] == 'y' && is_cons(o, k - 2) && n >= k && w[k - 1] == 'y' &&
             (n == k || (n == k + 1 && w[k] == 's') || (n == k + 2 && ends(w, n, "ed")) ||
              (n == k + 3 && ends(w, n, "ing"))))
        o[k - 1] = 'i';
    /* step 1b: Snowball undoubles only bb dd ff gg mm nn pp rr tt */
    if (depth < 2 && k >= 2 && o[k - 1] == o[k - 2] && is_cons(o, k - 1) &&
        !strchr("lsz", o[k - 1]) && memcmp(w, o, k) == 0 &&
        ((n == k + 2 && ends(w, n, "ed")) || (n == k + 3 && ends(w, n, "ing")))) {
        memcpy(s->tmp, o, k - 1);
        rc = stem_nltk(s, s->tmp, k - 1, &k, depth + 1);
    } else if (k >= 4 && ends(o, k, "logi") && measure(o, k - 3) > 0) {
        o[--k] = '\0';
    } else if (depth < 2 && k >= 5 && ends(o, k, "fulli") && measure(o, k - 5) > 0) {
        memcpy(s->tmp, o, k - 2);
        rc = stem_nltk(s, s->tmp, k - 2, &k, depth + 1);
    } else if (depth < 2 && k >= 3 && ends(o, k, "bli") && measure(o, k - 3) > 0) {
        memcpy(s->tmp, o, k - 1);
        s->tmp[k - 1] = 'e';
        rc = stem_nltk(s, s->tmp, k, &k, depth + 1);
    } else if (k == 2 && !is_cons(o, 0) && is_cons(o, 1) &&
               ((n >= 3 && w[0] == o[0] && w[1] == o[1] && w[2] == 'e') ||
                (n == 5 && ends(w, n, "ing") && w[0] == o[0] && w[1] == o[1]))) {
        /* nltk counts a two-letter vowel-consonant stem as *o: keep the e */
        o[2] = 'e', o[3] = '\0';
        k = 3;
    }
    *outlen = k;
out:
    return rc;
}

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

text_stemmer *text_stemmer_new(void)
{
    text_stemmer *s = calloc(1, sizeof(*s));

    if (!s)
        goto fail;
    s->sb = sb_stemmer_new("porter", NULL);
    s->cache = calloc(STEM_CACHE_SLOTS, sizeof(*s->cache));
    if (!s->sb || !s->cache)
        goto fail;
    return s;
fail:
    text_stemmer_free(s);
    return NULL;
}

void text_stemmer_free(text_stemmer *s)
{
    if (!s)
        return;
    if (s->sb)
        sb_stemmer_delete(s->sb);
    free(s->cache);
    free(s);
}

int text_stem(text_stemmer *s, const char *w, size_t n, const char **out, size_t *outlen)
{
    stem_slot *slot = NULL;
    size_t k = 0;
    int rc = 0;

    if (n < STEM_CACHE_WORD) {
        uint32_t i = fnv(w, n) & (STEM_CACHE_SLOTS - 1);
        for (;;) {
            slot = &s->cache[i];
            if (!slot->word[0])
                break;
            if (strncmp(slot->word, w, n) == 0 && slot->word[n] == '\0') {
                *out = slot->stem;
                *outlen = strlen(slot->stem);
                goto out;
            }
            i = (i + 1) & (STEM_CACHE_SLOTS - 1);
        }
    }
    rc = stem_nltk(s, w, n, &k, 0);
    if (rc < 0)
        goto out;
    *out = s->out;
    *outlen = k;
    if (slot && k < STEM_CACHE_WORD) {
        if (s->used >= STEM_CACHE_SLOTS * 3 / 4) {
            /* full: start again (the slot found above is then empty too) */
            memset(s->cache, 0, STEM_CACHE_SLOTS * sizeof(*s->cache));
            s->used = 0;
            slot = &s->cache[fnv(w, n) & (STEM_CACHE_SLOTS - 1)];
        }
        memcpy(slot->word, w, n);
        slot->word[n] = '\0';
        memcpy(slot->stem, s->out, k + 1);
        s->used++;
    }
out:
    return rc;
}

/* ---- words ---- */

/* A small English stop list for context_overlap: articles, pronouns,
 * auxiliaries, prepositions and conjunctions. Sorted for bsearch. */
static const char *const stop_words[] = {
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "but", "by", "can", "could", "did", "do", "does",
    "for", "from", "had", "has", "have", "he", "her", "here", "him", "his", "how", "i", "if",
    "in", "into", "is", "it", "its", "just", "may", "me", "might", "must", "my", "no", "nor",
    "not", "of", "on", "only", "or", "our", "s", "shall", "she", "should", "so", "some", "such",
    "t", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "those", "to", "too", "us", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_stop(const char *w)
{
    return bsearch(&w, stop_words, sizeof(stop_words) / sizeof(stop_words[0]),
                   sizeof(stop_words[0]), cmp_str) != NULL;
}

/* NFKC + case folding of one non-ASCII token into t's scratch, then push. */
static int push_folded(text_tokens *t, const char *s, size_t n)
{
    const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT |
                                  UTF8PROC_CASEFOLD;
    utf8proc_ssize_t r;
    int rc = 0;

    for (;;) {
        r = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, t->scratch,
                               (utf8proc_ssize_t)t->scap, opt);
        if (r < 0) {
            rc = text_push(t, s, n);        /* cannot happen for valid UTF-8 */
            goto out;
        }
        if ((size_t)r <= t->scap && t->scratch)
            break;
        rc = text_grow((void **)&t->scratch, &t->scap, (size_t)r + 1, sizeof(*t->scratch));
        if (rc < 0)
            goto out;
    }
    r = utf8proc_reencode(t->scratch, r, opt);
    if (r < 0) {
        rc = text_push(t, s, n);
        goto out;
    }
    rc = text_push(t, (const char *)t->scratch, (size_t)r);
out:
    return rc;
}

static int push_word(text_tokens *t, text_stemmer *st, int drop_stop, const char *s, size_t n,
                     int ascii)
{
    char low[STEM_MAX];
    const char *stem;
    size_t i, k;
    int rc = 0;

    if (drop_stop && ascii && n < sizeof(low)) {
        for (i = 0; i < n; i++)
            low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 'a' - 'A') : s[i];
        low[n] = '\0';
        if (is_stop(low))
            goto out;
    }
    if (!ascii) {
        /* "Straße" folds to "strasse": stem it like the ASCII spelling */
        rc = push_folded(t, s, n);
        if (rc < 0 || !st)
            goto out;
        k = t->tlen[t->n - 1];
        memcpy(low, t->buf + t->off[t->n - 1], k < sizeof(low) ? k : 0);
        for (i = 0; i < k && k < sizeof(low) && (unsigned char)low[i] < 0x80; i++)
            ;
        if (k <= 3 || k >= sizeof(low) || i < k)
            goto out;
        t->n--;
        t->len = t->off[t->n];
        s = low, n = k;
    }
    if (!st || n <= 3 || n >= sizeof(low)) {
        rc = text_push(t, s, n);
        if (rc == 0)
            for (i = 0; i < n; i++)
                if (t->buf[t->off[t->n - 1] + i] >= 'A' && t->buf[t->off[t->n - 1] + i] <= 'Z')
                    t->buf[t->off[t->n - 1] + i] += 'a' - 'A';
        goto out;
    }
    for (i = 0; i < n; i++)
        low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 'a' - 'A') : s[i];
    rc = text_stem(st, low, n, &stem, &k);
    if (rc < 0)
        goto out;
    rc = text_push(t, stem, k);
out:
    return rc;
}

int text_words(const char *s, text_stemmer *st, int drop_stop, text_tokens *out)
{
    size_t len = strlen(s), i = 0, start = 0;
    int in = 0, ascii = 1, rc = 0;

    while (i < len) {
        unsigned char b = (unsigned char)s[i];
        int32_t c;
        size_t w;
        int cls;

        if (b < 0x80) {
            c = b, w = 1;
            cls = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9');
        } else {
            w = text_decode(s + i, len - i, &c);
            cls = text_is_cjk(c) ? 2 : is_word_cp(c);
        }
        if (cls != 1 && in) {
            rc = push_word(out, st, drop_stop, s + start, i - start, ascii);
            if (rc < 0)
                goto out;
            in = 0;
        }
        if (cls == 2) {
            rc = push_folded(out, s + i, w);
            if (rc < 0)
                goto out;
        } else if (cls == 1 && !in) {
            in = 1, start = i, ascii = 1;
        }
        if (cls == 1 && b >= 0x80)
            ascii = 0;
        i += w;
    }
    if (in)
        rc = push_word(out, st, drop_stop, s + start, i - start, ascii);
out:
    return rc;
}
