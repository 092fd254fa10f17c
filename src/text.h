/* text.h - Unicode tokenisers for the built-in metrics: words (letters and
 * digits of any script, case-folded, CJK split per character, optionally
 * Porter-stemmed like nltk), sacrebleu's 13a tokens and SQuAD's tokens,
 * and UTF-8 to code points. No global state: callers own every buffer. */
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
