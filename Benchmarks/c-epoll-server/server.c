/*
 * A minimal single-threaded epoll uppercase server: the C yardstick that
 * netrepl-server is measured against (Benchmarks/run.sh).
 *
 * It does the same job on one port as netrepl-server, in the cheapest way C
 * allows, and nothing more: UDP datagrams are read in batches with recvmmsg,
 * uppercased (ASCII only) in place and sent back with sendmmsg; TCP bytes are
 * read, uppercased in place and written back at once. A connection whose
 * reply cannot be written completely is not read again until it drains
 * (backpressure), so memory stays bounded. Not a product: no UTF-8 case
 * mapping, no impairment, no logging.
 *
 * Build: cc -O2 -o server server.c
 * Run:   ./server [-h 127.0.0.1] [-p 0]     (prints one "ready" line with the port)
 * SIGINT/SIGTERM prints counters and exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64          /* datagrams per recvmmsg/sendmmsg */
#define DGRAM_MAX 65536   /* largest UDP payload we read */
#define TCP_CHUNK 16384   /* bytes read per TCP readiness event */

struct conn {
    char *pending;        /* reply bytes the kernel would not take yet */
    size_t pending_len, pending_off;
};

static volatile sig_atomic_t stop;
static struct conn *conns;   /* indexed by fd */
static size_t nconns_max;
static unsigned long long n_tcp, n_udp, bytes_in, bytes_out;

static void on_signal(int sig) { (void)sig; stop = 1; }

static void die(const char *what, const char *addr, int port)
{
    fprintf(stderr, "c-epoll-server: %s %s:%d: %s\n", what, addr, port, strerror(errno));
    exit(1);
}

static inline void upper_ascii(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)(p[i] - 'a') < 26) p[i] -= 32;
}

static void conn_close(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd].pending);
    memset(&conns[fd], 0, sizeof conns[fd]);
}

/* Write what is pending; returns 1 when fully drained, 0 if still blocked, -1 on error. */
static int conn_flush(int fd)
{
    struct conn *c = &conns[fd];
    while (c->pending_off < c->pending_len) {
        ssize_t w = write(fd, c->pending + c->pending_off, c->pending_len - c->pending_off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->pending_off += (size_t)w;
        bytes_out += (size_t)w;
    }
    free(c->pending);
    c->pending = NULL;
    c->pending_len = c->pending_off = 0;
    return 1;
}

static void tcp_readable(int ep, int fd)
{
    static char buf[TCP_CHUNK];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) { conn_close(ep, fd); return; }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) conn_close(ep, fd);
        return;
    }
    bytes_in += (size_t)n;
    upper_ascii(buf, (size_t)n);
    ssize_t w = write(fd, buf, (size_t)n);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) { conn_close(ep, fd); return; }
        w = 0;
    }
    bytes_out += (size_t)w;
    if (w < n) {
        /* Stop reading until the client drains its side: TCP flow control
         * then stops the client from sending more. */
        struct conn *c = &conns[fd];
        c->pending = malloc((size_t)(n - w));
        if (!c->pending) { conn_close(ep, fd); return; }
        memcpy(c->pending, buf + w, (size_t)(n - w));
        c->pending_len = (size_t)(n - w);
        c->pending_off = 0;
        struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    }
}

static void tcp_writable(int ep, int fd)
{
    int r = conn_flush(fd);
    if (r < 0) { conn_close(ep, fd); return; }
    if (r == 1) {
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    }
}

static void tcp_accept(int ep, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or EMFILE: try again on the next event */
        if ((size_t)fd >= nconns_max) { close(fd); continue; }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) { close(fd); continue; }
        n_tcp++;
    }
}

static void udp_readable(int ufd)
{
    static char bufs[BATCH][DGRAM_MAX];
    static struct mmsghdr msgs[BATCH];
    static struct iovec iov[BATCH];
    static struct sockaddr_storage addrs[BATCH];
    for (int round = 0; round < 16; round++) {
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = DGRAM_MAX;
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &addrs[i];
            msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
        }
        int n = recvmmsg(ufd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) return;
        for (int i = 0; i < n; i++) {
            size_t len = msgs[i].msg_len;
            bytes_in += len;
            upper_ascii(bufs[i], len);
            iov[i].iov_len = len;   /* the reply is the request, in place */
        }
        n_udp += (unsigned)n;
        int sent = 0;
        while (sent < n) {
            int s = sendmmsg(ufd, msgs + sent, (unsigned)(n - sent), 0);
            if (s <= 0) break;      /* a full send buffer drops, as UDP may */
            for (int i = sent; i < sent + s; i++) bytes_out += msgs[i].msg_len;
            sent += s;
        }
        if (n < BATCH) return;
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0, opt;
    while ((opt = getopt(argc, argv, "h:p:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-h IPV4ADDR] [-p PORT]\n", argv[0]);
            return 64;
        }
    }

    /* Room for many connections: soft fd limit up to the hard one. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    nconns_max = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_cur;
    conns = calloc(nconns_max, sizeof *conns);
    if (!conns) { perror("c-epoll-server: calloc"); return 1; }

    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "c-epoll-server: bad IPv4 address %s\n", host);
        return 64;
    }
    int one = 1;

    /* TCP first (port 0 lets the kernel choose), then UDP on the same number;
     * retry a few times if the chosen number is taken for UDP. */
    int lfd = -1, ufd = -1;
    for (int attempt = 0; attempt < 50 && ufd < 0; attempt++) {
        struct sockaddr_in a = sa;
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0) die("cannot listen on tcp", host, port);
        if (listen(lfd, 4096) < 0) die("cannot listen on tcp", host, port);
        socklen_t alen = sizeof a;
        getsockname(lfd, (struct sockaddr *)&a, &alen);
        ufd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (bind(ufd, (struct sockaddr *)&a, sizeof a) == 0) {
            port = ntohs(a.sin_port);
            break;
        }
        if (port != 0) die("cannot bind udp", host, port);
        close(ufd); close(lfd);
        ufd = lfd = -1;
    }
    if (ufd < 0) die("cannot bind udp", host, port);
    int rcv = 4 << 20;
    setsockopt(ufd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.fd = ufd;
    epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &ev);

    struct sigaction sact = { .sa_handler = on_signal };
    sigaction(SIGINT, &sact, NULL);
    sigaction(SIGTERM, &sact, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("c-epoll-server: ready, udp and tcp on %s:%d\n", host, port);
    fflush(stdout);

    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("c-epoll-server: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            uint32_t e = evs[i].events;
            if (fd == ufd) udp_readable(ufd);
            else if (fd == lfd) tcp_accept(ep, lfd);
            else if (e & EPOLLOUT) tcp_writable(ep, fd);
            else if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) tcp_readable(ep, fd);
        }
    }
    printf("c-epoll-server: stopped: %llu tcp connections, %llu udp datagrams, %llu bytes in, %llu bytes out\n",
           n_tcp, n_udp, bytes_in, bytes_out);
    return 0;
}
