/* fuzz_replay.c - runs the fuzz targets' entry points (t/fuzz/fuzz_*.c)
 * without libFuzzer, on files and directories given on the command line:
 * the seed corpus and every crash the fuzzers found, kept as regressions.
 * Built by make check (with the sanitizers when configured so) and run by
 * t/fuzz_regress.py. Usage: fuzz_replay TARGET FILE|DIR... ; prints TAP, one
 * line per file; a crash aborts, which the driver reports. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FUZZ_ENTRY fuzz_row_one
int FUZZ_ENTRY(const uint8_t *data, size_t size);
#include "../fuzz/fuzz_row.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_reply_one
int FUZZ_ENTRY(const uint8_t *data, size_t size);
#include "../fuzz/fuzz_reply.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_conf_one
int FUZZ_ENTRY(const uint8_t *data, size_t size);
#include "../fuzz/fuzz_conf.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_otlp_pb_one
int FUZZ_ENTRY(const uint8_t *data, size_t size);
#include "../fuzz/fuzz_otlp_pb.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_otlp_json_one
int FUZZ_ENTRY(const uint8_t *data, size_t size);
#include "../fuzz/fuzz_otlp_json.c"
#undef FUZZ_ENTRY

typedef int (*entry_fn)(const uint8_t *data, size_t size);

static int n_tests;

/* Feed one file to fn; 0, or -1 if it cannot be read. */
static int replay_file(entry_fn fn, const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;
    int rc = -1;

    if (!f)
        goto out;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = malloc(len ? (size_t)len : 1);    /* exactly len bytes, as libFuzzer gives */
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
        goto out;
    fprintf(stderr, "# %s\n", path);
    fn(buf, (size_t)len);
    rc = 0;
out:
    printf("%s %d - %s\n", rc == 0 ? "ok" : "not ok", ++n_tests, path);
    fflush(stdout);
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every regular file in a directory (sorted, not recursive). */
static int replay_path(entry_fn fn, const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    char **names = NULL, **tmp;
    size_t n = 0, i;
    int rc = 0;

    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return replay_file(fn, path);
    d = opendir(path);
    if (!d)
        return replay_file(fn, path);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        tmp = realloc(names, (n + 1) * sizeof *names);
        if (!tmp) {
            rc = -1;
            break;
        }
        names = tmp;
        if (asprintf(&names[n], "%s/%s", path, de->d_name) < 0) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    for (i = 0; i < n; i++) {
        if (replay_file(fn, names[i]) < 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    entry_fn fn;
    int i, rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_replay row|reply|conf|otlp_pb|otlp_json FILE|DIR...\n");
        return 2;
    }
    if (!strcmp(argv[1], "row"))
        fn = fuzz_row_one;
    else if (!strcmp(argv[1], "reply"))
        fn = fuzz_reply_one;
    else if (!strcmp(argv[1], "conf"))
        fn = fuzz_conf_one;
    else if (!strcmp(argv[1], "otlp_pb"))
        fn = fuzz_otlp_pb_one;
    else if (!strcmp(argv[1], "otlp_json"))
        fn = fuzz_otlp_json_one;
    else {
        fprintf(stderr, "fuzz_replay: unknown target %s\n", argv[1]);
        return 2;
    }
    for (i = 2; i < argc; i++)
        if (replay_path(fn, argv[i]) < 0)
            rc = 1;
    printf("1..%d\n", n_tests);
    return rc;
}
