/* jstrict.h - the parts of RFC 8259 that json-c does not enforce, checked
 * on the raw text of a request body before it is parsed. */
#ifndef RAGRADE_JSTRICT_H
#define RAGRADE_JSTRICT_H

#include <stddef.h>

#define JSTRICT_FIELD 64

/* Check text[0..len), which must be valid UTF-8: a name given twice in a
 * row object (the top-level object, or one in a top-level array), a raw
 * control character in a string, an unpaired surrogate escape, or
 * "\u0000" in any name is -EINVAL, with field (the path of the value or
 * name, "[2].contexts[1]", cut at a character boundary) and msg filled.
 * 0 otherwise, syntax errors included (json-c reports those). Bounded:
 * one pass, depth at most 64, at most 32 names remembered per object. */
int jstrict_check(const char *text, size_t len, char *field, size_t fieldlen, char *msg, size_t msglen);

#endif
