/* clock.h - time for the whole program: one monotonic clock (durations,
 * deadlines, timers), one wall clock (timestamps stored and shown), the
 * ISO 8601 text they are written in and read back from, and the one
 * exponential backoff with jitter that retries use. No state. */
#ifndef RAGRADE_CLOCK_H
#define RAGRADE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds, and the same clock in milliseconds. Its
 * zero is the boot (or the time namespace's), so 0 is a real reading. */
int64_t clock_mono_us(void);
int64_t clock_mono_ms(void);

/* CLOCK_REALTIME: Unix epoch milliseconds. */
int64_t clock_wall_ms(void);

/* Epoch ms as ISO 8601 UTC with milliseconds, "2026-01-02T03:04:05.678Z",
 * into buf (at least 25 bytes; 32 is customary). */
void clock_iso(int64_t ms, char *buf, size_t len);

/* Read ISO 8601: YYYY-MM-DD, optionally T (or a space) and HH:MM[:SS[.fff]],
 * then Z or +HH:MM / -HH:MM; UTC when no zone is given. *ms: Unix epoch
 * ms. 0 or -EINVAL (also for a day that does not exist, 2026-02-30). */
int clock_parse_iso(const char *s, int64_t *ms);

/* The wait before retry number attempt (1-based): d = min(base_ms *
 * 2^(attempt-1), max_ms), less a random share of d of up to jitter_pct
 * percent drawn from r (any random number), so between d * (100 -
 * jitter_pct) / 100 and d milliseconds. */
int64_t clock_backoff_ms(int attempt, int base_ms, int max_ms, int jitter_pct, uint64_t r);

#endif
