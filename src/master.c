/* master.c - the pool's master process: it opens the FastCGI socket,
 * forks the workers (worker.c), respawns them when they die, replaces them
 * on SIGHUP and stops them on SIGTERM.
 *
 * DESIGN
 * Processes. The master opens the FastCGI listening socket (or takes fd 0
 * from spawn-fcgi), migrates the database, maps the scoreboard (board.c)
 * and forks pool.workers workers. It then only waits for signals
 * (sigtimedwait on a blocked set): it never serves a request and never
 * opens the database except to requeue the rows of a worker that died.
 *
 * Crashes. SIGCHLD: the master logs how the worker died (exit code or
 * signal), puts the rows it held back in the queue at once (by the lease
 * owner name the worker wrote in its scoreboard slot; a row that has used
 * every attempt fails instead, so a row that kills workers cannot kill the
 * pool forever), and forks a replacement, at most one per 100 ms per slot
 * when workers die at once after start. Workers ask the kernel for SIGTERM
 * when the master dies (PR_SET_PDEATHSIG): they drain as on a stop
 * (worker.c), answering what they committed, and none outlives it.
 *
 * The socket. About once a second (and on SIGHUP) the master checks that
 * its socket file is still there; a deleted one is bound again, logged,
 * counted in /api/status, and a new generation of workers replaces the
 * old as on a reload. Each second it also notes whether the judge makes
 * progress (board_note_progress), for /api/health.
 *
 * Graceful stop (SIGTERM, SIGINT). The master removes the socket file
 * (nginx's new connections fail at once, 503 pool_unavailable, nothing
 * stored), marks the board closing and forwards SIGTERM to the workers,
 * which serve the connections nginx had already made (the backlog) and
 * drain (worker.c). After pool.graceful_timeout_ms (and a second) the
 * master SIGKILLs what remains, requeues their rows and exits. SIGQUIT
 * kills at once.
 *
 * Reload (SIGHUP). The master reads the configuration again, forks a new
 * generation of workers, then stops the old one gracefully. The listening
 * socket never closes, so no request is refused: new connections wait in
 * the backlog until a thread of the new generation accepts them, and the
 * old one serves the requests nginx sends on its kept connections until
 * nginx closes them. */
#include "config.h"
#include "clock.h"
#include "master.h"
#include "criteria.h"
#include "auth.h"
#include "board.h"
#include "db.h"
#include "log.h"
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


struct master {
    const char *config_path;
    conf *cf;
    conf *old_cf;                 /* the previous configuration, after a reload */
    int listen_fd;
    int own_socket;               /* 1: we made it and remove it */
    dev_t sock_dev;               /* what stat(2) of cf->socket gave after bind */
    ino_t sock_ino;
    int sock_foreign;             /* 1: the path was taken by another socket (said once) */
    board *b;
    int nslots;
    int *generation;              /* per slot */
    int64_t *respawn_at;          /* per slot: not before (ms), after a fast death */
    int gen;
    int stopping;
    pid_t pid;                    /* the master's, for its workers */
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

/* Bind and listen on cf->socket; on success m->listen_fd is the new
 * socket (the caller closes the one before, if any). */
static int bind_socket(struct master *m, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd = -1, rc = -1;
    mode_t old;

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
    /* 0660, never wider even for a moment: local users outside the
     * socket's group (nginx's) cannot skip nginx's limits. */
    old = umask(0117);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || chmod(m->cf->socket, 0660) < 0 || listen(fd, m->cf->backlog) < 0) {
        snprintf(err, errlen, "%s: %s", m->cf->socket, strerror(errno));
        rc = -1;
        goto out;
    }
    /* Workers inherit it across fork; exec is not used. */
    if (stat(m->cf->socket, &st) == 0) {
        m->sock_dev = st.st_dev;
        m->sock_ino = st.st_ino;
    }
    m->listen_fd = fd;
    m->own_socket = 1;
    m->sock_foreign = 0;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int open_socket(struct master *m, char *err, size_t errlen)
{
    if (inherited_socket()) {
        m->listen_fd = 0;
        log_info("using the listening socket on fd 0 (spawn-fcgi)");
        return 0;
    }
    return bind_socket(m, err, errlen);
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
        worker_main(m->cf, m->config_path, m->listen_fd, m->b, idx, m->pid);   /* never returns */
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

/* A socket file deleted under a running pool is a silent outage: nginx
 * gets ENOENT while the workers wait on a socket nobody can reach. Checked
 * about once a second and on SIGHUP: if the path is gone, bind it again
 * and return 1 (the caller then replaces the workers, which listen on the
 * old socket). A path now taken by another file is left alone. */
static int check_socket(struct master *m)
{
    char err[CONF_PATH_MAX + 128];
    struct stat st;
    int old = m->listen_fd;

    if (!m->own_socket)
        return 0;
    if (stat(m->cf->socket, &st) == 0) {
        if ((st.st_dev != m->sock_dev || st.st_ino != m->sock_ino) && !m->sock_foreign) {
            log_error("the socket %s was replaced by another file: not serving there; "
                      "restart ragrade once it is free", m->cf->socket);
            m->sock_foreign = 1;
        }
        return 0;
    }
    if (errno != ENOENT)
        return 0;
    log_warn("the socket %s was deleted: binding it again", m->cf->socket);
    if (bind_socket(m, err, sizeof err) < 0) {
        log_error("cannot bind the socket again: %s", err);
        return 0;
    }
    close(old);                   /* the old workers keep their own copies */
    board_set_socket_id(m->b, m->sock_dev, m->sock_ino);
    board_note_socket(m->b, clock_wall_ms());
    return 1;
}

/* Remove our socket file (not another's that took a path deleted under
 * us): no new connection can come, and those already made stay in the
 * backlog for the draining workers. */
static void remove_socket(struct master *m)
{
    struct stat st;

    if (m->own_socket && stat(m->cf->socket, &st) == 0 && st.st_dev == m->sock_dev && st.st_ino == m->sock_ino)
        unlink(m->cf->socket);
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

/* The file's [criterion NAME] sections must be valid before any worker
 * starts (each worker reads them again). 0, or -1 after logging why. */
static int check_criteria(const char *config_path)
{
    criterion *v = NULL;
    size_t n = 0;
    char err[300];
    int rc = crit_load_config(config_path, &v, &n, err, sizeof err);

    if (rc < 0)
        log_error("%s", err);
    crit_free_array(v, n);
    return rc < 0 ? -1 : 0;
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
    if (check_auth(next) < 0 || check_criteria(m->config_path) < 0) {
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
    check_socket(m);
    fill(m);
    signal_generation(m, m->gen, SIGTERM);
}

/* The socket was bound again: a new generation of workers on it. */
static void rebind(struct master *m)
{
    m->gen++;
    log_info("starting %d workers on the new socket, then stopping the old ones", m->cf->workers);
    fill(m);
    signal_generation(m, m->gen, SIGTERM);
}

/* Check the database and the tokens, open the socket, map the
 * scoreboard. Logs and returns -1 on failure. */
static int master_start(struct master *m)
{
    char err[CONF_PATH_MAX + 128];   /* room for the socket path */
    db *d;
    int rc = -1;

    if (!(d = db_open(m->cf->db_path, m->cf->busy_timeout_ms, 0, err, sizeof err))) {
        log_error("database: %s", err);
        goto out;
    }
    db_close(d);
    if (check_auth(m->cf) < 0)
        goto out;
    if (open_socket(m, err, sizeof err) < 0) {
        log_error("%s", err);
        goto out;
    }
    m->nslots = m->cf->workers * 2;   /* room for two generations during a reload */
    if (!(m->b = board_new(m->nslots)) || !(m->generation = calloc((size_t)m->nslots, sizeof(int))) ||
        !(m->respawn_at = calloc((size_t)m->nslots, sizeof(int64_t)))) {
        log_error("cannot map the scoreboard");
        goto out;
    }
    board_set_socket_id(m->b, m->sock_dev, m->sock_ino);
    rc = 0;
out:
    return rc;
}

/* Wait for signals (set, blocked) and act on them until the last worker
 * has gone after a stop. */
static void master_loop(struct master *m, const sigset_t *set)
{
    siginfo_t si;
    struct timespec ts;
    int sig;
    int64_t kill_at = 0;

    for (;;) {
        /* Wake often only while something is pending: a stop, a respawn. */
        ts.tv_sec = m->stopping || live(m) < m->cf->workers ? 0 : 1;
        ts.tv_nsec = ts.tv_sec ? 0 : 100 * 1000000L;
        sig = sigtimedwait(set, &si, &ts);
        if (sig == SIGCHLD || sig < 0)
            reap(m);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
            if (!m->stopping) {
                log_info("stopping (%s): finishing the requests in hand", strsignal(sig));
                /* First no new connections, then the workers serve the
                 * ones nginx already made (the backlog) and drain. */
                remove_socket(m);
                if (m->own_socket)
                    board_set_closing(m->b);
            }
            m->stopping = 1;
            kill_at = clock_mono_ms() + (sig == SIGQUIT ? 0 : m->cf->graceful_timeout_ms + 1000);
            signal_generation(m, m->gen + 1, SIGTERM);
        } else if (sig == SIGHUP && !m->stopping) {
            reload(m);
        }
        board_note_progress(m->b, clock_wall_ms());
        if (!m->stopping && check_socket(m))
            rebind(m);
        if (m->stopping) {
            if (live(m) == 0)
                break;
            if (clock_mono_ms() >= kill_at) {
                log_warn("graceful stop timed out: killing %d workers", live(m));
                signal_generation(m, m->gen + 1, SIGKILL);
                kill_at = clock_mono_ms() + 60000;
            }
        } else {
            fill(m);
        }
    }
}

int master_run(const char *config_path, conf *cf)
{
    struct master m;
    sigset_t set;
    int code = 1;

    memset(&m, 0, sizeof m);
    m.config_path = config_path;
    if (check_criteria(config_path) < 0)
        return 1;
    if (!(m.cf = malloc(sizeof *m.cf))) {
        log_error("out of memory");
        return 1;
    }
    *m.cf = *cf;                  /* every conf the master holds is its own */
    m.listen_fd = -1;
    m.pid = getpid();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (master_start(&m) < 0)
        goto out;
    log_info("ragrade %s: %d workers x %d threads on %s, database %s, judge %s", PACKAGE_VERSION,
             m.cf->workers, m.cf->threads, m.cf->socket, m.cf->db_path, m.cf->backend);
    fill(&m);
    master_loop(&m, &set);
    code = 0;
    log_info("stopped");
out:
    remove_socket(&m);
    if (m.own_socket)
        close(m.listen_fd);
    board_free(m.b);
    free(m.generation);
    free(m.respawn_at);
    free(m.cf);
    free(m.old_cf);
    return code;
}
