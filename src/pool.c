/* pool.c - the master and its workers.
 *
 * DESIGN
 * Processes. The master opens the FastCGI listening socket (or takes fd 0
 * from spawn-fcgi), migrates the database, maps the scoreboard (board.c)
 * and forks pool.workers workers. It then only waits for signals
 * (sigtimedwait on a blocked set): it never serves a request and never
 * opens the database except to requeue the rows of a worker that died.
 *
 * Worker threads. A worker runs pool.threads request threads, each with its
 * own SQLite connection for reads; one committer thread (queue.c) that
 * writes submissions in groups and answers them once committed, so a
 * request thread hands a submit over and is free at once; and one
 * scheduler thread (sched.c) that does every slow thing. Of the request
 * threads, pool.active_threads hold a turn (a semaphore) and take
 * requests. Submits are CPU work and run fastest on a few threads that do
 * not take turns on the CPU; a thread that starts anything but a POST (a
 * read that may be long) gives its turn to a spare thread first and waits
 * for one again when it is done, so long reads never hold up submits. The
 * worker's main thread waits for SIGTERM; every thread blocks every
 * signal. No signal ever interrupts a request thread: a stop is an
 * eventfd.
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
 * Crashes. SIGCHLD: the master logs how the worker died (exit code or
 * signal), puts the rows it held back in the queue at once (by the lease
 * owner name the worker wrote in its scoreboard slot; a row that has used
 * every attempt fails instead, so a row that kills workers cannot kill the
 * pool forever), and forks a replacement, at most one per 100 ms per slot
 * when workers die at once after start. Workers ask the kernel for SIGTERM
 * when the master dies (PR_SET_PDEATHSIG), so none outlives it.
 *
 * Graceful stop (SIGTERM, SIGINT). The master forwards SIGTERM to the
 * workers. A worker drains: it takes the listening socket out of its epoll
 * set (no new connections), goes on serving requests on the connections
 * nginx holds until nginx has closed every one, then wakes its threads
 * (the stop eventfd) and they exit. If nginx still holds connections
 * DRAIN_GRACE_MS before pool.graceful_timeout_ms, the threads exit anyway
 * and the log says so. The worker then commits and answers the submits
 * handed to its committer, stops its scheduler (evaluations in flight
 * finish or go back to the queue) and exits. After
 * pool.graceful_timeout_ms the master SIGKILLs what remains, requeues their
 * rows, removes the socket and exits.
 *
 * Reload (SIGHUP). The master reads the configuration again, forks a new
 * generation of workers, then stops the old one gracefully. The listening
 * socket never closes, so no request is refused: new connections wait in
 * the backlog until a thread of the new generation accepts them, and the
 * old one serves the requests nginx sends on its kept connections until
 * nginx closes them. */
#include "config.h"
#include "pool.h"
#include "api.h"
#include "auth.h"
#include "board.h"
#include "clock.h"
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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- worker */

enum { T_IDLE, T_BUSY, T_DONE };

/* At the drain's deadline less this, the threads exit even if nginx still
 * holds connections, so that the worker ends before the master kills it. */
#define DRAIN_GRACE_MS 1000

struct worker;

struct rthread {
    struct worker *w;
    pthread_t tid;
    int started;
    pthread_mutex_t mu;           /* guards state against the stopper's signal */
    int state;
};

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
    pthread_mutex_t mu;
    pthread_cond_t exited;
    int alive;
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

static void *request_thread(void *arg)
{
    struct rthread *t = arg;
    struct worker *w = t->w;
    FCGX_Request *req = NULL;     /* ours until api_handle defers it */
    char err[256];
    const char *method;
    db *rd;
    int rc, active, fd, turn = 0;

    if (!(rd = db_open(w->cf->db_path, w->cf->busy_timeout_ms, 0, err, sizeof err))) {
        log_error("request thread: %s", err);
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
        pthread_mutex_lock(&t->mu);
        t->state = T_BUSY;
        pthread_mutex_unlock(&t->mu);
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
        } else {
            /* Anything but a POST may read for long: give the turn to a
             * spare thread first, so that submits keep being served. */
            method = FCGX_GetParam("REQUEST_METHOD", req->envp);
            if (!method || strcmp(method, "POST") != 0) {
                sem_post(&w->turns);
                turn = 0;
            }
            active = (int)board_inc(&w->slot->active);
            if (active >= w->nthreads)
                board_inc(&w->slot->c.saturated);
            /* api_handle counts routes, statuses and slow requests. A
             * submit goes to the committer with its request, which answers
             * it after the commit: this thread is free for the next one at
             * once. */
            if (api_handle(&w->api, rd, req) == API_DEFERRED)
                req = NULL;
            else
                conn_done(w, http_finish(req));
            board_dec(&w->slot->active);
            board_inc(&w->slot->c.accepted);
        }
        pthread_mutex_lock(&t->mu);
        t->state = T_IDLE;
        pthread_mutex_unlock(&t->mu);
    }
    if (req) {
        FCGX_Free(req, 0);
        free(req);
    }
    db_close(rd);
out:
    pthread_mutex_lock(&t->mu);
    t->state = T_DONE;
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_lock(&w->mu);
    w->alive--;
    pthread_cond_signal(&w->exited);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Drain: stop taking connections, serve requests on the ones nginx holds
 * until nginx has closed them all (its keepalive_time and
 * keepalive_timeout bound that), then let the threads exit; or, at the
 * deadline, exit anyway. Returns once every thread has exited, or at the
 * deadline. */
static void stop_threads(struct worker *w, int64_t deadline)
{
    struct timespec ts;
    int forced = 0;

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

static void worker_main(conf *cf, int listen_fd, board *b, int idx)
{
    board_slot *slot = board_slot_at(b, idx);
    struct worker w;
    sigset_t set;
    char err[256];
    int i, sig, code = 1;
    int64_t deadline;

    memset(&w, 0, sizeof w);
    w.ep = -1;
    /* Keep freed memory: by default malloc hands the top of each thread's
     * heap back to the kernel (madvise) after nearly every request, and the
     * next request faults it back in. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)           /* the master died before prctl */
        _exit(1);
    board_store(&slot->pid, getpid());
    slot->started_ms = clock_wall_ms();
    board_store(&slot->threads, cf->threads);
    w.cf = cf;
    w.listen_fd = listen_fd;
    w.slot = slot;
    w.nthreads = cf->threads;
    sem_init(&w.turns, 0, (unsigned)(cf->active_threads < cf->threads ? cf->active_threads : cf->threads));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.exited, NULL);
    /* Non-blocking: the threads of several processes accept from the one
     * listening socket, and the loser of a race must not block. */
    if ((w.stop_fd = eventfd(0, EFD_CLOEXEC)) < 0 ||
        fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK) < 0 || worker_epoll(&w) < 0) {
        log_error("worker: %s", strerror(errno));
        goto out;
    }
    if (!(w.sched = sched_new(cf, b, slot, err, sizeof err)) ||
        !(w.q = queue_new(cf, notify_sched, w.sched, err, sizeof err)) ||
        sched_start(w.sched, err, sizeof err) < 0) {
        log_error("worker: %s", err);
        goto out;
    }
    w.api.cf = cf;
    w.api.q = w.q;
    w.api.slot = slot;
    w.api.b = b;
    if (!(w.auth = auth_new(cf, err, sizeof err))) {
        log_error("worker: %s", err);
        goto out;
    }
    w.api.auth = w.auth;
    w.api.conn_done = conn_done;
    w.api.conn_arg = &w;
    if (!(w.threads = calloc((size_t)cf->threads, sizeof *w.threads)))
        goto out;
    FCGX_Init();
    for (i = 0; i < cf->threads; i++) {
        w.threads[i].w = &w;
        pthread_mutex_init(&w.threads[i].mu, NULL);
        pthread_mutex_lock(&w.mu);
        w.alive++;
        pthread_mutex_unlock(&w.mu);
        if (pthread_create(&w.threads[i].tid, NULL, request_thread, &w.threads[i]) != 0) {
            log_error("worker: cannot start request thread %d", i);
            w.alive--;
            break;
        }
        w.threads[i].started = 1;
    }
    log_info("worker ready: %d request threads, scheduler %s", cf->threads, sched_owner(w.sched));
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    do
        sig = sigwaitinfo(&set, NULL);
    while (sig < 0 && errno == EINTR);
    deadline = clock_mono_ms() + cf->graceful_timeout_ms;
    log_info("worker stopping (%s)", strsignal(sig));
    stop_threads(&w, deadline);
    for (i = 0; i < cf->threads; i++)
        if (w.threads[i].started && w.threads[i].state == T_DONE)
            pthread_join(w.threads[i].tid, NULL);
    code = 0;
out:
    queue_free(w.q);              /* commits what waits */
    sched_free(w.sched);          /* drains, requeues the rest */
    auth_free(w.auth);
    log_info("worker stopped");
    _exit(code);
}

/* ---------------------------------------------------------------- master */

struct master {
    const char *config_path;
    conf *cf;
    conf *old_cf;                 /* the previous configuration, after a reload */
    int listen_fd;
    int own_socket;               /* 1: we made it and remove it */
    board *b;
    int nslots;
    int *generation;              /* per slot */
    int64_t *respawn_at;          /* per slot: not before (ms), after a fast death */
    int gen;
    int stopping;
};

/* fd 0 is a listening socket when spawn-fcgi started us. */
static int inherited_socket(void)
{
    int type = 0, listening = 0;
    socklen_t len = sizeof type;

    if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
        return 0;
    len = sizeof listening;
    return getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
}

static int open_socket(struct master *m, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    int fd = -1, rc = -1;
    mode_t old;

    if (inherited_socket()) {
        m->listen_fd = 0;
        log_info("using the listening socket on fd 0 (spawn-fcgi)");
        return 0;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(m->cf->socket) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "socket path %s is longer than %zu bytes", m->cf->socket, sizeof sa.sun_path - 1);
        goto out;
    }
    strcpy(sa.sun_path, m->cf->socket);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto out;
    }
    /* A socket file left by a killed master: remove it only if nobody
     * listens there, so that two pools never share one path. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        snprintf(err, errlen, "%s: another ragrade is listening there", m->cf->socket);
        goto out;
    }
    unlink(m->cf->socket);
    old = umask(0);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || chmod(m->cf->socket, 0666) < 0 || listen(fd, m->cf->backlog) < 0) {
        snprintf(err, errlen, "%s: %s", m->cf->socket, strerror(errno));
        rc = -1;
        goto out;
    }
    /* Workers inherit it across fork; exec is not used. */
    m->listen_fd = fd;
    m->own_socket = 1;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int spawn(struct master *m, int idx)
{
    board_slot *s = board_slot_at(m->b, idx);
    pid_t pid;

    memset(s, 0, sizeof *s);
    pid = fork();
    if (pid < 0) {
        log_error("fork: %s", strerror(errno));
        return -errno;
    }
    if (pid == 0)
        worker_main(m->cf, m->listen_fd, m->b, idx);   /* never returns */
    board_store(&s->pid, pid);
    m->generation[idx] = m->gen;
    return 0;
}

/* Spawn the current generation into free slots until it has cf->workers. */
static void fill(struct master *m)
{
    int i, have = 0;
    int64_t now = clock_mono_ms();

    for (i = 0; i < m->nslots; i++)
        if (board_load(&board_slot_at(m->b, i)->pid) && m->generation[i] == m->gen)
            have++;
    for (i = 0; i < m->nslots && have < m->cf->workers; i++)
        if (!board_load(&board_slot_at(m->b, i)->pid) && now >= m->respawn_at[i] && spawn(m, i) == 0)
            have++;
}

/* Requeue the rows of a dead worker, by its lease owner name. */
static void requeue(struct master *m, const char *owner, const char *how)
{
    char err[256];
    db *d;
    int n = 0;

    if (!owner[0])
        return;
    if (!(d = db_open(m->cf->db_path, m->cf->busy_timeout_ms, 0, err, sizeof err))) {
        log_error("cannot requeue the rows of %s: %s (their leases will expire)", owner, err);
        return;
    }
    if (db_requeue_dead(d, owner, how, &n) < 0)
        log_error("cannot requeue the rows of %s: %s (their leases will expire)", owner, db_errmsg(d));
    else if (n)
        log_warn("%d rows of %s put back in the queue", n, owner);
    db_close(d);
}

static void reap(struct master *m)
{
    char how[160], owner[BOARD_OWNER_MAX];
    int status, i;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < m->nslots; i++) {
            board_slot *s = board_slot_at(m->b, i);

            if (board_load(&s->pid) != pid)
                continue;
            if (WIFSIGNALED(status))
                snprintf(how, sizeof how, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
            else
                snprintf(how, sizeof how, "exit %d", WEXITSTATUS(status));
            snprintf(owner, sizeof owner, "%s", s->owner);
            if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0 || (!m->stopping && m->generation[i] == m->gen))
                log_warn("worker %d died: %s", (int)pid, how);
            else
                log_info("worker %d exited", (int)pid);
            requeue(m, owner, how);
            if (!m->stopping && m->generation[i] == m->gen) {
                board_add_restart(m->b);
                if (clock_wall_ms() - s->started_ms < 1000)
                    m->respawn_at[i] = clock_mono_ms() + 100;
            }
            board_fold(m->b, s);          /* its counters go on in the pool's total */
        }
    }
}

static void signal_generation(struct master *m, int gen_below, int sig)
{
    int i;

    for (i = 0; i < m->nslots; i++) {
        pid_t pid = board_load(&board_slot_at(m->b, i)->pid);

        if (pid && m->generation[i] < gen_below)
            kill(pid, sig);
    }
}

static int live(struct master *m)
{
    int i, n = 0;

    for (i = 0; i < m->nslots; i++)
        n += board_load(&board_slot_at(m->b, i)->pid) != 0;
    return n;
}

/* Parse the tokens once in the master, so that a bad hash or tokens file
 * stops the start (or the reload) instead of every worker. */
static int check_auth(const conf *cf)
{
    char err[256];
    auth *a = auth_new(cf, err, sizeof err);
    int rc = 0;

    if (!a) {
        log_error("%s", err);
        rc = -EINVAL;
        goto out;
    }
    log_info("auth: %d read, %d submit, %d admin tokens%s%s", auth_count(a, AUTH_READ),
             auth_count(a, AUTH_SUBMIT), auth_count(a, AUTH_ADMIN),
             auth_count(a, AUTH_READ) + auth_count(a, AUTH_SUBMIT) ? "" : "; reads and submits are open",
             auth_count(a, AUTH_ADMIN) ? "" : "; admin routes are off (no admin token)");
out:
    auth_free(a);
    return rc;
}

static void reload(struct master *m)
{
    char err[256];
    conf *next = malloc(sizeof *next);

    if (!next)
        return;
    conf_defaults(next);
    if (conf_load(next, m->config_path, err, sizeof err) < 0) {
        log_error("reload: %s; keeping the running configuration", err);
        free(next);
        return;
    }
    if (check_auth(next) < 0) {
        log_error("reload: keeping the running configuration");
        free(next);
        return;
    }
    if (next->workers * 2 > m->nslots)
        next->workers = m->nslots / 2;
    if (strcmp(next->socket, m->cf->socket) || strcmp(next->db_path, m->cf->db_path))
        log_warn("reload: the socket and the database path change only on restart");
    snprintf(next->socket, sizeof next->socket, "%s", m->cf->socket);
    snprintf(next->db_path, sizeof next->db_path, "%s", m->cf->db_path);
    log_set_level(next->log_level);
    free(m->old_cf);              /* no worker of the generation before uses it */
    m->old_cf = m->cf;            /* the old workers keep their own copy (fork) */
    m->cf = next;
    m->gen++;
    log_info("reload: starting %d new workers, then stopping the old ones", m->cf->workers);
    fill(m);
    signal_generation(m, m->gen, SIGTERM);
}

int pool_run(const char *config_path, conf *cf)
{
    struct master m;
    char err[CONF_PATH_MAX + 128];   /* room for the socket path */
    sigset_t set;
    siginfo_t si;
    struct timespec ts;
    int sig, code = 1;
    int64_t kill_at = 0;
    db *d;

    memset(&m, 0, sizeof m);
    m.config_path = config_path;
    if (!(m.cf = malloc(sizeof *m.cf))) {
        log_error("out of memory");
        return 1;
    }
    *m.cf = *cf;                  /* every conf the master holds is its own */
    cf = m.cf;
    m.listen_fd = -1;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (!(d = db_open(cf->db_path, cf->busy_timeout_ms, 0, err, sizeof err))) {
        log_error("database: %s", err);
        goto out;
    }
    db_close(d);
    if (check_auth(cf) < 0)
        goto out;
    if (open_socket(&m, err, sizeof err) < 0) {
        log_error("%s", err);
        goto out;
    }
    m.nslots = cf->workers * 2;   /* room for two generations during a reload */
    if (!(m.b = board_new(m.nslots)) || !(m.generation = calloc((size_t)m.nslots, sizeof(int))) ||
        !(m.respawn_at = calloc((size_t)m.nslots, sizeof(int64_t)))) {
        log_error("cannot map the scoreboard");
        goto out;
    }
    log_info("ragrade %s: %d workers x %d threads on %s, database %s, judge %s", PACKAGE_VERSION,
             cf->workers, cf->threads, cf->socket, cf->db_path, cf->backend);
    fill(&m);
    for (;;) {
        /* Wake often only while something is pending: a stop, a respawn. */
        ts.tv_sec = m.stopping || live(&m) < m.cf->workers ? 0 : 1;
        ts.tv_nsec = ts.tv_sec ? 0 : 100 * 1000000L;
        sig = sigtimedwait(&set, &si, &ts);
        if (sig == SIGCHLD || sig < 0)
            reap(&m);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
            if (!m.stopping)
                log_info("stopping (%s): finishing the requests in hand", strsignal(sig));
            m.stopping = 1;
            kill_at = clock_mono_ms() + (sig == SIGQUIT ? 0 : m.cf->graceful_timeout_ms + 1000);
            signal_generation(&m, m.gen + 1, SIGTERM);
        } else if (sig == SIGHUP && !m.stopping) {
            reload(&m);
        }
        if (m.stopping) {
            if (live(&m) == 0)
                break;
            if (clock_mono_ms() >= kill_at) {
                log_warn("graceful stop timed out: killing %d workers", live(&m));
                signal_generation(&m, m.gen + 1, SIGKILL);
                kill_at = clock_mono_ms() + 60000;
            }
        } else {
            fill(&m);
        }
    }
    code = 0;
    log_info("stopped");
out:
    if (m.own_socket) {
        close(m.listen_fd);
        unlink(m.cf->socket);
    }
    board_free(m.b);
    free(m.generation);
    free(m.respawn_at);
    free(m.cf);
    free(m.old_cf);
    return code;
}
