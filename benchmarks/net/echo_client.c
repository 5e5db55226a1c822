/* Echo load generator: N connections doing request/response ping-pong.
 *
 *     echo_client HOST PORT CONNECTIONS SIZE
 *
 * Built at run time by benchmarks/net/clients.py with the system C compiler
 * (the one that builds aioloop), so every loop is loaded by the same client,
 * and the client's own cost stays small next to the server's.
 *
 * Commands arrive on stdin, one per line:
 *     run SECONDS   close the previous window's connections, open new ones,
 *                   keep every connection busy for SECONDS, then stop sending
 *                   and wait for the replies in flight; print one JSON line
 *                   with the window's figures.
 *     quit / EOF    close everything and exit.
 * Stopping between windows leaves the server idle while the driver reads its
 * CPU counters, so a window's requests and its CPU time line up exactly.
 *
 * Each request is SIZE bytes: an 8-byte sequence number unique to the request,
 * then a fixed pattern. The echo must match byte for byte; a short, foreign or
 * stale echo counts as an error, so a server that mixes up connections fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_EVENTS 256
/* Latency histogram: 1 µs buckets up to 100 ms, then one overflow bucket. */
#define HIST_BUCKETS 100001
/* Replies still missing this long after a window ends mean a stuck server. */
#define DRAIN_LIMIT_NS 10000000000ull

typedef struct {
    int fd;             /* -1 once the connection failed */
    int want_out;       /* registered for EPOLLOUT */
    int busy;           /* a request is in flight */
    size_t sent;        /* bytes of the current request written */
    size_t received;    /* bytes of its echo read and checked */
    uint64_t started_ns;
    unsigned char *msg; /* the current request */
} conn_t;

static conn_t conns[MAX_CONNS];
static int nconns;
static size_t size;
static int ep = -1;
static unsigned char *scratch;
static uint32_t hist[HIST_BUCKETS];
static uint64_t max_ns;
static uint64_t next_seq = 1;
static uint64_t errors;
static char first_error[160];

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    printf("{\"error\": \"%s: %s\"}\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

/* A connection that broke or echoed the wrong bytes is closed and counted. */
static void fail(conn_t *c, const char *why) {
    if (errors++ == 0) {
        if (errno)
            snprintf(first_error, sizeof first_error, "%s: %s", why, strerror(errno));
        else
            snprintf(first_error, sizeof first_error, "%s", why);
    }
    close(c->fd);
    c->fd = -1;
    c->busy = 0;
}

static void want_out(conn_t *c, int on) {
    if (c->want_out == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    c->want_out = on;
}

/* Write what the socket takes now; wait for EPOLLOUT while some is left. */
static void pump_send(conn_t *c) {
    while (c->sent < size) {
        ssize_t n = send(c->fd, c->msg + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) break;
            fail(c, "send");
            return;
        }
        c->sent += (size_t)n;
    }
    want_out(c, c->sent < size);
}

static void start_request(conn_t *c) {
    uint64_t seq = next_seq++;
    memcpy(c->msg, &seq, sizeof seq);
    c->sent = 0;
    c->received = 0;
    c->busy = 1;
    c->started_ns = now_ns();
    pump_send(c);
}

static void record(uint64_t ns) {
    uint64_t us = ns / 1000;
    hist[us < HIST_BUCKETS - 1 ? us : HIST_BUCKETS - 1]++;
    if (ns > max_ns) max_ns = ns;
}

/* Nearest-rank percentile, reported at the middle of its 1 µs bucket. */
static double percentile_us(uint64_t total, double q) {
    uint64_t rank = (uint64_t)(q * (double)total + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS - 1; i++) {
        seen += hist[i];
        if (seen >= rank) return (double)i + 0.5;
    }
    return (double)max_ns / 1e3;
}

/* Read the echo; returns 1 when the request completed. */
static int pump_recv(conn_t *c) {
    while (c->fd >= 0) {
        size_t want = c->busy ? size - c->received : 1;
        ssize_t n = recv(c->fd, scratch, want, 0);
        if (n < 0) {
            if (errno == EAGAIN) return 0;
            fail(c, "recv");
            return 0;
        }
        if (n == 0) {
            errno = 0;
            fail(c, "server closed the connection");
            return 0;
        }
        if (!c->busy || memcmp(scratch, c->msg + c->received, (size_t)n) != 0) {
            errno = 0;
            fail(c, "echo does not match the request");
            return 0;
        }
        c->received += (size_t)n;
        if (c->received == size) {
            c->busy = 0;
            return 1;
        }
    }
    return 0;
}

static void close_all(void) {
    for (int i = 0; i < nconns; i++) {
        if (conns[i].fd > 0) close(conns[i].fd);
        conns[i].fd = -1;
    }
}

static void connect_all(const char *host, int port) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("inet_pton");
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0) die("socket");
        c->want_out = 0;
        c->busy = 0;
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* Blocking connect: on loopback the kernel completes the handshake. */
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl");
        if (!c->msg) c->msg = malloc(size);
        if (!c->msg) die("malloc");
        for (size_t j = 0; j < size; j++) c->msg[j] = (unsigned char)('a' + j % 26);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    }
}

static void run_window(double seconds) {
    memset(hist, 0, sizeof hist);
    max_ns = 0;
    uint64_t requests = 0;
    uint64_t t0 = now_ns();
    uint64_t stop_at = t0 + (uint64_t)(seconds * 1e9);
    int in_flight = 0;
    for (int i = 0; i < nconns; i++) {
        if (conns[i].fd < 0) continue;
        start_request(&conns[i]);
        in_flight += conns[i].busy;
    }
    int sending = 1;
    struct epoll_event events[MAX_EVENTS];
    uint64_t now = t0;
    while (in_flight > 0) {
        if (sending && now >= stop_at) sending = 0;
        if (!sending && now >= stop_at + DRAIN_LIMIT_NS) {
            errno = 0;
            if (errors++ == 0) snprintf(first_error, sizeof first_error, "replies never came");
            break;
        }
        uint64_t until = sending ? stop_at : stop_at + DRAIN_LIMIT_NS;
        int timeout_ms = (int)((until - now) / 1000000u) + 1;
        int n = epoll_wait(ep, events, MAX_EVENTS, timeout_ms);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        now = now_ns();
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c->fd < 0) continue;
            int was_busy = c->busy;
            if ((events[i].events & EPOLLOUT) && c->busy) pump_send(c);
            if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                if (pump_recv(c)) {
                    record(now - c->started_ns);
                    requests++;
                    if (sending) start_request(c);
                }
            }
            in_flight += c->busy - was_busy;
        }
    }
    double elapsed = (double)(now - t0) / 1e9;
    printf("{\"requests\": %llu, \"seconds\": %.6f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
           "\"max_us\": %.1f, \"errors\": %llu, \"first_error\": \"%s\"}\n",
           (unsigned long long)requests, elapsed, percentile_us(requests, 0.50),
           percentile_us(requests, 0.99), (double)max_ns / 1e3, (unsigned long long)errors,
           first_error);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST PORT CONNECTIONS SIZE\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    nconns = atoi(argv[3]);
    size = (size_t)atol(argv[4]);
    if (nconns < 1 || nconns > MAX_CONNS || size < 8) {
        fprintf(stderr, "need 1..%d connections and a size of at least 8 bytes\n", MAX_CONNS);
        return 2;
    }
    scratch = malloc(size);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!scratch || ep < 0) die("setup");
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        double seconds;
        if (sscanf(line, "run %lf", &seconds) != 1) break;
        close_all();
        connect_all(host, port);
        run_window(seconds);
    }
    close_all();
    return 0;
}
