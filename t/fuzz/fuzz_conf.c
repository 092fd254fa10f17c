/* fuzz_conf.c - libFuzzer target for the configuration file: the input is
 * written to a memfd and read with conf_load() from defaults, with no
 * RAGRADE_* variable in the environment. A loaded conf must be coherent:
 * strings terminated, at most CONF_MAX_URLS URLs, backoff_max >= base.
 * Also compiled into t/unit/fuzz_replay.c (FUZZ_ENTRY renames it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
int FUZZ_ENTRY(const uint8_t *data, size_t size);
#endif

extern char **environ;

static void fuzz_conf_fail(const char *what)
{
    fprintf(stderr, "fuzz_conf: %s\n", what);
    abort();
}

#define TERMINATED(s) (strnlen((s), sizeof (s)) < sizeof (s))

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static int once;
    conf cf;
    char path[64], err[256];
    int fd, i;

    if (!once) {
        char **e;
        once = 1;
        for (e = environ; *e;) {
            if (!strncmp(*e, "RAGRADE_", 8)) {
                char name[256];
                size_t n = strcspn(*e, "=");
                snprintf(name, sizeof name, "%.*s", (int)n, *e);
                unsetenv(name);
                e = environ;
                continue;
            }
            e++;
        }
    }
    fd = memfd_create("fuzz_conf", 0);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    conf_defaults(&cf);
    memset(err, 0x55, sizeof err);
    if (conf_load(&cf, path, err, sizeof err) == 0) {
        if (!TERMINATED(cf.data_dir) || !TERMINATED(cf.socket) || !TERMINATED(cf.db_path) ||
            !TERMINATED(cf.backend) || !TERMINATED(cf.model) || !TERMINATED(cf.embedding_model) ||
            !TERMINATED(cf.api_key_file) || !TERMINATED(cf.default_metrics))
            fuzz_conf_fail("a string is not terminated");
        if (cf.n_urls < 0 || cf.n_urls > CONF_MAX_URLS)
            fuzz_conf_fail("n_urls out of range");
        for (i = 0; i < cf.n_urls; i++)
            if (!TERMINATED(cf.urls[i]) || !cf.urls[i][0])
                fuzz_conf_fail("a URL is empty or not terminated");
        if (cf.backoff_max_ms < cf.backoff_base_ms)
            fuzz_conf_fail("backoff_max_ms < backoff_base_ms");
        if (cf.workers < 1)
            fuzz_conf_fail("workers < 1 after load");
    } else if (!TERMINATED(err) || !err[0]) {
        fuzz_conf_fail("error not filled");
    }
    close(fd);
    return 0;
}
