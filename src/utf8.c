/* utf8.c - checks, cuts and escapes of UTF-8 text from outside (see
 * utf8.h). One decoder, seq(), behind all of them. */
#include "utf8.h"

#include <stdio.h>
#include <string.h>

/* The length of the valid character at p (p < end), or 0 if the bytes
 * there do not start one. */
static size_t seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = *p, cp;
    size_t len, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if ((size_t)(end - p) < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;

    return utf8_prefix(s, n) == n && !memchr(p, 0, n);
}

size_t utf8_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t len;

    while (p < end && (len = seq(p, end)) > 0)
        p += len;
    return (size_t)(p - (const unsigned char *)s);
}

size_t utf8_trim(char *s)
{
    size_t n = utf8_prefix(s, strlen(s));

    s[n] = '\0';
    return n;
}

void utf8_copy(char *dst, size_t len, const char *src, size_t n)
{
    if (n > len - 1)
        n = len - 1;
    n = utf8_prefix(src, n);
    memmove(dst, src, n);
    dst[n] = '\0';
}

size_t utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;

    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

void utf8_escape(char *dst, size_t len, const char *src)
{
    const unsigned char *p = (const unsigned char *)src, *end = p + strlen(src);
    size_t o = 0, n;

    while (p < end) {
        if ((n = seq(p, end)) > 0) {
            if (o + n >= len)
                break;
            memcpy(dst + o, p, n);
        } else {
            if (o + 4 >= len)
                break;
            snprintf(dst + o, 5, "\\x%02X", *p);
            n = 1;
            o += 3;           /* and the 1 below */
        }
        o += n;
        p += n;
    }
    dst[o] = '\0';
}
