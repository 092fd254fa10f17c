/* turn.c - the mechanics of the writers' turn (turn.h); who takes it and
 * when is db.c's business (db.h).
 *
 * THE DEADLINE. A take waits in the kernel, in a blocking flock,
 * so that the turn still passes straight to a waiter the moment it is
 * given (db.h); a sleep-and-retry loop would add its step to every
 * contended commit and hand the turn to whoever polls first. To end the
 * wait at the deadline, the contended path arms a per-thread timer
 * (timer_create with SIGEV_THREAD_ID, a signal whose handler does nothing
 * and is installed without SA_RESTART): the signal interrupts the flock
 * with EINTR. The timer repeats every ALARM_REPEAT_US after the deadline,
 * in case its first signal came just before the flock began to block.
 * An uncontended take (LOCK_NB succeeds) costs no timer at all.
 *
 * THE LINE. A writer that gives the turn and takes it again at once (a
 * batch of `admin purge`) would win it again before the woken waiter
 * runs: flock is not fair, and the waiter could wait for many batches. So
 * a taker that finds the turn held stands in the line, an exclusive flock
 * on DB-write.line, and leaves it only once it holds the turn; and a bulk
 * writer (db_turn_line) always goes through the line, so it queues behind
 * whoever stands there: the turn alternates between its batches and the
 * waiters. The hot path (a committer finding the turn free) stays one
 * LOCK_NB flock: the line costs only those who wait anyway. */
#include "turn.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define ALARM_REPEAT_US 2000

/* Owned by the thread of its connection. */
struct turn {
    char lock_path[4096];         /* DB-write.lock */
    char line_path[4096];         /* DB-write.line */
    int turn_fd;                  /* -1 until the first take */
    int line_fd;                  /* -1 until the first wait */
    timer_t alarm;                /* wakes this thread's blocked take at its deadline */
    pid_t alarm_tid;              /* the thread alarm signals; 0: no alarm yet */
};



static int alarm_signal(void)
{
    return SIGRTMIN + 4;
}

static void on_alarm(int sig)
{
    (void)sig;                    /* only interrupts the flock */
}

/* The process's one disposition of the alarm signal, set once. */
static void alarm_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;              /* no SA_RESTART: the flock returns EINTR */
    sigaction(alarm_signal(), &sa, NULL);
}

/* Arm (until_us > 0) or disarm (0) d's alarm for the calling thread,
 * creating it for this thread first. 0 or a negative errno. */
static int alarm_set(turn *d, int64_t until_us)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct itimerspec its;
    struct sigevent ev;
    sigset_t set;
    pid_t tid = gettid();

    if (until_us && d->alarm_tid != tid) {
        pthread_once(&once, alarm_install);
        if (d->alarm_tid)
            timer_delete(d->alarm);
        d->alarm_tid = 0;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = alarm_signal();
        ev._sigev_un._tid = tid;
        if (timer_create(CLOCK_MONOTONIC, &ev, &d->alarm) < 0)
            return -errno;
        d->alarm_tid = tid;
        sigemptyset(&set);        /* a pool thread may block signals */
        sigaddset(&set, alarm_signal());
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    }
    if (!d->alarm_tid)
        return 0;
    memset(&its, 0, sizeof its);
    if (until_us) {
        its.it_value.tv_sec = (time_t)(until_us / 1000000);
        its.it_value.tv_nsec = (long)(until_us % 1000000) * 1000;
        its.it_interval.tv_nsec = ALARM_REPEAT_US * 1000L;
    }
    return timer_settime(d->alarm, TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

/* An exclusive flock on fd by until_us (the monotonic clock): 0, -EBUSY when the
 * deadline passed first, or another negative errno. */
static int lock_until(turn *d, int fd, int64_t until_us)
{
    struct timespec ts = { 0, 200000 };
    int rc = 0, alarm;

    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        goto out;
    if (errno != EWOULDBLOCK) {
        rc = -errno;
        goto out;
    }
    /* Without a timer (timer_create failed), poll: a cold path. */
    alarm = alarm_set(d, until_us) == 0;
    while (flock(fd, alarm ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
        if (errno != EINTR && errno != EWOULDBLOCK) {
            rc = -errno;
            break;
        }
        if (clock_mono_us() >= until_us) {
            rc = -EBUSY;
            break;
        }
        if (!alarm)
            nanosleep(&ts, NULL);
    }
    if (alarm)
        alarm_set(d, 0);
out:
    return rc;
}

turn *turn_new(const char *db_file)
{
    turn *t = calloc(1, sizeof *t);

    if (!t)
        goto out;
    t->turn_fd = -1;
    t->line_fd = -1;
    if (snprintf(t->lock_path, sizeof t->lock_path, "%s-write.lock", db_file) >= (int)sizeof t->lock_path ||
        snprintf(t->line_path, sizeof t->line_path, "%s-write.line", db_file) >= (int)sizeof t->line_path) {
        free(t);
        t = NULL;
    }
out:
    return t;
}

void turn_free(turn *t)
{
    if (!t)
        return;
    if (t->turn_fd >= 0)
        close(t->turn_fd);
    if (t->line_fd >= 0)
        close(t->line_fd);
    if (t->alarm_tid)
        timer_delete(t->alarm);
    free(t);
}

/* Open a lock file once. */
static int open_once(int *fd, const char *path)
{
    if (*fd < 0 && (*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0)
        return -errno;
    return 0;
}

int turn_take(turn *t, int timeout_ms, int64_t deadline_us, int line)
{
    int64_t until_us;
    int rc;

    if ((rc = open_once(&t->turn_fd, t->lock_path)) < 0)
        goto out;
    if (!line && flock(t->turn_fd, LOCK_EX | LOCK_NB) == 0)
        goto out;                 /* the hot path: no clock, no timer */
    until_us = clock_mono_us() + (int64_t)timeout_ms * 1000;
    if (deadline_us && deadline_us < until_us)
        until_us = deadline_us;
    /* The line is a courtesy: without its file, wait for the turn anyway. */
    line = open_once(&t->line_fd, t->line_path) == 0;
    if (line && (rc = lock_until(t, t->line_fd, until_us)) < 0)
        goto out;
    rc = lock_until(t, t->turn_fd, until_us);
    if (line)
        flock(t->line_fd, LOCK_UN);
out:
    return rc;
}

void turn_give(turn *t)
{
    flock(t->turn_fd, LOCK_UN);
}
