/* clock.c - the program's clocks, its ISO 8601 writer and reader, and its
 * backoff (see clock.h). */
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t clock_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_mono_ms(void) { return clock_mono_us() / 1000; }

int64_t clock_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_iso(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static int digits(const char **p, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        *v = *v * 10 + (**p - '0');
    }
    return 0;
}

int clock_parse_iso(const char *s, int64_t *ms)
{
    struct tm tm = { 0 }, back;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, oh = 0, om = 0, sign = 1, i, rc = -EINVAL;
    time_t t;

    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' || digits(&s, 2, &d))
        goto out;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi))
            goto out;
        if (*s == ':' && (s++, digits(&s, 2, &sec)))
            goto out;
        if (*s == '.') {
            for (s++, i = 0; *s >= '0' && *s <= '9'; s++, i++)
                if (i < 3)
                    frac = frac * 10 + (*s - '0');
            if (i == 0)
                goto out;
            for (; i < 3; i++)
                frac *= 10;
        }
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (digits(&s, 2, &oh))
            goto out;
        if (*s == ':')
            s++;
        if (digits(&s, 2, &om) || oh > 23 || om > 59)
            goto out;
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        goto out;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (!gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1)
        goto out;                 /* 2026-02-30 */
    *ms = (int64_t)t * 1000 + frac - sign * (int64_t)(oh * 60 + om) * 60000;
    rc = 0;
out:
    return rc;
}

int64_t clock_backoff_ms(int attempt, int base_ms, int max_ms, int jitter_pct, uint64_t r)
{
    int64_t d = base_ms;
    int i;

    for (i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    return d - (int64_t)(r % (uint64_t)(d * jitter_pct / 100 + 1));
}
