/* sched.c - the scheduler thread: the slow half of ragrade, kept out of the
 * request path by construction.
 *
 * DESIGN
 * Threads. Each worker process runs request threads (worker.c), one committer
 * thread (queue.c) and one scheduler thread (this file). Request threads
 * never touch the judge: they validate, hand rows to the committer and
 * answer. The scheduler thread owns the judge, its own SQLite connection
 * and everything slow: judge initialisation (loading metrics, probing an
 * LLM endpoint with retries), LLM calls, result writes. Nothing here holds
 * a lock that a request thread takes; the only shared state is an atomic
 * "notified" flag, the judge's wakeup (an eventfd or curl_multi_wakeup),
 * this worker's scoreboard slot and the pool's submit clock.
 *
 * Loop. The thread waits inside judge_run() (poll on the eventfd, or
 * curl_multi_poll) until woken by a local commit, by I/O, or by the
 * earliest timer: lease renewal, a retry whose not_before comes due, the
 * init retry, or an idle poll once a second that picks up rows queued by
 * other processes and reaps expired leases. An idle pool therefore wakes
 * once a second per worker and runs one indexed query; no busy polling.
 *
 * Leases. A claim is one BEGIN IMMEDIATE transaction: reap rows whose lease
 * expired (back to queued, or failed past max_attempts), count running
 * rows across the pool, then UPDATE ... RETURNING up to
 * min(judge.max_concurrency - running, free local capacity) queued rows,
 * setting status = running, lease_owner = this scheduler, lease_until =
 * now + judge.lease_ms, attempts + 1. SQLite's write lock makes the claim
 * atomic across processes, so no row runs twice at once, and the running
 * count bounds evaluations in flight across the whole pool. While rows run,
 * the lease is renewed every lease_ms / 3. Results are written only WHERE
 * lease_owner = us AND status = running: a late writer whose lease was
 * taken over writes nothing (-ESTALE). When a worker dies the master
 * requeues its rows at once by owner name (db_requeue_dead); the lease
 * expiry covers a hung or partitioned worker.
 *
 * Failures. A transient failure (-EAGAIN from the judge) puts the row back
 * with not_before = now + backoff (exponential, jittered, honouring a
 * Retry-After hint); past max_attempts the row fails with last_error. Any
 * other failure fails the row at once.
 *
 * Priority. The scheduler thread runs at SCHED_IDLE (judge.idle_priority):
 * under a flood of submits the request threads get the CPU, and evaluation
 * catches up when the flood ends. It switches to the ordinary policy for
 * every database write, so it is never starved while it holds SQLite's
 * write lock (which would stall the committers behind it). A claim also
 * writes the results of the previous batch in the same transaction, so the
 * scheduler takes the write lock once per batch, and the submit path's
 * committers (queue.c) rarely wait for it. And while any worker's
 * committer adds rows (a commit in the last FLOOD_MS, by the pool's submit
 * clock on the scoreboard), the scheduler holds its claims and result
 * writes back, claiming at most once a YIELD_MAX_MS: a claim with its
 * results holds the writers' turn for milliseconds, and every submit of
 * the pool would wait behind it. The clock is pool-wide because the turn
 * is: a worker that gets few submits must not claim in a loop while the
 * others' committers queue behind it. Evaluation goes on at
 * that pace through a flood and at full speed once it ends.
 *
 * Shutdown. sched_stop() stops claiming, lets evaluations in flight finish
 * for up to pool.graceful_timeout_ms, cancels the rest and puts every row
 * this scheduler still holds back to queued (attempt not counted). None
 * stays running forever: if the process is killed instead, the master or
 * the lease expiry requeues them.
 *
 * Checkpoints. The scheduler's loop calls wal_checkpoint on every pass;
 * the protocol (one checkpointer in the pool, the WAL restarted under the
 * writers' turn) and its invariant are in wal.c. */
#include "sched.h"
#include "clock.h"
#include "db.h"
#include "critstore.h"
#include "judge.h"
#include "log.h"
#include "wal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IDLE_POLL_MS 1000
#define MAX_BATCH 64
#define FLOOD_MS 20               /* a commit in the pool this recent: submits are flowing */
#define YIELD_MAX_MS 1000         /* but claim at least this often */
#define SCHED_JITTER_PCT 50        /* a retry waits half to all of its backoff */

/* A finished evaluation waiting to be written (deep copy of the result). */
struct done {
    judge_result res;
    int attempts, max_attempts;
    struct done *next;
};

/* A row in flight, for slow-evaluation lines. */
struct running {
    int64_t id;
    int64_t started_ms;
    int attempts, max_attempts;
};

struct sched {
    const conf *cf;
    board_slot *slot;
    db *d;
    judge *j;
    pthread_t thread;
    int started;
    int stop;                     /* atomic: sched_stop was called */
    int notified;                 /* atomic: new local rows */
    board *b;                     /* the pool's submit clock and WAL length */
    char owner[BOARD_OWNER_MAX];
    unsigned seed;
    struct done *done, **done_tail;
    struct running *run;          /* cf->max_concurrency slots */
    int nrun;
    int64_t init_retry_at;
    int init_failures;
    int last_state;
    wal *wal;                     /* the checkpoint protocol on d (wal.c) */
    int idle;                     /* 1: the thread runs at SCHED_IDLE just now */
    int turn;                     /* 1: we hold the writers' turn */
    crit_registry *reg;           /* the worker's criteria (borrowed); NULL: none */
    critstore *cs;                /* their table on d (owned); NULL: none */
};

const char *sched_owner(const sched *s) { return s->owner; }

int sched_set_criteria(sched *s, crit_registry *reg, char *err, size_t errlen)
{
    const crit_snapshot *snap;
    size_t i;
    int rc = 0;

    if (!(s->cs = critstore_new(s->d, err, errlen)))
        return -EIO;
    s->reg = reg;
    /* The file's criteria: their versions' definitions, for the scores. */
    snap = crit_registry_acquire(reg);
    for (i = 0; i < snap->n && rc == 0; i++)
        if (snap->v[i].from_config)
            rc = critstore_record_version(s->cs, &snap->v[i], err, errlen);
    crit_registry_release(reg, snap);
    if (rc < 0)
        return rc;
    judge_set_criteria(s->j, reg);
    return 0;
}

/* Exponential backoff with jitter for attempt n (1-based): between half and
 * all of min(base * 2^(n-1), max) milliseconds. */
static int backoff_ms(sched *s, int attempt)
{
    return (int)clock_backoff_ms(attempt, s->cf->backoff_base_ms, s->cf->backoff_max_ms,
                                 SCHED_JITTER_PCT, (uint64_t)rand_r(&s->seed));
}

/* The scheduler is background work: its thread runs at SCHED_IDLE (it
 * gets a CPU only when no request thread, nginx or other program wants
 * one), so it decides to claim and computes metrics only with CPU that
 * requests leave free. Every database write runs at the ordinary policy:
 * a thread starved while it holds SQLite's write lock would stall every
 * submit behind it. judge.idle_priority = no keeps the ordinary policy. */
static void background(sched *s, int on)
{
    struct sched_param sp;

    if (!s->cf->idle_priority || s->idle == on)
        return;
    memset(&sp, 0, sizeof sp);
    if (pthread_setschedparam(pthread_self(), on ? SCHED_IDLE : SCHED_OTHER, &sp) == 0)
        s->idle = on;
}

/* Around every write transaction: the ordinary policy, and the pool's
 * writers' turn (db_turn_take), taken like the committers take it. */
static void write_begin(sched *s)
{
    background(s, 0);
    s->turn = db_turn_take(s->d) == 0;
}

static void write_end(sched *s)
{
    if (s->turn)
        db_turn_give(s->d);
    s->turn = 0;
    background(s, 1);
}

/* wal_checkpoint's priority switch: checkpoints run at the ordinary policy. */
static void wal_prio(void *arg, int idle)
{
    background(arg, idle);
}

sched *sched_new(const conf *cf, board *b, board_slot *slot, char *err, size_t errlen)
{
    sched *s = calloc(1, sizeof *s);

    if (!s || !(s->run = calloc((size_t)cf->max_concurrency, sizeof *s->run))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->cf = cf;
    s->b = b;
    s->slot = slot;
    s->done_tail = &s->done;
    s->last_state = -1;
    s->seed = (unsigned)(clock_mono_us() ^ (getpid() << 16));
    snprintf(s->owner, sizeof s->owner, "w%d-%08x", (int)getpid(), (unsigned)rand_r(&s->seed));
    if (!(s->d = db_open(cf->db_path, cf->busy_timeout_ms, 0, err, errlen)))
        goto fail;
    if (!(s->j = judge_new(cf, s->d, err, errlen)))
        goto fail;
    if (!(s->wal = wal_new(s->d, cf->checkpoint_pages, b, slot, wal_prio, s))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (slot)
        snprintf(slot->owner, sizeof slot->owner, "%s", s->owner);
    return s;
fail:
    sched_free(s);
    return NULL;
}

/* judge_done_fn: keep a deep copy of the result for the next flush. */
static void on_done(void *arg, const judge_result *res)
{
    sched *s = arg;
    struct done *d = calloc(1, sizeof *d);
    size_t i;
    int k;

    if (!d)
        goto oom;
    for (k = 0; k < s->nrun; k++)
        if (s->run[k].id == res->id) {
            int64_t ms = clock_wall_ms() - s->run[k].started_ms;

            if (s->cf->slow_eval_ms && ms > s->cf->slow_eval_ms)
                log_warn("eval %lld: slow evaluation, %lld ms (judge %s)", (long long)res->id,
                         (long long)ms, judge_name(s->j));
            d->attempts = s->run[k].attempts;
            d->max_attempts = s->run[k].max_attempts;
            s->run[k] = s->run[--s->nrun];
            break;
        }
    d->res = *res;
    d->res.scores = NULL;
    d->res.n_scores = 0;
    if (res->n_scores && !(d->res.scores = calloc(res->n_scores, sizeof *res->scores)))
        goto oom;
    for (i = 0; i < res->n_scores; i++) {
        d->res.scores[i] = res->scores[i];
        d->res.scores[i].reason = res->scores[i].reason ? strdup(res->scores[i].reason) : NULL;
        d->res.n_scores++;
    }
    *s->done_tail = d;
    s->done_tail = &d->next;
    return;
oom:
    /* Not written: the lease expires and the row runs again. */
    log_error("eval %lld: out of memory keeping its result", (long long)res->id);
    if (d)
        free(d->res.scores);
    free(d);
}

static void free_done(struct done *d)
{
    size_t i;

    for (i = 0; i < d->res.n_scores; i++)
        free(d->res.scores[i].reason);
    free(d->res.scores);
    free(d);
}

/* Write one result inside the flush transaction. */
static int write_one(sched *s, struct done *d, const char *now)
{
    judge_result *r = &d->res;
    char msg[640];
    int rc, wait;

    if (r->status == 0) {
        if ((rc = db_finish(s->d, s->owner, r, judge_name(s->j), now)) == 0 && s->slot)
            board_inc(&s->slot->c.evaluated);
        log_debug("eval %lld: done, %zu scores", (long long)r->id, r->n_scores);
    } else if (r->status == -EAGAIN && d->attempts < d->max_attempts) {
        wait = backoff_ms(s, d->attempts);
        if (r->retry_after_ms > wait)
            wait = r->retry_after_ms;
        snprintf(msg, sizeof msg, "attempt %d of %d: %s; retry in %d ms", d->attempts,
                 d->max_attempts, r->error, wait);
        if ((rc = db_retry(s->d, s->owner, r->id, clock_wall_ms() + wait, msg, now)) == 0 && s->slot)
            board_inc(&s->slot->c.retried);
        log_info("eval %lld: %s", (long long)r->id, msg);
    } else {
        if (r->status == -EAGAIN)
            snprintf(msg, sizeof msg, "gave up after %d attempts: %s", d->attempts, r->error);
        else
            snprintf(msg, sizeof msg, "%s", r->error);
        if ((rc = db_fail(s->d, s->owner, r->id, msg, now)) == 0 && s->slot)
            board_inc(&s->slot->c.failed);
        log_warn("eval %lld: failed: %s", (long long)r->id, msg);
    }
    return rc;
}

static void drop_done(sched *s)
{
    struct done *d, *next;

    for (d = s->done; d; d = next) {
        next = d->next;
        free_done(d);
    }
    s->done = NULL;
    s->done_tail = &s->done;
}

/* Write every finished evaluation; the caller holds a write transaction. */
static void write_done(void *arg)
{
    sched *s = arg;
    struct done *d;
    char now[32];
    int rc;

    clock_iso(clock_wall_ms(), now, sizeof now);
    for (d = s->done; d; d = d->next) {
        if (d->res.status != -ECANCELED) {  /* cancelled: db_release_owner puts it back */
            rc = write_one(s, d, now);
            if (rc == -ESTALE)
                log_warn("eval %lld: lease lost before the result was written; result dropped",
                         (long long)d->res.id);
            else if (rc < 0)
                log_error("eval %lld: writing the result: %s", (long long)d->res.id, db_errmsg(s->d));
        }
    }
    drop_done(s);
}

/* Write every finished evaluation in a transaction of its own. If it
 * cannot commit, the rows' leases expire and they run again. */
static void flush(sched *s)
{
    if (!s->done)
        return;
    write_begin(s);
    if (db_exec(s->d, Q_BEGIN) < 0) {
        log_error("scheduler: cannot write results (%s); their leases will expire and they run again",
                  db_errmsg(s->d));
        drop_done(s);
        goto out;
    }
    write_done(s);
    if (db_exec(s->d, Q_COMMIT) < 0) {
        log_error("scheduler: commit of results failed: %s", db_errmsg(s->d));
        db_exec(s->d, Q_ROLLBACK);
    }
out:
    write_end(s);
}

/* Mirror the judge's state into the scoreboard and the log on change. */
static int publish_state(sched *s)
{
    char err[256];
    int state = judge_state(s->j, err, sizeof err);

    if (state != s->last_state) {
        if (s->slot)
            board_set_judge(s->slot, state, err);
        if (state == JUDGE_FAILED)
            log_warn("judge %s: initialisation failed: %s", judge_name(s->j), err);
        else if (state == JUDGE_READY)
            log_info("judge %s: ready", judge_name(s->j));
        else if (state == JUDGE_INITIALIZING)
            log_info("judge %s: initialising", judge_name(s->j));
        if (state == JUDGE_FAILED) {
            s->init_failures++;
            s->init_retry_at = clock_wall_ms() + backoff_ms(s, s->init_failures);
        } else if (state == JUDGE_READY) {
            s->init_failures = 0;
        }
        s->last_state = state;
    }
    return state;
}

/* Initialise the judge on first need: when rows wait. */
static void maybe_init(sched *s, int state, int notified, int64_t now)
{
    int need;

    if (state == JUDGE_UNINITIALIZED || (state == JUDGE_FAILED && now >= s->init_retry_at)) {
        need = notified || db_has_queued(s->d) > 0;
        if (need && judge_start_init(s->j) < 0)
            log_debug("judge %s: start_init failed at once", judge_name(s->j));
    }
}

/* Claim what capacity allows and hand it to the judge. Returns how many
 * rows were claimed, or a negative code. */
static int claim(sched *s, int64_t now)
{
    db_claimed rows[MAX_BATCH];
    char err[256];
    size_t n = 0, i;
    int cap, rc;

    cap = s->cf->max_concurrency - judge_inflight(s->j);
    if (cap > MAX_BATCH)
        cap = MAX_BATCH;
    if (cap <= 0)
        return 0;
    /* A criterion put or deleted by any worker is seen before the rows
     * that name it are claimed. */
    if (s->cs && critstore_refresh(s->cs, s->reg, NULL, err, sizeof err) < 0)
        log_warn("criteria: %s", err);
    write_begin(s);
    rc = db_claim(s->d, s->owner, now, s->cf->lease_ms, cap, s->cf->max_concurrency, rows, &n,
                  err, sizeof err, s->done ? write_done : NULL, s);
    write_end(s);
    if (rc < 0) {
        log_warn("scheduler: %s", err);
        return rc;
    }
    for (i = 0; i < n; i++) {
        struct running *r = &s->run[s->nrun++];

        r->id = rows[i].r.id;
        r->started_ms = now;
        r->attempts = rows[i].attempts;
        r->max_attempts = rows[i].max_attempts;
        log_debug("eval %lld: claimed, attempt %d", (long long)r->id, r->attempts);
        if ((rc = judge_submit(s->j, &rows[i].r, on_done, s)) < 0) {
            judge_result res;

            memset(&res, 0, sizeof res);
            res.id = rows[i].r.id;
            res.status = -EAGAIN;
            snprintf(res.error, sizeof res.error, "the judge refused the row (%s)", strerror(-rc));
            on_done(s, &res);
        }
        row_clear(&rows[i].r);
    }
    return (int)n;
}

static int64_t min64(int64_t a, int64_t b) { return a && (!b || a < b) ? a : b; }

/* The loop's timers, in clock_wall_ms() milliseconds; 0: not armed. */
struct timers {
    int64_t next_poll;            /* the idle poll */
    int64_t renew_at;             /* lease renewal, while rows run */
    int64_t drain_until;          /* the end of the graceful drain */
    int64_t yield_until;          /* the end of a hold-back for submits */
};

/* How long the loop may sleep in judge_run: until the earliest armed
 * timer (also the judge's init retry and the next row whose not_before
 * comes due), at most IDLE_POLL_MS, 0 if one is due already. */
static int next_wakeup_ms(sched *s, const struct timers *t, int64_t now)
{
    int64_t wake = t->next_poll;

    wake = min64(wake, t->renew_at);
    if (s->last_state == JUDGE_FAILED)
        wake = min64(wake, s->init_retry_at);
    wake = min64(wake, t->drain_until);
    wake = min64(wake, db_next_due(s->d));
    wake = min64(wake, t->yield_until);
    if (wake <= now)
        return 0;
    return wake - now > IDLE_POLL_MS ? IDLE_POLL_MS : (int)(wake - now);
}

static void *loop(void *arg)
{
    sched *s = arg;
    int64_t now, next_poll = 0, renew_at = 0, drain_until = 0, claimed_at = 0, yield_until = 0;
    struct timers timers;
    int state, notified, more = 0, n, timeout, want = 0, yield;

    pthread_setname_np(pthread_self(), "rg-sched");
    background(s, 1);
    for (;;) {
        now = clock_wall_ms();
        yield = 0;                 /* never carried into a stop: the drain must not spin */
        notified = __atomic_exchange_n(&s->notified, 0, __ATOMIC_ACQ_REL);
        if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
            if (!drain_until)
                drain_until = now + s->cf->graceful_timeout_ms;
            if (judge_inflight(s->j) == 0 || now >= drain_until)
                break;
        } else {
            state = publish_state(s);
            maybe_init(s, state, notified, now);
            state = publish_state(s);
            want |= notified || more || s->done || now >= next_poll;
            /* Submits first: while any worker commits submits, hold the
             * next claim (and the write of results) back, up to
             * YIELD_MAX_MS since the last claim. */
            yield_until = min64(board_last_submit(s->b) + FLOOD_MS,
                                claimed_at + YIELD_MAX_MS);
            yield = state == JUDGE_READY && want && now < yield_until;
            if (state == JUDGE_READY && want && !yield) {
                n = claim(s, now);
                more = n > 0 && judge_inflight(s->j) < s->cf->max_concurrency;
                next_poll = now + IDLE_POLL_MS;
                claimed_at = now;
                want = 0;
            } else if (state != JUDGE_READY && now >= next_poll) {
                next_poll = now + IDLE_POLL_MS;
            }
        }
        if (!more && !yield)       /* otherwise the next claim writes them */
            flush(s);
        wal_checkpoint(s->wal, now);
        if (s->slot)
            board_store(&s->slot->inflight, judge_inflight(s->j));
        if (judge_inflight(s->j) > 0 && now >= renew_at) {
            write_begin(s);
            if (db_renew(s->d, s->owner, now + s->cf->lease_ms) < 0)
                log_warn("scheduler: lease renewal failed: %s", db_errmsg(s->d));
            write_end(s);
            renew_at = now + s->cf->lease_ms / 3;
        }
        timers.next_poll = next_poll;
        timers.renew_at = judge_inflight(s->j) > 0 ? renew_at : 0;
        timers.drain_until = drain_until;
        timers.yield_until = yield ? yield_until : 0;
        timeout = more && !yield ? 0 : next_wakeup_ms(s, &timers, now);
        if (judge_run(s->j, timeout) < 0)
            log_warn("scheduler: judge_run failed");
    }
    judge_cancel_all(s->j);
    flush(s);
    write_begin(s);
    {
        char now_iso[32];

        clock_iso(clock_wall_ms(), now_iso, sizeof now_iso);
        if (db_release_owner(s->d, s->owner, now_iso) < 0)
            log_error("scheduler: could not requeue the rows in hand: %s", db_errmsg(s->d));
    }
    write_end(s);
    return NULL;
}

int sched_start(sched *s, char *err, size_t errlen)
{
    if (pthread_create(&s->thread, NULL, loop, s) != 0) {
        snprintf(err, errlen, "cannot start the scheduler thread");
        return -EAGAIN;
    }
    s->started = 1;
    return 0;
}

void sched_notify(sched *s, int wal_pages)
{
    board_note_wal(s->b, wal_pages);      /* for the checkpointer, whichever worker it is */
    board_note_submit(s->b, clock_wall_ms());
    __atomic_store_n(&s->notified, 1, __ATOMIC_RELEASE);
    judge_wakeup(s->j);
}

void sched_stop(sched *s)
{
    if (!s || !s->started)
        return;
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    judge_wakeup(s->j);
    pthread_join(s->thread, NULL);
    s->started = 0;
}

void sched_free(sched *s)
{
    if (!s)
        return;
    sched_stop(s);
    judge_free(s->j);
    critstore_free(s->cs);
    wal_free(s->wal);
    db_close(s->d);
    free(s->run);
    free(s);
}
