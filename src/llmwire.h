/* llmwire.h - the two wire formats the LLM judges speak: the shapes of the
 * requests and replies of an OpenAI-compatible endpoint and of Ollama's
 * own API (chat, embeddings, the model list). No I/O: llm.c carries the
 * bodies built here, llmjudge.c decides what to ask. */
#ifndef RAGRADE_LLMWIRE_H
#define RAGRADE_LLMWIRE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Which API an endpoint speaks (judge.backend). */
enum llmwire_api {
    LLMWIRE_OPENAI = 0,           /* /v1/chat/completions, /v1/embeddings, /v1/models */
    LLMWIRE_OLLAMA = 1,           /* /api/chat, /api/embed, /api/tags */
};

/* The API named by a judge.backend value, or -1 for a backend that is no
 * LLM ("builtin") or unknown. */
int llmwire_api_of(const char *backend);

/* Paths of the chat, embedding and model-list endpoints, appended to a
 * base URL by llm.c. */
const char *llmwire_path_chat(enum llmwire_api api);
const char *llmwire_path_embed(enum llmwire_api api);
const char *llmwire_path_models(enum llmwire_api api);

/* What a chat call asks for; everything is borrowed. New generation
 * settings become new fields here, with zero meaning "as before", so that
 * a caller that zero-initialises the struct keeps today's body. */
typedef struct llmwire_chat_req {
    const char *model;
    json_object *messages;        /* [{role, content}, ...]: the conversation */
    const char *schema_name;      /* OpenAI's json_schema.name */
    json_object *schema;          /* the JSON schema the reply must fit */
    double temperature;
    int seed;
} llmwire_chat_req;

/* The body of a chat call as JSON text (malloc'd, the caller frees), or
 * NULL on out of memory. */
char *llmwire_chat_body(enum llmwire_api api, const llmwire_chat_req *r);

/* The body of an embedding call for the strings in input (borrowed). */
char *llmwire_embed_body(enum llmwire_api api, const char *model, json_object *input);

/* A chat reply's parts. content is malloc'd (the caller frees), "" when
 * the reply had none; truncated: finish_reason/done_reason "length";
 * refusal (malloc'd or NULL) the model's refusal. */
typedef struct llmwire_chat {
    char *content;
    char *refusal;
    int truncated;
    int64_t prompt_tokens, completion_tokens;
} llmwire_chat;

/* 0, or -EINVAL when the body is not a chat reply (err says why). */
int llmwire_parse_chat(enum llmwire_api api, const char *body, llmwire_chat *out, char *err,
                       size_t errlen);
void llmwire_chat_clear(llmwire_chat *c);

/* The n vectors of an embedding reply as a new JSON array of arrays of
 * finite numbers, all of one length; NULL with err filled otherwise. */
json_object *llmwire_parse_embed(enum llmwire_api api, const char *body, size_t n, char *err,
                                 size_t errlen);

/* 1 if the model list in body names model (Ollama's "NAME:latest" matches
 * "NAME"), 0 if not, -EINVAL if body is not a model list. */
int llmwire_models_has(enum llmwire_api api, const char *body, const char *model);

/* The endpoint's own message in an error reply ({"error": {"message":
 * ...}}, {"error": "..."} or {"message": ...}), else the body, cut to 300
 * bytes, into out. */
void llmwire_error_message(const char *body, char *out, size_t outlen);

#endif
