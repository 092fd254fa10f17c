/* fuzz_otlp_json.c - libFuzzer target for the OTLP JSON trace decoder
 * (otlp_decode with OTLP_JSON; a first byte 'z' gzips the rest) and for trace
 * assembly on what it decodes; the checks are in fuzz_otlp_common.h. Also
 * compiled into t/unit/fuzz_replay.c (FUZZ_ENTRY renames it). */
#include "fuzz_otlp_common.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
int FUZZ_ENTRY(const uint8_t *data, size_t size);
#endif

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fuzz_otlp_run(data, size, OTLP_JSON);
    return 0;
}
