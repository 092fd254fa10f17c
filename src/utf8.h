/* utf8.h - UTF-8 for text that comes from outside: check it, cut it at
 * character boundaries, and escape bytes that are not UTF-8, so that every
 * answer is valid UTF-8 whatever a request held. */
#ifndef RAGRADE_UTF8_H
#define RAGRADE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 if s[0..n) is valid UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF) without NUL; 0 otherwise. */
int utf8_valid(const char *s, size_t n);
/* The length of the longest prefix of s[0..n) that is valid UTF-8 and
 * ends on a character boundary (NUL counts as a character). */
size_t utf8_prefix(const char *s, size_t n);
/* Cut the NUL-terminated s at its first byte that does not continue valid
 * UTF-8 (a character snprintf cut in half); its new length. */
size_t utf8_trim(char *s);
/* Copy at most len - 1 bytes of src[0..n) to dst (len > 0), never half a
 * character, and NUL-terminate. src must be valid UTF-8. */
void utf8_copy(char *dst, size_t len, const char *src, size_t n);
/* Encode code point cp (< 0x110000) into out (4 bytes); its length. */
size_t utf8_put(uint32_t cp, char *out);
/* Copy the NUL-terminated src to dst (len > 0): valid characters as they
 * are, every other byte as the four characters \xNN; cut, if it must be,
 * between characters and escapes. */
void utf8_escape(char *dst, size_t len, const char *src);

#endif
