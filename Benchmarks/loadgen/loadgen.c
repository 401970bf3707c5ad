/*
 * A closed-loop load generator for the uppercase service, and a check that a
 * server holds many TCP connections at once (Benchmarks/run.sh, connections.sh).
 *
 * Each of N clients has its own socket (UDP connected, or TCP with
 * TCP_NODELAY), sends one line, waits for the whole uppercased reply, checks
 * it, and only then sends the next: the offered load follows the server, so
 * requests/s measures the server rather than a queue. Latency is timed per
 * request with CLOCK_MONOTONIC into a log-linear histogram (about 3% buckets),
 * from which p50/p99 are read. It talks to 127.0.0.1 only, and both the client
 * count and the duration are bounded.
 *
 * Modes:
 *   -m udp|tcp   closed loop for -d seconds after -w seconds of warm-up
 *   -m conn      open -c TCP connections, send one line on each, verify every
 *                reply, hold them all open for -H seconds, then close
 *   -m once      one request per connection, as the textbook TCP client does: each of -c
 *                clients (a thread each, at most 64) connects, sends a line, reads the
 *                whole reply, checks it and closes, then starts over; latency includes
 *                the connect
 *   -m flood     fairness: -c TCP clients stream 16 KiB blocks as fast as the
 *                server takes them (reading and discarding the replies) and one
 *                UDP client per ten keeps 16 datagrams in flight; meanwhile a probe,
 *                every 20 ms for -d seconds, times a fresh TCP connection's
 *                first reply (connect included) and one UDP round trip
 *
 * Build: cc -O2 -pthread -o loadgen loadgen.c
 * Output: human lines, then one "RESULT key=value ..." line for scripts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 20000
#define MAX_SECONDS 300
#define MAX_SIZE 1024
#define UDP_RETRY_NS 1000000000LL   /* a UDP reply missing for 1 s counts as lost */

/* ---- log-linear latency histogram (nanoseconds) ---- */
#define SUB 32
#define NBUCKETS (2 * SUB + 58 * SUB)

struct hist { uint64_t b[NBUCKETS]; uint64_t count, max; };

static int bucket_of(uint64_t v)
{
    if (v < 2 * SUB) return (int)v;
    int msb = 63 - __builtin_clzll(v);          /* >= 6 */
    int shift = msb - 5;                        /* keep 6 significant bits */
    return 2 * SUB + (shift - 1) * SUB + (int)((v >> shift) - SUB);
}

static uint64_t bucket_mid(int i)
{
    if (i < 2 * SUB) return (uint64_t)i;
    int shift = (i - 2 * SUB) / SUB + 1;
    uint64_t m = (uint64_t)((i - 2 * SUB) % SUB + SUB);
    return (m << shift) + ((1ULL << shift) >> 1);
}

static void hist_add(struct hist *h, uint64_t ns)
{
    int i = bucket_of(ns);
    if (i >= NBUCKETS) i = NBUCKETS - 1;
    h->b[i]++;
    h->count++;
    if (ns > h->max) h->max = ns;
}

static void hist_merge(struct hist *into, const struct hist *from)
{
    for (int i = 0; i < NBUCKETS; i++) into->b[i] += from->b[i];
    into->count += from->count;
    if (from->max > into->max) into->max = from->max;
}

/* This process's CPU time (user + system), so a caller can tell our load from other processes'. */
static double own_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double hist_pct(const struct hist *h, double p)
{
    if (!h->count) return 0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->count + 0.5), seen = 0;
    if (want < 1) want = 1;
    for (int i = 0; i < NBUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) return (double)bucket_mid(i);
    }
    return (double)h->max;
}

/* ---- shared configuration ---- */
static enum { M_UDP, M_TCP, M_CONN, M_FLOOD, M_ONCE } mode = M_UDP;
static int port, nclients = 64, nthreads = 1, size = 32;
static double seconds = 10, warmup = 1, hold = 0;
static struct sockaddr_in server;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fatal(const char *what)
{
    fprintf(stderr, "loadgen: %s on 127.0.0.1:%d: %s\n", what, port, strerror(errno));
    exit(2);
}

/* A request line: fixed size, lowercase, ending in '\n', unique per client and sequence. */
static void make_line(char *buf, int client, uint32_t seq)
{
    char head[64];
    int n = snprintf(head, sizeof head, "client %05d seq %010u ", client, seq);
    for (int i = 0; i < size - 1; i++)
        buf[i] = i < n ? head[i] : (char)('a' + (i % 26));
    buf[size - 1] = '\n';
}

static void upper_ascii(char *p, int n)
{
    for (int i = 0; i < n; i++)
        if ((unsigned char)(p[i] - 'a') < 26) p[i] -= 32;
}

struct client {
    int fd, id, got;
    uint32_t seq;
    int64_t sent_at;
    char expect[MAX_SIZE], reply[MAX_SIZE];
};

struct worker {
    struct client *clients;
    int n;
    int64_t start, measure_from, end;
    struct hist h;
    uint64_t lost, late, errors;
    pthread_t thread;
};

static void client_send(struct client *c)
{
    char line[MAX_SIZE];
    c->seq++;
    make_line(line, c->id, c->seq);
    memcpy(c->expect, line, (size_t)size);
    upper_ascii(c->expect, size);
    c->got = 0;
    c->sent_at = now_ns();
    for (;;) {
        ssize_t w = send(c->fd, line, (size_t)size, MSG_NOSIGNAL);
        if (w == size) return;
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && mode == M_UDP && (errno == EAGAIN || errno == ENOBUFS)) return; /* retried as lost */
        if (w < 0) fatal("cannot send");
        fatal("short send");   /* 32 bytes on a fresh socket always fit */
    }
}

static int open_client(int type)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) fatal("cannot create socket");
    if (connect(fd, (struct sockaddr *)&server, sizeof server) < 0) fatal("cannot connect");
    if (type == SOCK_STREAM) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Read what is there; returns 1 when the whole reply is in. */
static int client_read(struct worker *w, struct client *c)
{
    for (;;) {
        ssize_t r;
        if (mode == M_UDP) {
            char dgram[65536];
            r = recv(c->fd, dgram, sizeof dgram, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) return 0;
                if (errno == ECONNREFUSED) { fprintf(stderr, "loadgen: nothing listening on udp 127.0.0.1:%d\n", port); exit(2); }
                fatal("cannot receive");
            }
            if (r != size || memcmp(dgram, c->expect, (size_t)size) != 0) {
                w->late++;   /* an answer to a request already counted lost */
                continue;
            }
            return 1;
        }
        r = recv(c->fd, c->reply + c->got, (size_t)(size - c->got), 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) return 0;
            fatal("cannot receive");
        }
        if (r == 0) { errno = ECONNRESET; fatal("server closed the connection"); }
        c->got += (int)r;
        if (c->got == size) {
            if (memcmp(c->reply, c->expect, (size_t)size) != 0) w->errors++;
            return 1;
        }
    }
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < w->n; i++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->clients[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, w->clients[i].fd, &ev);
    }
    for (int i = 0; i < w->n; i++) client_send(&w->clients[i]);
    struct epoll_event evs[256];
    int64_t last_scan = now_ns();
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 50);
        int64_t t = now_ns();
        if (t >= w->end) break;
        for (int i = 0; i < n; i++) {
            struct client *c = evs[i].data.ptr;
            if (!client_read(w, c)) continue;
            int64_t done = now_ns();
            if (done >= w->measure_from && done < w->end) hist_add(&w->h, (uint64_t)(done - c->sent_at));
            if (done < w->end) client_send(c);
        }
        if (mode == M_UDP && t - last_scan > 100000000LL) {
            last_scan = t;
            for (int i = 0; i < w->n; i++)
                if (t - w->clients[i].sent_at > UDP_RETRY_NS) {
                    if (t >= w->measure_from) w->lost++;
                    client_send(&w->clients[i]);
                }
        }
    }
    close(ep);
    return NULL;
}

static int run_loop(void)
{
    int type = mode == M_UDP ? SOCK_DGRAM : SOCK_STREAM;
    struct client *clients = calloc((size_t)nclients, sizeof *clients);
    struct worker *workers = calloc((size_t)nthreads, sizeof *workers);
    if (!clients || !workers) fatal("out of memory");
    for (int i = 0; i < nclients; i++) {
        clients[i].fd = open_client(type);
        clients[i].id = i;
    }
    int64_t start = now_ns();
    int64_t measure_from = start + (int64_t)(warmup * 1e9);
    int64_t end = measure_from + (int64_t)(seconds * 1e9);
    int per = nclients / nthreads, extra = nclients % nthreads, at = 0;
    for (int t = 0; t < nthreads; t++) {
        struct worker *w = &workers[t];
        w->clients = clients + at;
        w->n = per + (t < extra);
        at += w->n;
        w->start = start;
        w->measure_from = measure_from;
        w->end = end;
        if (pthread_create(&w->thread, NULL, run_worker, w) != 0) fatal("cannot start thread");
    }
    static struct hist all;
    uint64_t lost = 0, late = 0, errors = 0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(workers[t].thread, NULL);
        hist_merge(&all, &workers[t].h);
        lost += workers[t].lost;
        late += workers[t].late;
        errors += workers[t].errors;
    }
    for (int i = 0; i < nclients; i++) close(clients[i].fd);
    const char *name = mode == M_UDP ? "udp" : "tcp";
    double rps = (double)all.count / seconds;
    double p50 = hist_pct(&all, 50) / 1e3, p99 = hist_pct(&all, 99) / 1e3, max = (double)all.max / 1e3;
    printf("loadgen: %s, %d clients, %d-byte lines, %.1f s (after %.1f s warm-up), %d thread(s)\n",
           name, nclients, size, seconds, warmup, nthreads);
    printf("loadgen: %llu requests, %.0f requests/s, latency p50 %.1f us, p99 %.1f us, max %.1f us\n",
           (unsigned long long)all.count, rps, p50, p99, max);
    printf("loadgen: %llu lost, %llu late, %llu wrong replies\n",
           (unsigned long long)lost, (unsigned long long)late, (unsigned long long)errors);
    double cpu_s = own_cpu_seconds();
    printf("RESULT mode=%s clients=%d seconds=%.1f requests=%llu rps=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f lost=%llu late=%llu errors=%llu cpu_s=%.2f\n",
           name, nclients, seconds, (unsigned long long)all.count, rps, p50, p99, max,
           (unsigned long long)lost, (unsigned long long)late, (unsigned long long)errors, cpu_s);
    return errors ? 1 : 0;
}

/* ---- -m conn: many concurrent TCP connections ---- */
static int run_conn(void)
{
    struct client *clients = calloc((size_t)nclients, sizeof *clients);
    if (!clients) fatal("out of memory");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event evs[1024];
    int connected = 0, failed = 0;
    int64_t t0 = now_ns();
    /* Connect in waves so the server's accept backlog never overflows (a dropped
     * SYN costs a 1 s retransmission, not a failure, but slows the check). */
    const int wave = 500;
    for (int base = 0; base < nclients; base += wave) {
        int top = base + wave < nclients ? base + wave : nclients, pending = 0;
        for (int i = base; i < top; i++) {
            struct client *c = &clients[i];
            c->id = i;
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c->fd < 0) fatal("cannot create socket (raise the hard RLIMIT_NOFILE?)");
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0 && errno != EINPROGRESS)
                fatal("cannot connect");
            struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            pending++;
        }
        int64_t deadline = now_ns() + 10000000000LL;
        while (pending > 0 && now_ns() < deadline) {
            int n = epoll_wait(ep, evs, 1024, 100);
            for (int i = 0; i < n; i++) {
                struct client *c = evs[i].data.ptr;
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) failed++; else connected++;
                c->got = err ? -1 : 0;
                struct epoll_event ev = { .events = 0, .data.ptr = c };
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                pending--;
            }
        }
        failed += pending;
    }
    double connect_s = (double)(now_ns() - t0) / 1e9;
    printf("loadgen: conn: %d of %d connections open after %.2f s (%d failed)\n", connected, nclients, connect_s, failed);
    fflush(stdout);

    /* One line on each, then wait for every reply. */
    int awaiting = 0;
    for (int i = 0; i < nclients; i++) {
        struct client *c = &clients[i];
        if (c->got < 0) continue;
        client_send(c);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        awaiting++;
    }
    int verified = 0, wrong = 0, closed = 0;
    int64_t deadline = now_ns() + 30000000000LL;
    while (awaiting > 0 && now_ns() < deadline) {
        int n = epoll_wait(ep, evs, 1024, 100);
        for (int i = 0; i < n; i++) {
            struct client *c = evs[i].data.ptr;
            ssize_t r = recv(c->fd, c->reply + c->got, (size_t)(size - c->got), 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            struct epoll_event ev = { .events = 0, .data.ptr = c };
            if (r <= 0) { closed++; awaiting--; epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev); continue; }
            c->got += (int)r;
            if (c->got < size) continue;
            if (memcmp(c->reply, c->expect, (size_t)size) == 0) verified++; else wrong++;
            awaiting--;
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }
    printf("loadgen: conn: %d replies verified, %d wrong, %d closed by the server, %d unanswered\n",
           verified, wrong, closed, awaiting);
    /* Still open? A connection closed by the server would now read EOF. */
    int open_now = 0;
    for (int i = 0; i < nclients; i++) {
        char b;
        if (clients[i].got < 0) continue;
        ssize_t r = recv(clients[i].fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
        if (r < 0 && errno == EAGAIN) open_now++;
    }
    printf("loadgen: conn: %d connections still open; holding for %.0f s\n", open_now, hold);
    printf("RESULT mode=conn clients=%d connected=%d verified=%d wrong=%d closed=%d unanswered=%d open=%d connect_s=%.2f\n",
           nclients, connected, verified, wrong, closed, awaiting, open_now, connect_s);
    fflush(stdout);
    if (hold > 0) {
        struct timespec ts = { .tv_sec = (time_t)hold, .tv_nsec = (long)((hold - (double)(time_t)hold) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    }
    for (int i = 0; i < nclients; i++) close(clients[i].fd);
    return verified == nclients ? 0 : 1;
}

/* ---- -m flood: the latency a newcomer sees while others saturate the server ---- */
static volatile int flood_stop;

/* UDP flooders keep a window of datagrams in flight rather than sending blindly: a blind
 * sender keeps the server's receive queue full, and then the probe measures the kernel's
 * drops, not the server's scheduling. */
#define UDP_FLOODERS_PER 10   /* one UDP flooder per this many TCP flooders */
#define UDP_WINDOW 16

static void *run_flooders(void *arg)
{
    (void)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    static char block[16384], sink[65536];
    memset(block, 'f', sizeof block);
    for (int i = 0; i < nclients; i++) {
        int fd = open_client(SOCK_STREAM);
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)fd };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    int nudp = nclients / UDP_FLOODERS_PER > 0 ? nclients / UDP_FLOODERS_PER : 1;
    int *ufd = calloc((size_t)nudp, sizeof *ufd), *inflight = calloc((size_t)nudp, sizeof *inflight);
    int64_t *last = calloc((size_t)nudp, sizeof *last);
    if (!ufd || !inflight || !last) fatal("out of memory");
    for (int i = 0; i < nudp; i++) {
        ufd[i] = open_client(SOCK_DGRAM);
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (1ULL << 32) | (uint64_t)i };
        epoll_ctl(ep, EPOLL_CTL_ADD, ufd[i], &ev);
    }
    struct epoll_event evs[256];
    while (!flood_stop) {
        int n = epoll_wait(ep, evs, 256, 20);
        int64_t t = now_ns();
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 >> 32) {
                int u = (int)(evs[i].data.u64 & 0xffffffff);
                while (recv(ufd[u], sink, sizeof sink, 0) > 0)
                    if (inflight[u] > 0) inflight[u]--;
                last[u] = t;
                continue;
            }
            int fd = (int)evs[i].data.u64;
            if (evs[i].events & EPOLLIN)
                while (recv(fd, sink, sizeof sink, 0) > 0) {}
            if (evs[i].events & EPOLLOUT)
                (void)send(fd, block, sizeof block, MSG_NOSIGNAL);
        }
        for (int u = 0; u < nudp; u++) {
            if (t - last[u] > 200000000LL) { inflight[u] = 0; last[u] = t; }   /* lost: start over */
            while (inflight[u] < UDP_WINDOW && send(ufd[u], block, (size_t)size, 0) == size) inflight[u]++;
        }
    }
    close(ep);
    return NULL;
}

/* Waits up to 5 s for `want` bytes on a blocking-with-timeout socket; returns 1 on success. */
static int probe_recv(int fd, char *buf, int want)
{
    int got = 0;
    while (got < want) {
        ssize_t r = recv(fd, buf + got, (size_t)(want - got), 0);
        if (r <= 0) return 0;
        got += (int)r;
    }
    return 1;
}

static int run_flood(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, run_flooders, NULL) != 0) fatal("cannot start thread");
    struct timespec pause = { .tv_sec = 0, .tv_nsec = 20000000 };
    int64_t start = now_ns(), measure_from = start + (int64_t)(warmup * 1e9);
    int64_t end = measure_from + (int64_t)(seconds * 1e9);
    static struct hist tcp_h, udp_h;
    unsigned long long tcp_failed = 0, udp_lost = 0;
    struct timeval tv = { .tv_sec = 5, .tv_usec = 0 };
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (u < 0 || connect(u, (struct sockaddr *)&server, sizeof server) < 0) fatal("cannot connect the udp probe");
    setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint32_t seq = 0;
    while (now_ns() < end) {
        nanosleep(&pause, NULL);
        char line[MAX_SIZE], expect[MAX_SIZE], reply[MAX_SIZE];
        make_line(line, 99999, ++seq);
        memcpy(expect, line, (size_t)size);
        upper_ascii(expect, size);
        int measuring = now_ns() >= measure_from;
        /* TCP: connect, one line, the whole reply. */
        int64_t t0 = now_ns();
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int ok = fd >= 0;
        if (ok) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ok = connect(fd, (struct sockaddr *)&server, sizeof server) == 0 &&
                 send(fd, line, (size_t)size, MSG_NOSIGNAL) == size && probe_recv(fd, reply, size) &&
                 memcmp(reply, expect, (size_t)size) == 0;
            close(fd);
        }
        if (measuring) { if (ok) hist_add(&tcp_h, (uint64_t)(now_ns() - t0)); else tcp_failed++; }
        /* UDP: one datagram, its reply (flood replies go to the flooder's own socket). */
        t0 = now_ns();
        ok = send(u, line, (size_t)size, 0) == size;
        while (ok) {
            ssize_t r = recv(u, reply, sizeof reply, 0);
            if (r < 0) { ok = 0; break; }
            if (r == size && memcmp(reply, expect, (size_t)size) == 0) break;   /* else a late one */
        }
        if (measuring) { if (ok) hist_add(&udp_h, (uint64_t)(now_ns() - t0)); else udp_lost++; }
    }
    flood_stop = 1;
    pthread_join(t, NULL);
    close(u);
    printf("loadgen: flood: %d tcp clients streaming 16 KiB blocks, %d udp clients with %d %d-byte datagrams in flight each, %.1f s after %.1f s warm-up\n",
           nclients, nclients / UDP_FLOODERS_PER > 0 ? nclients / UDP_FLOODERS_PER : 1, UDP_WINDOW, size, seconds, warmup);
    printf("loadgen: probe tcp (connect + first reply): %llu ok, %llu failed, p50 %.1f us, p99 %.1f us, max %.1f us\n",
           (unsigned long long)tcp_h.count, tcp_failed, hist_pct(&tcp_h, 50) / 1e3, hist_pct(&tcp_h, 99) / 1e3, (double)tcp_h.max / 1e3);
    printf("loadgen: probe udp (round trip): %llu ok, %llu lost, p50 %.1f us, p99 %.1f us, max %.1f us\n",
           (unsigned long long)udp_h.count, udp_lost, hist_pct(&udp_h, 50) / 1e3, hist_pct(&udp_h, 99) / 1e3, (double)udp_h.max / 1e3);
    printf("RESULT mode=flood clients=%d tcp_ok=%llu tcp_failed=%llu tcp_p50_us=%.1f tcp_p99_us=%.1f tcp_max_us=%.1f udp_ok=%llu udp_lost=%llu udp_p50_us=%.1f udp_p99_us=%.1f udp_max_us=%.1f\n",
           nclients, (unsigned long long)tcp_h.count, tcp_failed, hist_pct(&tcp_h, 50) / 1e3, hist_pct(&tcp_h, 99) / 1e3, (double)tcp_h.max / 1e3,
           (unsigned long long)udp_h.count, udp_lost, hist_pct(&udp_h, 50) / 1e3, hist_pct(&udp_h, 99) / 1e3, (double)udp_h.max / 1e3);
    return tcp_failed || udp_lost ? 1 : 0;
}

/* ---- -m once: one request per TCP connection ---- */
struct once_worker {
    int id;
    int64_t measure_from, end;
    struct hist h;
    uint64_t errors, failed;
    pthread_t thread;
};

static void *run_once_worker(void *arg)
{
    struct once_worker *w = arg;
    char line[MAX_SIZE], expect[MAX_SIZE], reply[MAX_SIZE];
    uint32_t seq = 0;
    for (;;) {
        int64_t t0 = now_ns();
        if (t0 >= w->end) break;
        make_line(line, w->id, ++seq);
        memcpy(expect, line, (size_t)size);
        upper_ascii(expect, size);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) fatal("cannot create socket");
        int got = 0;
        if (connect(fd, (struct sockaddr *)&server, sizeof server) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            struct timeval tv = { .tv_sec = 1 };
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            if (send(fd, line, (size_t)size, MSG_NOSIGNAL) == size) {
                while (got < size) {
                    ssize_t r = recv(fd, reply + got, (size_t)(size - got), 0);
                    if (r <= 0) break;
                    got += (int)r;
                }
            }
        }
        close(fd);
        int64_t done = now_ns();
        if (done < w->measure_from || done >= w->end) continue;
        if (got != size) w->failed++;
        else if (memcmp(reply, expect, (size_t)size)) w->errors++;
        else hist_add(&w->h, (uint64_t)(done - t0));
    }
    return NULL;
}

static int run_once(void)
{
    struct once_worker *workers = calloc((size_t)nclients, sizeof *workers);
    if (!workers) fatal("out of memory");
    int64_t start = now_ns();
    int64_t measure_from = start + (int64_t)(warmup * 1e9);
    int64_t end = measure_from + (int64_t)(seconds * 1e9);
    for (int i = 0; i < nclients; i++) {
        workers[i].id = i;
        workers[i].measure_from = measure_from;
        workers[i].end = end;
        if (pthread_create(&workers[i].thread, NULL, run_once_worker, &workers[i]) != 0) fatal("cannot start thread");
    }
    static struct hist all;
    uint64_t errors = 0, failed = 0;
    for (int i = 0; i < nclients; i++) {
        pthread_join(workers[i].thread, NULL);
        hist_merge(&all, &workers[i].h);
        errors += workers[i].errors;
        failed += workers[i].failed;
    }
    double rps = (double)all.count / seconds;
    printf("loadgen: one request per tcp connection, %d clients, %.0f requests/s, latency (connect included) p50 %.1f us, p99 %.1f us; %llu failed, %llu wrong\n",
           nclients, rps, hist_pct(&all, 50) / 1e3, hist_pct(&all, 99) / 1e3,
           (unsigned long long)failed, (unsigned long long)errors);
    double cpu_s = own_cpu_seconds();
    printf("RESULT mode=once clients=%d seconds=%.1f requests=%llu rps=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f lost=%llu late=0 errors=%llu cpu_s=%.2f\n",
           nclients, seconds, (unsigned long long)all.count, rps, hist_pct(&all, 50) / 1e3, hist_pct(&all, 99) / 1e3,
           (double)all.max / 1e3, (unsigned long long)failed, (unsigned long long)errors, cpu_s);
    return errors ? 1 : 0;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s -p PORT [-m udp|tcp|conn|flood|once] [-c CLIENTS] [-d SECONDS] [-w WARMUP] [-t THREADS] [-s BYTES] [-H HOLD]\n"
            "  talks to 127.0.0.1 only; defaults: -m udp -c 64 -d 10 -w 1 -t 1 -s 32 -H 0\n",
            argv0);
    exit(64);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "p:m:c:d:w:t:s:H:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'm':
            if (!strcmp(optarg, "udp")) mode = M_UDP;
            else if (!strcmp(optarg, "tcp")) mode = M_TCP;
            else if (!strcmp(optarg, "conn")) mode = M_CONN;
            else if (!strcmp(optarg, "flood")) mode = M_FLOOD;
            else if (!strcmp(optarg, "once")) mode = M_ONCE;
            else usage(argv[0]);
            break;
        case 'c': nclients = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 't': nthreads = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'H': hold = atof(optarg); break;
        default: usage(argv[0]);
        }
    }
    if (port < 1 || port > 65535 || nclients < 1 || nclients > MAX_CLIENTS || seconds <= 0 ||
        seconds > MAX_SECONDS || warmup < 0 || warmup > MAX_SECONDS || nthreads < 1 || nthreads > 2 ||
        nthreads > nclients || (mode == M_ONCE && nclients > 64) || size < 32 || size > MAX_SIZE || hold < 0 || hold > MAX_SECONDS)
        usage(argv[0]);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)port);
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return mode == M_CONN ? run_conn() : mode == M_FLOOD ? run_flood() : mode == M_ONCE ? run_once() : run_loop();
}
