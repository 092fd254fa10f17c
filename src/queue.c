/* queue.c - group commit for the submit path. Many request threads, one
 * committer thread, one SQLite connection: each transaction carries every
 * submission that waited while the previous one committed, so a busy pool
 * makes few large commits instead of many small ones, and processes rarely
 * contend for SQLite's write lock. Each submission has its own SAVEPOINT so
 * that one bad submission does not fail its neighbours. Request threads do
 * not wait for the commit: the committer answers each submission through
 * its done callback, so a request costs no thread hand-off back.
 *
 * The committers and schedulers of all worker processes take turns
 * (db_turn_take) before BEGIN IMMEDIATE: the kernel wakes the next one the
 * moment the turn is free, where SQLite's busy handler would poll in
 * sleeps, and while one commits the others' groups grow.
 *
 * DEADLINE. INVARIANT: a submission answered with an error is never
 * committed afterwards, and every submission is answered before nginx's
 * fastcgi_read_timeout. Each submission has a deadline, db.busy_timeout_ms
 * after queue_post. The committer waits for the turn only until the
 * earliest deadline in its queue (db_deadline); submissions are taken off
 * the queue into a group only once the turn is held, so a submission whose
 * deadline passes while the turn is held elsewhere is still in the queue:
 * the committer takes it out (expire) and answers -EBUSY, and nothing can
 * commit it any more. A group, once taken, commits within the remaining
 * time or fails whole (SQLite's busy handler on this connection ends at
 * the same deadline). So every submission is answered within
 * db.busy_timeout_ms plus one commit, and quickstart and the test harness
 * set nginx's fastcgi_read_timeout to twice db.busy_timeout_ms plus 10 s
 * (at least 30 s): the answer, 202 or 503, is the one the client gets.
 *
 * Under load a committer commits at most once per db.commit_interval_us
 * (measured from the start of its previous commit): a commit writes every
 * page it touched (the table's last leaves, one leaf per index, the
 * header page), so a group of 2 rows writes about 4 pages per row and a
 * group of 20 well under one. A submit that finds the committer idle past
 * the interval commits at once, and EARLY_ROWS waiting rows cut the wait
 * short. */
#include "queue.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "wal.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One waiting submission; owned by the queue from queue_post until its
 * done callback has returned. rows and key are the poster's. */
struct sub {
    const row *rows;
    size_t n;
    const char *key;
    const char *hash;             /* the body's SHA-256, hex, with a key */
    queue_status *status;         /* n, after ids: the rows' status on a replay */
    queue_done_fn done;
    void *arg;
    int64_t deadline_us;          /* clock_mono_us: answered -EBUSY if not in a group by then */
    int replayed;
    int rc;
    char err[256];
    struct sub *next;
    int64_t ids[];                /* n of them */
};

struct queue {
    const conf *cf;
    db *d;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t work;          /* committer waits for submissions */
    struct sub *head, **tail;
    size_t queued;                /* rows in the list */
    int64_t last_commit_us;       /* monotonic: when the last group was taken;
                                   * INT64_MIN before the first */
    int stopping;
    queue_notify_fn notify;
    void *notify_arg;
    int wal_pages;                /* the WAL's length after our last commit */
};

#define MAX_ROWS_PER_TXN 4096
#define EARLY_ROWS 512            /* this many waiting rows commit without waiting */

static void store_one(queue *q, struct sub *s, const char *now)
{
    char hash[72];
    size_t found = 0;

    s->rc = db_exec(q->d, Q_SAVEPOINT);
    if (s->rc == 0 && s->key)
        s->rc = db_idem_lookup(q->d, s->key, s->ids, s->status, s->n, &found, hash, sizeof hash);
    if (s->rc == 0 && found > 0) {
        s->replayed = 1;
        if (found != s->n) {
            s->rc = -EEXIST;
            snprintf(s->err, sizeof s->err, "this Idempotency-Key was used for a submission of %zu rows, not %zu",
                     found, s->n);
        } else if (hash[0] && s->hash && strcmp(hash, s->hash)) {
            s->rc = -EEXIST;      /* rows stored before the hash was kept have none */
            snprintf(s->err, sizeof s->err, "this Idempotency-Key was used for a different body");
        }
    } else if (s->rc == 0) {
        s->rc = db_insert(q->d, s->rows, s->n, s->key, s->hash, q->cf->max_attempts, now, s->ids);
    }
    if (s->rc < 0 && !s->err[0])
        snprintf(s->err, sizeof s->err, "storing the rows: %s", db_errmsg(q->d));
    if (s->rc < 0 && s->rc != -EEXIST)
        db_exec(q->d, Q_ROLLBACK_TO);
    db_exec(q->d, Q_RELEASE);
}

/* Write one group: everything in list, in one transaction. The caller
 * holds the writers' turn. */
static int commit_group(queue *q, struct sub *list)
{
    char now[32];
    struct sub *s;
    int rc, added = 0;

    clock_iso(clock_wall_ms(), now, sizeof now);
    if ((rc = db_exec(q->d, Q_BEGIN)) < 0) {
        for (s = list; s; s = s->next) {
            s->rc = rc;
            snprintf(s->err, sizeof s->err, "the database is not writable: %s", db_errmsg(q->d));
        }
        goto out;
    }
    for (s = list; s; s = s->next) {
        store_one(q, s, now);
        if (s->rc == 0 && !s->replayed)
            added = 1;
    }
    if ((rc = db_exec(q->d, Q_COMMIT)) < 0) {
        for (s = list; s; s = s->next) {
            s->rc = rc;
            snprintf(s->err, sizeof s->err, "committing: %s", db_errmsg(q->d));
        }
        db_exec(q->d, Q_ROLLBACK);
        added = 0;
    }
out:
    return added;
}

/* Take up to MAX_ROWS_PER_TXN rows' worth of waiting submissions (at
 * least one) off the queue. Called with q->mu held. */
static struct sub *take_group(queue *q)
{
    struct sub *list = q->head, **cut;
    size_t rows = 0;

    for (cut = &q->head; *cut && (rows == 0 || rows + (*cut)->n <= MAX_ROWS_PER_TXN); cut = &(*cut)->next)
        rows += (*cut)->n;
    q->queued -= rows;
    q->head = *cut;
    *cut = NULL;
    if (!q->head)
        q->tail = &q->head;
    return list;
}

/* Under load, let the group grow until commit_interval_us after the start
 * of the previous commit (or EARLY_ROWS, or a stop). Called with q->mu
 * held; returns at once when the committer was idle that long. */
static void wait_interval(queue *q)
{
    int64_t until = q->last_commit_us + q->cf->commit_interval_us, now;
    struct timespec ts;

    while (!q->stopping && q->queued < EARLY_ROWS && (now = clock_mono_us()) < until) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)((until - now) / 1000000);
        ts.tv_nsec += (long)((until - now) % 1000000) * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&q->work, &q->mu, &ts);
    }
}

/* Take out of the queue every submission whose deadline is past (they
 * are at its head: deadlines grow in posting order) into *out. Called
 * with q->mu held. */
static void expire(queue *q, int64_t now, struct sub ***out)
{
    struct sub *s;

    while ((s = q->head) && s->deadline_us <= now) {
        q->head = s->next;
        q->queued -= s->n;
        s->next = NULL;
        s->rc = -EBUSY;
        snprintf(s->err, sizeof s->err, "the writers' turn was not free within db.busy_timeout_ms (%d ms)",
                 q->cf->busy_timeout_ms);
        **out = s;
        *out = &s->next;
    }
    if (!q->head)
        q->tail = &q->head;
}

/* Call each done callback of list and free it. No lock held. */
static void answer(struct sub *list)
{
    struct sub *s, *next;

    for (s = list; s; s = next) {
        next = s->next;
        s->done(s->arg, s->rc, s->ids, s->replayed, s->replayed ? s->status : NULL, s->err);
        free(s);
    }
}

static void *committer(void *arg)
{
    queue *q = arg;
    struct sub *list, *late, **late_tail;
    int added, rc;

    pthread_setname_np(pthread_self(), "rg-commit");
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->work, &q->mu);
        if (!q->head)
            break;
        wait_interval(q);
        /* Wait for the writers' turn first and take the group after: what
         * arrives while another process commits joins this group. The wait
         * ends at the oldest submission's deadline. */
        db_deadline(q->d, q->head->deadline_us);
        pthread_mutex_unlock(&q->mu);
        rc = db_turn_take(q->d);
        pthread_mutex_lock(&q->mu);
        late = NULL;
        late_tail = &late;
        expire(q, clock_mono_us(), &late_tail);
        list = NULL;
        if (rc != -EBUSY && q->head) {
            q->last_commit_us = clock_mono_us();
            list = take_group(q);
            db_deadline(q->d, list->deadline_us);   /* its oldest, not yet past */
        }
        pthread_mutex_unlock(&q->mu);

        answer(late);
        added = list ? commit_group(q, list) : 0;
        if (rc == 0)
            db_turn_give(q->d);
        db_deadline(q->d, 0);
        if (added && q->notify)
            q->notify(q->notify_arg, q->wal_pages);
        answer(list);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

queue *queue_new(const conf *cf, queue_notify_fn notify, void *arg, char *err, size_t errlen)
{
    queue *q = calloc(1, sizeof *q);
    pthread_condattr_t ca;

    if (!q) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    q->cf = cf;
    q->notify = notify;
    q->notify_arg = arg;
    q->tail = &q->head;
    /* No commit yet: the first group is never held back. The monotonic
     * clock starts near 0 at boot, so a 0 here would make the first
     * submission wait for the interval after boot. */
    q->last_commit_us = INT64_MIN;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->work, &ca);
    pthread_condattr_destroy(&ca);
    if (!(q->d = db_open(cf->db_path, cf->busy_timeout_ms, 0, err, errlen)))
        goto fail;
    /* No checkpoint on the submit path: a checkpoint copies the WAL into
     * the database and fsyncs, which would stall every request of the
     * group. The pool's one checkpointer does (wal.c), told the WAL's
     * length by notify: the watch only records it. */
    wal_watch(q->d, &q->wal_pages);
    if (pthread_create(&q->thread, NULL, committer, q) != 0) {
        snprintf(err, errlen, "cannot start the committer thread");
        goto fail;
    }
    q->started = 1;
    return q;
fail:
    queue_free(q);
    return NULL;
}

void queue_stop(queue *q)
{
    if (!q || !q->started)
        return;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    q->started = 0;
}

void queue_free(queue *q)
{
    if (!q)
        return;
    queue_stop(q);
    db_close(q->d);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->work);
    free(q);
}

int queue_post(queue *q, const row *rows, size_t n, const char *key, const char *hash,
               queue_done_fn done, void *arg)
{
    struct sub *s = calloc(1, sizeof *s + n * (sizeof s->ids[0] + sizeof(queue_status)));
    int rc = 0, wake = 0;

    if (!s) {
        rc = -ENOMEM;
        goto out;
    }
    s->rows = rows;
    s->n = n;
    s->key = key;
    s->hash = hash;
    s->status = (queue_status *)(s->ids + n);
    s->done = done;
    s->arg = arg;
    s->deadline_us = clock_mono_us() + (int64_t)q->cf->busy_timeout_ms * 1000;
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        rc = -ESHUTDOWN;
    } else {
        /* Wake the committer when it may be idle, or when the group is
         * large enough to cut its wait short; otherwise it has been told. */
        wake = !q->head || (q->queued < EARLY_ROWS && q->queued + n >= EARLY_ROWS);
        q->queued += n;
        *q->tail = s;
        q->tail = &s->next;
        s = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    if (rc == 0 && wake)
        pthread_cond_signal(&q->work);
out:
    free(s);
    return rc;
}
