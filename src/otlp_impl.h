/* otlp_impl.h - what otlp.c (protobuf, gzip, responses) shares with
 * otlp_json.c (the JSON decoder): the span checks and caps. Not for other
 * modules: they use otlp.h. */
#ifndef RAGRADE_OTLP_IMPL_H
#define RAGRADE_OTLP_IMPL_H

#include <stddef.h>

#include "otlp.h"

#define JSON_DEPTH 24           /* OTLP JSON nests 12 deep with an array value */
#define ARRAY_ITEMS_MAX 1024    /* scalars kept from one array attribute */

/* msg into err (if any). */
void otlp_say(char *err, size_t errlen, const char *msg);
/* Refuse one span: count it in b, keep the first reason. */
void otlp_refuse(otlp_batch *b, const char *why);
char *otlp_dupn(const char *s, size_t n);
/* Append key = value to a under lim's caps: 0, -E2BIG (reason in *why),
 * -ENOMEM. A repeated key keeps its first value. */
int otlp_kv_add(otlp_attrs *a, const char *key, size_t klen, const char *val, size_t vlen,
                const otlp_limits *lim, const char **why);
/* n hex digits (2 * want) into out, lowercased: 0, or -EINVAL (wrong
 * length, not hex, all zero). */
int otlp_id_hex(char *out, const char *s, size_t n, size_t want);
otlp_batch *otlp_batch_new(size_t n_resources);
void otlp_span_clear(otlp_span *s);
/* The JSON decoder (body already gunzip'd and within max_body). */
int otlp_json_decode(const char *p, size_t len, const otlp_limits *lim, otlp_batch **out,
                     char *err, size_t errlen);

#endif
