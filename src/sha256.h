/* sha256.h - SHA-256 of a byte string, raw or as lower-case hex. Pure
 * functions, thread-safe. */
#ifndef RAGRADE_SHA256_H
#define RAGRADE_SHA256_H

#include <stddef.h>

#define SHA256_LEN 32             /* bytes of a digest */
#define SHA256_HEX_LEN 64         /* its hex digits */

void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);

/* 64 lower-case hex digits and a NUL into out. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

#endif
