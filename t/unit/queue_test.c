/* queue_test.c - unit tests of the group commit (queue.c) on a real SQLite
 * file: every posted row is committed and answered, a burst that arrives
 * within db.commit_interval_us after a commit goes into one transaction,
 * EARLY_ROWS waiting rows cut the interval short, the first group of a
 * new queue is never held back, and a submission whose deadline passes
 * while another holds the writers' turn is answered -EBUSY and never
 * committed. make check runs this under t/fresh-boot (a monotonic clock
 * that reads 30 s, as on a machine fresh from boot), where a queue that
 * took "no commit yet" for a commit at 0 would wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "judge.h"
#include "queue.h"
#include "row.h"

/* What the committer reported, guarded by mu. */
struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int commits;                  /* notify calls: commits that added rows */
    int done;                     /* done callbacks */
    int failed;
    int no_wal;                   /* notify calls without a WAL length */
    int64_t first_id[8];          /* by submission */
    int rc[8];                    /* by submission */
};

#define SEEN_INIT { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER }

struct post {
    struct seen *s;
    int index;
};

static char dir[64];

static void on_commit(void *arg, int wal_pages)
{
    struct seen *s = arg;

    pthread_mutex_lock(&s->mu);
    s->commits++;
    if (wal_pages <= 0)           /* each commit goes to the WAL */
        s->no_wal++;
    pthread_mutex_unlock(&s->mu);
}

static void on_done(void *arg, int rc, const int64_t *ids, int replayed, const queue_status *status,
                    const char *err)
{
    struct post *p = arg;
    struct seen *s = p->s;

    (void)replayed;
    (void)status;
    (void)err;
    pthread_mutex_lock(&s->mu);
    s->rc[p->index] = rc;
    if (rc == 0)
        s->first_id[p->index] = ids[0];
    else
        s->failed++;
    s->done++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Give the committer up to ms to report n done callbacks; returns how
 * many it reported. Used to let a committer that does not wait for the
 * interval show it: a correct one commits nothing in that time. */
static int done_within(struct seen *s, int n, int ms)
{
    struct timespec ts;
    int done;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&s->mu);
    while (s->done < n && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
        ;
    done = s->done;
    pthread_mutex_unlock(&s->mu);
    return done;
}

/* Wait until n done callbacks, at most 30 s (a failure, not a sleep). */
static void wait_done(struct seen *s, int n)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    pthread_mutex_lock(&s->mu);
    while (s->done < n && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
        ;
    assert_int_equal(s->done, n);
    pthread_mutex_unlock(&s->mu);
}

static row *rows_of(const conf *cf, size_t n)
{
    char one[] = "{\"question\":\"q\",\"answer\":\"a\",\"contexts\":[\"c\"]}";
    size_t len = n * (sizeof one + 1) + 3, i, off = 0;
    char *body = malloc(len);
    row *rows = NULL;
    row_error e;
    size_t got = 0;
    int batch;

    assert_non_null(body);
    body[off++] = '[';
    for (i = 0; i < n; i++)
        off += (size_t)snprintf(body + off, len - off, "%s%s", i ? "," : "", one);
    body[off++] = ']';
    assert_int_equal(row_parse_body(body, off, cf, judge_metric_known, &rows, &got, &batch, &e), 0);
    assert_int_equal(got, n);
    free(body);
    return rows;
}

static void setup_conf(conf *cf, int interval_us)
{
    unsetenv("RAGRADE_DATA");
    conf_defaults(cf);
    snprintf(dir, sizeof dir, "/tmp/ragrade-queue-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cf->db_path, sizeof cf->db_path, "%s/ragrade.db", dir);
    cf->commit_interval_us = interval_us;
}

static void cleanup(void)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* One submission commits at once (the committer was idle); the next three,
 * posted within the interval after it, share one transaction. */
static void test_burst_is_one_commit(void **state)
{
    struct seen s = SEEN_INIT;
    struct post p[4];
    char err[256];
    conf cf;
    queue *q;
    row *r[4];
    int i;

    (void)state;
    setup_conf(&cf, 3000000);     /* 3 s: the burst below lands well within it */
    assert_non_null(q = queue_new(&cf, on_commit, &s, err, sizeof err));
    for (i = 0; i < 4; i++) {
        r[i] = rows_of(&cf, 1);
        p[i].s = &s;
        p[i].index = i;
    }
    assert_int_equal(queue_post(q, r[0], 1, NULL, NULL, on_done, &p[0]), 0);
    wait_done(&s, 1);
    /* Between the posts, give a committer that does not wait the time to
     * commit each one alone. */
    for (i = 1; i < 4; i++) {
        assert_int_equal(queue_post(q, r[i], 1, NULL, NULL, on_done, &p[i]), 0);
        assert_int_equal(done_within(&s, i + 1, 100), 1);
    }
    wait_done(&s, 4);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.commits, 2);
    assert_int_equal(s.no_wal, 0);
    for (i = 1; i < 4; i++)
        assert_int_equal(s.first_id[i], s.first_id[0] + i);   /* in posting order */
    queue_free(q);
    for (i = 0; i < 4; i++)
        row_free_array(r[i], 1);
    cleanup();
}

/* A queue whose interval (ten minutes, past what conf allows) is far
 * longer than any test's timeout, and which has just committed one row,
 * posted as p[0]: the next submission has the whole interval to wait.
 * That first commit may not wait for the interval: wait_done fails after
 * 30 s, long before ten minutes. */
static queue *after_first_commit(conf *cf, struct seen *s, struct post *p, row **one)
{
    char err[256];
    queue *q;

    setup_conf(cf, 600 * 1000000);
    assert_non_null(q = queue_new(cf, on_commit, s, err, sizeof err));
    *one = rows_of(cf, 1);
    assert_int_equal(queue_post(q, *one, 1, NULL, NULL, on_done, &p[0]), 0);
    wait_done(s, 1);
    return q;
}

/* With the interval far out, 512 waiting rows must commit without waiting
 * for it. */
static void test_large_group_commits_early(void **state)
{
    struct seen s = SEEN_INIT;
    struct post p[2] = { { &s, 0 }, { &s, 1 } };
    conf cf;
    queue *q;
    row *one, *many;

    (void)state;
    q = after_first_commit(&cf, &s, p, &one);
    many = rows_of(&cf, 512);
    assert_int_equal(queue_post(q, many, 512, NULL, NULL, on_done, &p[1]), 0);
    wait_done(&s, 2);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.commits, 2);
    queue_free(q);
    row_free_array(one, 1);
    row_free_array(many, 512);
    cleanup();
}

/* A stop does not wait for the interval: what waits is committed and
 * answered before queue_free returns. */
static void test_stop_commits_what_waits(void **state)
{
    struct seen s = SEEN_INIT;
    struct post p[2] = { { &s, 0 }, { &s, 1 } };
    conf cf;
    queue *q;
    row *a, *b;

    (void)state;
    q = after_first_commit(&cf, &s, p, &a);
    b = rows_of(&cf, 2);
    assert_int_equal(queue_post(q, b, 2, NULL, NULL, on_done, &p[1]), 0);
    queue_free(q);                /* must not wait ten minutes */
    assert_int_equal(s.done, 2);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.first_id[1], s.first_id[0] + 1);
    row_free_array(a, 1);
    row_free_array(b, 2);
    cleanup();
}

/* The writers' turn held elsewhere (as a stopped process would hold it):
 * the submissions waiting for it are answered -EBUSY once their deadline
 * (db.busy_timeout_ms) passes, and once the turn is free again nothing of
 * theirs is committed: the next submission gets the database's first id. */
static void test_deadline_answers_busy_and_never_commits(void **state)
{
    struct seen s = SEEN_INIT;
    struct post p[3] = { { &s, 0 }, { &s, 1 }, { &s, 2 } };
    conf cf;
    char err[256], lock[sizeof cf.db_path + 16];
    queue *q;
    row *r[3];
    int i, fd;

    (void)state;
    setup_conf(&cf, 0);
    cf.busy_timeout_ms = 200;
    assert_non_null(q = queue_new(&cf, on_commit, &s, err, sizeof err));
    snprintf(lock, sizeof lock, "%s-write.lock", cf.db_path);
    assert_true((fd = open(lock, O_RDWR | O_CLOEXEC)) >= 0);    /* db_open made it */
    assert_int_equal(flock(fd, LOCK_EX), 0);
    for (i = 0; i < 3; i++) {
        r[i] = rows_of(&cf, 1);
        p[i].index = i;
    }
    assert_int_equal(queue_post(q, r[0], 1, NULL, NULL, on_done, &p[0]), 0);
    assert_int_equal(queue_post(q, r[1], 1, NULL, NULL, on_done, &p[1]), 0);
    wait_done(&s, 2);             /* before the fix: never, the take blocks */
    assert_int_equal(s.failed, 2);
    assert_int_equal(s.rc[0], -EBUSY);
    assert_int_equal(s.rc[1], -EBUSY);
    assert_int_equal(flock(fd, LOCK_UN), 0);
    assert_int_equal(queue_post(q, r[2], 1, NULL, NULL, on_done, &p[2]), 0);
    wait_done(&s, 3);
    assert_int_equal(s.rc[2], 0);
    assert_int_equal(s.first_id[2], 1);       /* the two answered -EBUSY were never stored */
    assert_int_equal(s.commits, 1);
    queue_free(q);
    close(fd);
    for (i = 0; i < 3; i++)
        row_free_array(r[i], 1);
    cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_is_one_commit),
        cmocka_unit_test(test_large_group_commits_early),
        cmocka_unit_test(test_stop_commits_what_waits),
        cmocka_unit_test(test_deadline_answers_busy_and_never_commits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
