/* text_ref.c - the tokenisers copied in behaviour from reference projects
 * (declared in text.h): sacrebleu's 13a, and its zh for Chinese, Japanese
 * and Korean references, which puts spaces around every character of its
 * "Chinese" ranges and then applies 13a's regular expressions (not 13a's
 * line clean-up); and SQuAD's. Over code points, as Python's re and str
 * do; t/metrics_oracle.py checks them against Python. SQuAD's punctuation
 * is string.punctuation plus every Unicode P* code point, and Han/Kana
 * characters are split one per token. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "text.h"

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n)
{
    int rc = text_grow((void **)&b->p, &b->cap, b->n + n + 1, 1);

    if (rc == 0) {
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = '\0';
    }
    return rc;
}

/* Python's str.replace(from, to) of in into out. */
static int replace_all(const sbuf *in, sbuf *out, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), i = 0;
    int rc = 0;

    out->n = 0;
    while (rc == 0 && i < in->n) {
        if (in->n - i >= fl && memcmp(in->p + i, from, fl) == 0) {
            rc = sb_put(out, to, tl);
            i += fl;
        } else {
            rc = sb_put(out, in->p + i, 1);
            i++;
        }
    }
    if (rc == 0)
        rc = sb_put(out, "", 0);
    return rc;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int in_13a_punct(char c)
{
    unsigned char u = (unsigned char)c;

    return (u >= '{' && u <= '~') || (u >= '[' && u <= '`') || (u >= ' ' && u <= '&') ||
           (u >= '(' && u <= '+') || (u >= ':' && u <= '@') || u == '/';
}

/* One of 13a's regular expressions over two characters, as re.sub does it:
 * left to right, matches do not overlap. kind 1: ([^0-9])([.,]) -> "\1 \2 ";
 * 2: ([.,])([^0-9]) -> " \1 \2"; 3: ([0-9])(-) -> "\1 \2 ". */
static int sub_pair(const sbuf *in, sbuf *out, int kind)
{
    size_t i = 0;
    int rc = 0;

    out->n = 0;
    while (rc == 0 && i < in->n) {
        char a = in->p[i], b = i + 1 < in->n ? in->p[i + 1] : '\0';
        int hit = 0;
        if (i + 1 < in->n) {
            if (kind == 1)
                hit = !is_digit(a) && (b == '.' || b == ',');
            else if (kind == 2)
                hit = (a == '.' || a == ',') && !is_digit(b);
            else
                hit = is_digit(a) && b == '-';
        }
        if (!hit) {
            rc = sb_put(out, &a, 1);
            i++;
            continue;
        }
        if (kind == 2) {
            char r[4] = {' ', a, ' ', b};
            rc = sb_put(out, r, 4);
        } else {
            char r[4] = {a, ' ', b, ' '};
            rc = sb_put(out, r, 4);
        }
        i += 2;
    }
    if (rc == 0)
        rc = sb_put(out, "", 0);
    return rc;
}

static void sb_swap(sbuf *a, sbuf *b)
{
    sbuf t = *a;

    *a = *b;
    *b = t;
}

/* Split on Python white space and push the pieces. */
static int split_push(const char *s, size_t len, text_tokens *out)
{
    size_t i = 0, start = 0;
    int in = 0, rc = 0;

    while (rc == 0 && i < len) {
        int32_t c;
        size_t w = 1;
        if ((unsigned char)s[i] < 0x80)
            c = (unsigned char)s[i];
        else
            w = text_decode(s + i, len - i, &c);
        if (text_is_space(c)) {
            if (in)
                rc = text_push(out, s + start, i - start);
            in = 0;
        } else if (!in) {
            in = 1, start = i;
        }
        i += w;
    }
    if (rc == 0 && in)
        rc = text_push(out, s + start, len - start);
    return rc;
}

/* 13a's regular expressions over a (sacrebleu's TokenizerRegexp), then the
 * white-space split into out; b is scratch. pad puts a space at both ends
 * first (13a does, zh does not). */
static int regexp_split(sbuf *a, sbuf *b, int pad, text_tokens *out)
{
    size_t i;
    int rc;

    b->n = 0;
    rc = sb_put(b, pad ? " " : "", pad ? 1 : 0);
    for (i = 0; rc == 0 && i < a->n; i++) {
        if (in_13a_punct(a->p[i])) {
            char r[3] = {' ', a->p[i], ' '};
            rc = sb_put(b, r, 3);
        } else {
            rc = sb_put(b, a->p + i, 1);
        }
    }
    if (rc == 0 && pad)
        rc = sb_put(b, " ", 1);
    for (i = 1; rc == 0 && i <= 3; i++) {
        rc = sub_pair(b, a, (int)i);
        sb_swap(a, b);
    }
    if (rc == 0)
        rc = split_push(b->p, b->n, out);
    return rc;
}

int text_13a(const char *s, text_tokens *out)
{
    static const char *const rep[][2] = {
        {"<skipped>", ""}, {"-\n", ""}, {"\n", " "},
        {"&quot;", "\""}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"},
    };
    sbuf a = {0}, b = {0};
    size_t i;
    int rc;

    rc = sb_put(&a, s, strlen(s));
    for (i = 0; rc == 0 && i < sizeof(rep) / sizeof(rep[0]); i++) {
        if (i == 3 && !memchr(a.p, '&', a.n))
            break;
        rc = replace_all(&a, &b, rep[i][0], rep[i][1]);
        sb_swap(&a, &b);
    }
    if (rc == 0)
        rc = regexp_split(&a, &b, 1, out);
    free(a.p);
    free(b.p);
    return rc;
}

/* sacrebleu's _UCODE_RANGES, as Python compares them. Two of its bounds are
 * written "\u20000", "\u2a6d6", "\u2f800" and "\u2fa1d": Python reads each
 * as a four-digit escape and a fifth character, so a one-character string
 * lies between the first pair when it is above U+2000 and not above U+2A6D
 * (general punctuation, currency, arrows, mathematical operators ...), and
 * between the second when it is in U+2F81..U+2FA1; Extension B and the
 * compatibility supplement are not split. ragrade splits what sacrebleu
 * splits, so that its scores equal sacrebleu's. */
static const int32_t zh_ranges[][2] = {
    {0x3400, 0x4DB5}, {0x4E00, 0x9FA5}, {0x9FA6, 0x9FBB}, {0xF900, 0xFA2D},
    {0xFA30, 0xFA6A}, {0xFA70, 0xFAD9}, {0x2001, 0x2A6D}, {0x2F81, 0x2FA1},
    {0xFF00, 0xFFEF}, {0x2E80, 0x2EFF}, {0x3000, 0x303F}, {0x31C0, 0x31EF},
    {0x2F00, 0x2FDF}, {0x2FF0, 0x2FFF}, {0x3100, 0x312F}, {0x31A0, 0x31BF},
    {0xFE10, 0xFE1F}, {0xFE30, 0xFE4F}, {0x2600, 0x26FF}, {0x2700, 0x27BF},
    {0x3200, 0x32FF}, {0x3300, 0x33FF},
};

static int is_zh_char(int32_t c)
{
    size_t i;

    for (i = 0; i < sizeof(zh_ranges) / sizeof(zh_ranges[0]); i++)
        if (c >= zh_ranges[i][0] && c <= zh_ranges[i][1])
            return 1;
    return 0;
}

int text_zh(const char *s, text_tokens *out)
{
    sbuf a = {0}, b = {0};
    size_t len = strlen(s), i = 0, start = len, end = 0, w;
    int32_t c;
    int rc;

    while (i < len) {                             /* str.strip(): both ends */
        w = text_decode(s + i, len - i, &c);
        if (!text_is_space(c)) {
            if (start == len)
                start = i;
            end = i + w;
        }
        i += w;
    }
    rc = sb_put(&a, "", 0);
    for (i = start; rc == 0 && i < end; i += w) {
        w = text_decode(s + i, end - i, &c);
        if (is_zh_char(c)) {
            rc = sb_put(&a, " ", 1);
            if (rc == 0)
                rc = sb_put(&a, s + i, w);
            if (rc == 0)
                rc = sb_put(&a, " ", 1);
        } else {
            rc = sb_put(&a, s + i, w);
        }
    }
    if (rc == 0)
        rc = regexp_split(&a, &b, 0, out);
    free(a.p);
    free(b.p);
    return rc;
}

/* ---- SQuAD ---- */

static int is_squad_punct(int32_t c)
{
    utf8proc_category_t k;

    if (c < 0x80)
        return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
               (c >= '{' && c <= '~');
    k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* Python's \w: letters, numbers and '_'. */
static int is_py_word(int32_t c)
{
    utf8proc_category_t k;

    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

static int is_article(const int32_t *c, size_t n)
{
    return (n == 1 && c[0] == 'a') || (n == 2 && c[0] == 'a' && c[1] == 'n') ||
           (n == 3 && c[0] == 't' && c[1] == 'h' && c[2] == 'e');
}

int text_squad(const char *s, text_tokens *out)
{
    int32_t *cp = NULL;
    size_t n = 0, cap = 0, i, k = 0, start;
    sbuf word = {0};
    int rc;

    rc = text_codepoints(s, &cp, &n, &cap);
    if (rc < 0)
        goto out;
    for (i = 0; i < n; i++) {                      /* lower, drop punctuation */
        int32_t c = utf8proc_tolower(cp[i]);
        if (!is_squad_punct(c))
            cp[k++] = c;
    }
    n = k;
    for (i = 0; i < n;) {                          /* \b(a|an|the)\b -> ' ' */
        if (!is_py_word(cp[i])) {
            i++;
            continue;
        }
        start = i;
        while (i < n && is_py_word(cp[i]))
            i++;
        if (is_article(cp + start, i - start))
            for (k = start; k < i; k++)
                cp[k] = ' ';
    }
    for (i = 0; i < n;) {                          /* split */
        utf8proc_uint8_t enc[4];
        if (text_is_space(cp[i]) || cp[i] == ' ') {
            i++;
            continue;
        }
        word.n = 0;
        while (i < n && !text_is_space(cp[i])) {
            utf8proc_ssize_t w = utf8proc_encode_char(cp[i], enc);
            if (text_is_cjk(cp[i]) && word.n > 0)
                break;
            rc = sb_put(&word, (const char *)enc, (size_t)w);
            if (rc < 0)
                goto out;
            i++;
            if (text_is_cjk(cp[i - 1]))
                break;
        }
        rc = text_push(out, word.p, word.n);
        if (rc < 0)
            goto out;
    }
out:
    free(cp);
    free(word.p);
    return rc;
}
