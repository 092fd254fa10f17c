/* fuzz_reply.c - libFuzzer target for what an LLM endpoint sends back:
 * llmwire_parse_chat() (both wire formats), then prompts_validate() of the
 * content and of the raw text against a schema kind, llmwire_parse_embed() and
 * llmwire_models_has(). Byte 0 picks the kind and format, byte 1 the expected
 * item count; the rest is the reply. Also compiled into
 * t/unit/fuzz_replay.c (FUZZ_ENTRY renames the entry point). */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmwire.h"
#include "prompts.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
int FUZZ_ENTRY(const uint8_t *data, size_t size);
#endif

static void fuzz_reply_validate(enum prompt_kind k, const char *text, long n_items)
{
    json_object *out = NULL;
    char err[256];

    memset(err, 0x55, sizeof err);
    if (prompts_validate(k, text, n_items, &out, err, sizeof err) == 0) {
        if (!out) {
            fprintf(stderr, "fuzz_reply: validated without an object\n");
            abort();
        }
        json_object_put(out);
    } else if (strnlen(err, sizeof err) == sizeof err || !err[0]) {
        fprintf(stderr, "fuzz_reply: error not filled\n");
        abort();
    }
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    enum prompt_kind k;
    long n_items;
    enum llmwire_api api;
    char *text, err[256];
    llmwire_chat chat;
    json_object *emb;

    if (size < 2)
        return 0;
    k = (enum prompt_kind)(data[0] % PROMPT_N);
    api = (data[0] >> 7) & 1 ? LLMWIRE_OLLAMA : LLMWIRE_OPENAI;
    n_items = (long)(data[1] % 8) - 1;
    text = malloc(size - 1);
    if (!text)
        return 0;
    memcpy(text, data + 2, size - 2);
    text[size - 2] = '\0';

    fuzz_reply_validate(k, text, n_items);
    memset(&chat, 0, sizeof chat);
    if (llmwire_parse_chat(api, text, &chat, err, sizeof err) == 0) {
        if (!chat.content) {
            fprintf(stderr, "fuzz_reply: chat without content\n");
            abort();
        }
        fuzz_reply_validate(k, chat.content, n_items);
    }
    llmwire_chat_clear(&chat);
    emb = llmwire_parse_embed(api, text, n_items > 0 ? (size_t)n_items : 1, err, sizeof err);
    json_object_put(emb);
    (void)llmwire_models_has(api, text, "judge-model");
    free(text);
    return 0;
}
