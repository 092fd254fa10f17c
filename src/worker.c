/* worker.c - one worker process of the pool (master.c forks it): its
 * request threads, its epoll set of FastCGI connections, its committer
 * (queue.c) and scheduler (sched.c), and its drain on SIGTERM.
 *
 * DESIGN
 * Threads. A worker runs pool.threads request threads, each with its own
 * SQLite connection for reads; one committer thread (queue.c) that writes
 * submissions in groups and answers them once committed, so a request
 * thread hands a submit over and is free at once; and one scheduler
 * thread (sched.c) that does every slow thing. Of the request threads,
 * pool.active_threads hold a turn (a semaphore) and take requests. Submits
 * are CPU work and run fastest on a few threads that do not take turns on
 * the CPU; a thread that starts anything but a POST (a read that may be
 * long) gives its turn to a spare thread first and waits for one again
 * when it is done, so long reads never hold up submits. The worker's main
 * thread waits for SIGTERM; every thread blocks every signal. No signal
 * ever interrupts a request thread: a stop is an eventfd.
 *
 * Connections. nginx keeps its FastCGI connections (fastcgi_keep_conn, an
 * upstream keepalive pool), which saves a connect, an accept and two
 * closes per request. No thread is pinned to a connection: the worker has
 * one epoll set holding the listening socket, the stop eventfd and every
 * connection it accepted, each connection EPOLLONESHOT. A free thread
 * takes whichever is readable: on the listening socket it accepts (non-
 * blocking: the threads of all workers race for it) and adds the new
 * connection to the set; on a connection, libfcgi reads the request and
 * the thread serves it (or hands it to the committer). Whoever ends the
 * request re-arms the connection if nginx asked to keep it
 * (FCGI_KEEP_CONN), else closes it. Idle connections cost an fd and
 * nothing else, so they can never starve requests, and the listen backlog
 * (pool.backlog) queues new connections while every thread is busy. The
 * pool never closes a kept connection first, except when a drain runs out
 * of time (below): nginx may already have written a request on it, and it
 * would answer that POST 502 rather than retry it elsewhere. nginx closes
 * them (keepalive_time, keepalive_timeout: 1 s in conf/nginx.conf); the
 * pool sees the end of input and closes its side.
 *
 * Drain (SIGTERM from the master, on a stop or a reload). On a stop the
 * master has removed the socket file first (board_closing): the worker
 * accepts what already waits in the backlog, so nginx's requests in
 * flight are served, not reset. The worker then takes the listening
 * socket out of its epoll set (no new connections), goes on
 * serving requests on the connections nginx holds until nginx has closed
 * every one, then wakes its threads (the stop eventfd) and they exit. If
 * nginx still holds connections DRAIN_GRACE_MS before
 * pool.graceful_timeout_ms, the threads exit anyway and the log says so.
 * The worker then commits and answers the submits handed to its
 * committer, stops its scheduler (evaluations in flight finish or go back
 * to the queue) and exits. A thread still inside a request at the
 * deadline (a client that stalls mid-body) is not waited for: the worker
 * stops the committer (a submit it posts later is answered 503
 * shutting_down) but frees nothing that thread may still use, and exits.
 * The master SIGKILLs a worker that outlives the timeout.
 *
 * The master's death (kill -9) reaches the worker as SIGTERM
 * (PR_SET_PDEATHSIG): it removes the socket file if it is still the
 * pool's, drains as on a stop, so every submit it has committed is
 * answered, and says the master is gone. */
#include "config.h"
#include "clock.h"
#include "worker.h"
#include "api.h"
#include "auth.h"
#include "board.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "queue.h"
#include "sched.h"

#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* At the drain's deadline less this, the threads exit even if nginx still
 * holds connections, so that the worker ends before the master kills it. */
#define DRAIN_GRACE_MS 1000

struct worker;

/* A request thread. started is the main thread's; exited is the thread's,
 * under worker.mu: set as its last act, so the main thread may join it. */
struct rthread {
    struct worker *w;
    pthread_t tid;
    int started;
    int exited;
};

/* The worker process's state, on worker_main's stack until _exit: shared
 * by its request threads and its committer (conn_done). It owns sched, q,
 * auth, threads and the fds; cf and slot are the master's (inherited). */
struct worker {
    conf *cf;
    int listen_fd;
    board_slot *slot;
    api_ctx api;
    sched *sched;
    queue *q;
    auth *auth;
    struct rthread *threads;
    int nthreads;
    int ep;                       /* epoll: listening socket, stop eventfd, connections */
    sem_t turns;                  /* pool.active_threads: turns to take requests */
    int stop_fd;                  /* eventfd: written when the threads must exit */
    int draining;                 /* atomic: stopping; no new connections */
    pthread_mutex_t mu;           /* guards alive and each rthread.exited */
    pthread_cond_t exited;
    int alive;                    /* request threads started and not exited */
    crit_registry *reg;           /* the criteria: the file's, then the database's (owned) */
};


static void notify_sched(void *arg, int wal_pages) { sched_notify(arg, wal_pages); }

/* Let every thread exit: the stop eventfd wakes those in epoll_wait, and
 * a turn for each wakes those waiting for one. */
static void wake_all(struct worker *w)
{
    uint64_t one = 1;
    int i;

    if (write(w->stop_fd, &one, sizeof one) < 0)
        log_warn("stop: eventfd: %s", strerror(errno));
    for (i = 0; i < w->nthreads; i++)
        sem_post(&w->turns);
}

/* A connection was closed: once a draining worker has none left, its
 * threads may exit. The count of open connections is the scoreboard's
 * (slot->conns), changed here and in next_request. */
static void conn_closed(struct worker *w)
{
    if (__atomic_sub_fetch(&w->slot->conns, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&w->draining, __ATOMIC_SEQ_CST))
        wake_all(w);
}

/* Watch a connection for its next request: one thread gets it, and the
 * connection is not watched again until that thread (or the committer)
 * hands it back here (EPOLLONESHOT). */
static void conn_watch(struct worker *w, int fd, int op)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.fd = fd;
    if (epoll_ctl(w->ep, op, fd, &ev) < 0) {
        log_warn("epoll_ctl: %s; closing a connection from nginx", strerror(errno));
        close(fd);
        conn_closed(w);
    }
}

/* After a request: keep its connection for nginx's next one (fd >= 0), or
 * count it closed (-1, http_finish closed it). Also the committer's
 * api_ctx.conn_done. */
static void conn_done(void *arg, int fd)
{
    struct worker *w = arg;

    if (fd >= 0)
        conn_watch(w, fd, EPOLL_CTL_MOD);
    else
        conn_closed(w);
}

/* Wait for a connection with something to read (a request, or its end:
 * nginx closes an idle connection past keepalive_timeout or
 * keepalive_time) and return its fd, or -1 when the thread must exit. New
 * connections are accepted here and watched like the others. */
static int next_request(struct worker *w)
{
    struct epoll_event ev;
    int fd = -1, n;

    for (;;) {
        n = epoll_wait(w->ep, &ev, 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_warn("epoll_wait: %s", strerror(errno));
            break;
        }
        if (ev.data.fd == w->stop_fd)
            break;
        if (ev.data.fd == w->listen_fd) {
            /* Non-blocking: another thread or process may take it first. */
            if ((fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                __atomic_add_fetch(&w->slot->conns, 1, __ATOMIC_SEQ_CST);
                board_inc(&w->slot->c.connections);
                conn_watch(w, fd, EPOLL_CTL_ADD);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
                log_warn("accept: %s", strerror(errno));
            }
            fd = -1;
            continue;
        }
        fd = ev.data.fd;
        break;
    }
    return fd;
}

/* Serves one accepted request; returns 1 if api_handle deferred it (no longer ours). */
static int serve_request(struct worker *w, db *rd, critstore *cs, FCGX_Request *req, int *turn)
{
    const char *method;
    int active, deferred;

    /* Anything but a POST may read for long: give the turn to a
     * spare thread first, so that submits keep being served. */
    method = FCGX_GetParam("REQUEST_METHOD", req->envp);
    if (!method || strcmp(method, "POST") != 0) {
        sem_post(&w->turns);
        *turn = 0;
    }
    active = (int)board_inc(&w->slot->active);
    if (active >= w->nthreads)
        board_inc(&w->slot->c.saturated);
    /* Counted when taken, before the answer: a scrape counts
     * itself, and a client that saw an answer sees it counted. */
    board_inc(&w->slot->c.accepted);
    /* api_handle counts routes, statuses and slow requests. A
     * submit goes to the committer with its request, which answers
     * it after the commit: this thread is free for the next one at
     * once. */
    deferred = api_handle(&w->api, rd, cs, req) == API_DEFERRED;
    if (!deferred)
        conn_done(w, http_finish(req));
    board_dec(&w->slot->active);
    return deferred;
}

static void *request_thread(void *arg)
{
    struct rthread *t = arg;
    struct worker *w = t->w;
    FCGX_Request *req = NULL;     /* ours until api_handle defers it */
    char err[256];
    critstore *cs = NULL;
    db *rd;
    int rc, fd, turn = 0;

    if (!(rd = db_open(w->cf->db_path, w->cf->busy_timeout_ms, 0, err, sizeof err))) {
        log_error("request thread: %s", err);
        goto out;
    }
    if (!(cs = critstore_new(rd, err, sizeof err))) {
        log_error("request thread: %s", err);
        db_close(rd);
        goto out;
    }
    for (;;) {
        if (!req) {
            if (!(req = malloc(sizeof *req))) {
                log_error("request thread: out of memory");
                break;
            }
            /* No listening socket: libfcgi must never accept by itself. */
            FCGX_InitRequest(req, -1, 0);
        }
        /* Only a thread holding a turn waits for requests. */
        while (!turn && sem_wait(&w->turns) < 0 && errno == EINTR)
            ;
        turn = 1;
        if ((fd = next_request(w)) < 0)
            break;                        /* stopping */
        /* libfcgi reads the request from our connection: with ipcFd set
         * and keepConnection on, FCGX_Accept_r neither closes it nor
         * accepts another; it then sets keepConnection from nginx's
         * FCGI_KEEP_CONN flag. */
        req->ipcFd = fd;
        req->keepConnection = 1;
        rc = FCGX_Accept_r(req);
        if (rc < 0) {
            /* No request: nginx closed the connection (so it is always
             * nginx that closes first, and a connection it has just
             * picked for a request is never closed under it), or sent
             * something that is not FastCGI. libfcgi has closed it. */
            log_debug("a FastCGI connection ended without a request");
            conn_closed(w);
            req->ipcFd = -1;
        } else if (serve_request(w, rd, cs, req, &turn)) {
            req = NULL;                   /* deferred to the committer */
        }
    }
    if (req) {
        FCGX_Free(req, 0);
        free(req);
    }
    critstore_free(cs);
    db_close(rd);
out:
    pthread_mutex_lock(&w->mu);
    t->exited = 1;
    w->alive--;
    pthread_cond_signal(&w->exited);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Accept every connection waiting in the backlog and watch it like the
 * others; once the socket file is gone, none can come after. */
static void take_backlog(struct worker *w)
{
    int fd, n = 0;

    while ((fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0 || errno == EINTR) {
        if (fd < 0)
            continue;
        __atomic_add_fetch(&w->slot->conns, 1, __ATOMIC_SEQ_CST);
        board_inc(&w->slot->c.connections);
        conn_watch(w, fd, EPOLL_CTL_ADD);
        n++;
    }
    if (n)
        log_info("stop: serving %d connections nginx made before the socket was removed", n);
}

/* The master died: remove the socket file if it is still ours (so that
 * nginx's new connections fail at once instead of waiting in a backlog
 * that will be reset), and drain as on a stop. */
static void master_gone(struct worker *w, board *b)
{
    struct stat st;

    log_warn("the master is gone: draining, answering what was committed");
    if (stat(w->cf->socket, &st) == 0 && board_is_socket(b, st.st_dev, st.st_ino))
        unlink(w->cf->socket);
    board_set_closing(b);
}

/* Drain: stop taking connections, serve requests on the ones nginx holds
 * until nginx has closed them all (its keepalive_time and
 * keepalive_timeout bound that), then let the threads exit; or, at the
 * deadline, exit anyway. Returns once every thread has exited, or at the
 * deadline. */
static void stop_threads(struct worker *w, board *b, int64_t deadline)
{
    struct timespec ts;
    int forced = 0;

    if (board_closing(b))
        take_backlog(w);
    if (epoll_ctl(w->ep, EPOLL_CTL_DEL, w->listen_fd, NULL) < 0)
        log_warn("stop: epoll_ctl: %s", strerror(errno));
    __atomic_store_n(&w->draining, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&w->slot->conns, __ATOMIC_SEQ_CST) == 0)
        wake_all(w);
    pthread_mutex_lock(&w->mu);
    while (w->alive > 0 && clock_mono_ms() < deadline) {
        if (!forced && clock_mono_ms() >= deadline - DRAIN_GRACE_MS) {
            /* nginx kept connections open longer than we can wait */
            log_warn("stop: nginx still holds %d connections; closing them",
                     __atomic_load_n(&w->slot->conns, __ATOMIC_SEQ_CST));
            wake_all(w);
            forced = 1;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&w->exited, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
}

/* The worker's epoll instance: the listening socket and the stop eventfd
 * (both level-triggered) and, later, every connection (one-shot). */
static int worker_epoll(struct worker *w)
{
    struct epoll_event ev;
    int rc = -1;

    if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        goto out;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = w->listen_fd;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->listen_fd, &ev) < 0)
        goto out;
    ev.data.fd = w->stop_fd;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->stop_fd, &ev) < 0)
        goto out;
    rc = 0;
out:
    return rc;
}

/* The registry of the criteria in the file at path (checked by the master
 * at start). NULL after logging why. */
static crit_registry *criteria_from(const char *path)
{
    criterion *v = NULL;
    crit_registry *r;
    char err[300];
    size_t n = 0;

    if (crit_load_config(path, &v, &n, err, sizeof err) < 0) {
        log_error("worker: %s", err);
        return NULL;
    }
    if (!(r = crit_registry_new(v, n)))
        log_error("worker: out of memory");
    return r;
}

/* Everything but the request threads: the epoll set, the scheduler, the
 * committer, the tokens, the criteria. On failure logs and returns -1; worker_free
 * frees what was made. */
static int worker_init(struct worker *w, conf *cf, const char *config_path, int listen_fd,
                       board *b, board_slot *slot)
{
    char err[256];
    int rc = -1;

    w->cf = cf;
    w->listen_fd = listen_fd;
    w->slot = slot;
    w->nthreads = cf->threads;
    sem_init(&w->turns, 0, (unsigned)(cf->active_threads < cf->threads ? cf->active_threads : cf->threads));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->exited, NULL);
    /* Non-blocking: the threads of several processes accept from the one
     * listening socket, and the loser of a race must not block. */
    if ((w->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0 ||
        fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK) < 0 || worker_epoll(w) < 0) {
        log_error("worker: %s", strerror(errno));
        goto out;
    }
    if (!(w->reg = criteria_from(config_path)))
        goto out;
    if (!(w->sched = sched_new(cf, b, slot, err, sizeof err)) ||
        sched_set_criteria(w->sched, w->reg, err, sizeof err) < 0 ||
        !(w->q = queue_new(cf, notify_sched, w->sched, err, sizeof err)) ||
        sched_start(w->sched, err, sizeof err) < 0 || !(w->auth = auth_new(cf, err, sizeof err))) {
        log_error("worker: %s", err);
        goto out;
    }
    w->api.cf = cf;
    w->api.q = w->q;
    w->api.slot = slot;
    w->api.b = b;
    w->api.auth = w->auth;
    w->api.reg = w->reg;
    w->api.conn_done = conn_done;
    w->api.conn_arg = w;
    if (!(w->threads = calloc((size_t)cf->threads, sizeof *w->threads))) {
        log_error("worker: out of memory");
        goto out;
    }
    rc = 0;
out:
    return rc;
}

static void start_threads(struct worker *w)
{
    int i;

    FCGX_Init();
    for (i = 0; i < w->nthreads; i++) {
        w->threads[i].w = w;
        pthread_mutex_lock(&w->mu);
        w->alive++;
        pthread_mutex_unlock(&w->mu);
        if (pthread_create(&w->threads[i].tid, NULL, request_thread, &w->threads[i]) != 0) {
            log_error("worker: cannot start request thread %d", i);
            pthread_mutex_lock(&w->mu);
            w->alive--;
            pthread_mutex_unlock(&w->mu);
            break;
        }
        w->threads[i].started = 1;
    }
}

/* Join the request threads that have exited; returns how many have not
 * (still inside a request after a drain that ran out of time). */
static int join_threads(struct worker *w)
{
    int i, exited, running = 0;

    for (i = 0; i < w->nthreads; i++) {
        if (!w->threads[i].started)
            continue;
        pthread_mutex_lock(&w->mu);
        exited = w->threads[i].exited;
        pthread_mutex_unlock(&w->mu);
        if (exited)
            pthread_join(w->threads[i].tid, NULL);
        else
            running++;
    }
    return running;
}

/* Commit and answer what the committer holds, stop the scheduler, and
 * free, unless request threads still run: they may call queue_post and
 * read the tokens, so the queue is only stopped (a late submit gets
 * -ESHUTDOWN) and nothing they use is freed; the process ends anyway. */
static void worker_free(struct worker *w, int running)
{
    if (running) {
        log_warn("stop: %d request threads are still inside a request; exiting without them", running);
        queue_stop(w->q);
        sched_free(w->sched);
        return;
    }
    queue_free(w->q);             /* commits what waits */
    sched_free(w->sched);         /* drains, requeues the rest */
    crit_registry_free(w->reg);
    auth_free(w->auth);
    free(w->threads);
}

void worker_main(conf *cf, const char *config_path, int listen_fd, board *b, int idx, pid_t master)
{
    board_slot *slot = board_slot_at(b, idx);
    struct worker w;
    sigset_t set;
    int sig, running = 0, code = 1;

    memset(&w, 0, sizeof w);
    w.ep = w.stop_fd = -1;
    /* Keep freed memory: by default malloc hands the top of each thread's
     * heap back to the kernel (madvise) after nearly every request, and the
     * next request faults it back in. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)      /* the master died before prctl */
        _exit(1);
    board_store(&slot->pid, getpid());
    slot->started_ms = clock_wall_ms();
    board_store(&slot->threads, cf->threads);
    if (worker_init(&w, cf, config_path, listen_fd, b, slot) < 0)
        goto out;
    start_threads(&w);
    log_info("worker ready: %d request threads, scheduler %s", cf->threads, sched_owner(w.sched));
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    do
        sig = sigwaitinfo(&set, NULL);
    while (sig < 0 && errno == EINTR);
    if (getppid() != master)
        master_gone(&w, b);
    log_info("worker stopping (%s)", strsignal(sig));
    stop_threads(&w, b, clock_mono_ms() + cf->graceful_timeout_ms);
    running = join_threads(&w);
    code = 0;
out:
    worker_free(&w, running);
    log_info("worker stopped");
    _exit(code);
}
