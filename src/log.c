/* log.c - one line per event on stderr (journald adds the time when run
 * under systemd; we add it too for plain files). Lines are written with one
 * write(2) so that lines from threads and processes never interleave. */
#include "log.h"
#include "clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_INFO;
static const char *const names[] = { "debug", "info", "warn", "error" };

void log_set_level(int level) { log_level = level; }
int log_get_level(void) { return log_level; }

int log_parse_level(const char *s)
{
    int i, rc = -1;

    for (i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0)
            rc = i;
    if (rc < 0 && strcasecmp(s, "warning") == 0)
        rc = LOG_WARN;
    return rc;
}

void log_msg(int level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int n;

    if (level < log_level)
        return;
    clock_iso(clock_wall_ms(), line, 32);
    n = (int)strlen(line);
    n += snprintf(line + n, sizeof line - (size_t)n, " %s [%d] ", names[level & 3], (int)getpid());
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}
