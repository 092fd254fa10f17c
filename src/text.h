/* text.h - Unicode tokenisers for the built-in metrics: words (letters and
 * digits of any script, case-folded, CJK split per character, optionally
 * Porter-stemmed like nltk), sacrebleu's 13a and zh tokens, SQuAD's
 * tokens, the script of a text, and UTF-8 to code points. No global
 * state: callers own every buffer. */
#ifndef RAGRADE_TEXT_H
#define RAGRADE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* A list of tokens. Token i is the NUL-terminated string buf + off[i] of
 * tlen[i] bytes. Reused between calls: text_tokens_reset keeps the memory. */
typedef struct text_tokens {
    char *buf;
    size_t len, cap;
    size_t *off;
    uint32_t *tlen;
    size_t n, ncap;
    int32_t *scratch;             /* code point scratch for normalisation */
    size_t scap;
} text_tokens;

void text_tokens_init(text_tokens *t);
void text_tokens_reset(text_tokens *t);
void text_tokens_free(text_tokens *t);     /* frees the buffers, not t */

/* nltk's PorterStemmer (mode NLTK_EXTENSIONS) built on Snowball's "porter"
 * with a compatibility layer, plus a bounded cache of recent stems. */
typedef struct text_stemmer text_stemmer;

text_stemmer *text_stemmer_new(void);
void text_stemmer_free(text_stemmer *s);   /* NULL is a no-op */

/* Stem the lower-case ASCII word w (n bytes). On success *out points at the
 * stem (owned by s, valid until the next call) and *outlen is its length.
 * 0, or -ENOMEM. */
int text_stem(text_stemmer *s, const char *w, size_t n, const char **out, size_t *outlen);

/* Word tokens of s: maximal runs of letters, marks and numbers, each Han,
 * Hiragana or Katakana character a token of its own, NFKC case-folded.
 * When st is not NULL, ASCII tokens longer than 3 bytes are stemmed. When
 * drop_stop, English stop words (text.c's list) are left out. Appends to
 * out. 0 or -ENOMEM. */
int text_words(const char *s, text_stemmer *st, int drop_stop, text_tokens *out);

/* sacrebleu's 13a tokens of s. Appends to out. 0 or -ENOMEM. */
int text_13a(const char *s, text_tokens *out);

/* sacrebleu's zh tokens of s (tokenize='zh'): s stripped, a space put on
 * both sides of every character in sacrebleu's Chinese ranges (CJK
 * ideographs and punctuation, full-width forms, and, as sacrebleu's table
 * reads in Python, U+2001..U+2A6D), then 13a's regular expressions, without
 * 13a's clean-up of "<skipped>", "-\n", newlines and HTML entities.
 * Appends to out. 0 or -ENOMEM. */
int text_zh(const char *s, text_tokens *out);

/* The script a text is mostly written in: each Han, Kana or Hangul code
 * point counts as one word, each run of other letters (L*) as one; CJK when
 * the CJK words are at least as many, then KO when it has Hangul (and no
 * more Kana), JA when it has Kana, else HAN. NONE: no letters at all. */
enum text_script {
    TEXT_SCRIPT_NONE = 0,
    TEXT_SCRIPT_OTHER,
    TEXT_SCRIPT_HAN,
    TEXT_SCRIPT_JA,
    TEXT_SCRIPT_KO,
};
enum text_script text_script(const char *s);

/* 1 for the CJK scripts (HAN, JA, KO). */
#define TEXT_SCRIPT_IS_CJK(x) ((x) >= TEXT_SCRIPT_HAN)

/* Append the n bytes at s to t as one token. 0 or -ENOMEM. */
int text_push(text_tokens *t, const char *s, size_t n);

/* Decode one code point of s (len bytes, len > 0) into *c; invalid bytes
 * give U+FFFD. Returns the bytes used (at least 1). */
size_t text_decode(const char *s, size_t len, int32_t *c);

/* Python's str.isspace() (what str.split() and str.strip() use). */
int text_is_space(int32_t c);

/* SQuAD tokens of s: lower-cased, punctuation dropped, articles dropped,
 * split on white space, CJK characters split one per token. 0 or -ENOMEM. */
int text_squad(const char *s, text_tokens *out);

/* Decode s into code points (invalid bytes become U+FFFD) into *cp, grown
 * as needed (*cap elements; the caller frees *cp). *n gets the count. */
int text_codepoints(const char *s, int32_t **cp, size_t *n, size_t *cap);

/* 1 if c is a Han, Hiragana or Katakana character (one token each). */
int text_is_cjk(int32_t c);

/* Grow *p (an array of elem-sized items, *cap of them) to hold at least
 * need, doubling from 64. 0, or -ENOMEM with *p left as it was. */
int text_grow(void **p, size_t *cap, size_t need, size_t elem);

#endif
