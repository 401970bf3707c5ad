/*
 * The accuracy yardstick: a minimal ping-pong client for the uppercase service, timing each
 * round trip two ways at once. One request in flight, sent on a fixed schedule (every -i
 * microseconds, so it never floods).
 *   user space: CLOCK_MONOTONIC read immediately around send() and the recv() that completes
 *     the reply, the least a user-space client can add to a round trip;
 *   kernel: exactly as netrepl times it (Sources/NetREPLTransport/Platform/Socket.swift), from
 *     the kernel's send stamp (SO_TIMESTAMPING with TX_SOFTWARE|SOFTWARE|OPT_ID|OPT_TSONLY, read
 *     from the error queue, keyed by OPT_ID) to the receive stamp (SO_TIMESTAMPNS) of the recv()
 *     that completes the reply; TCP with TCP_NODELAY, so that the stamp of a send's last byte
 *     (timestamping.rst §1.4) is when the line left.
 * netrepl's own figures are compared with both p50s (Benchmarks/compare.sh). Talks to 127.0.0.1
 * only; count and interval are bounded.
 *
 * Build: cc -O2 -o pingpong pingpong.c
 * Usage: pingpong -p PORT [-m udp|tcp] [-n COUNT] [-i INTERVAL_US] [-s BYTES] [-w WARMUP_COUNT]
 * Output: one line "RESULT mode=udp count=... ok=... lost=... wrong=... min_us=... p50_us=... p99_us=...
 *         kernel_ok=... kernel_min_us=... kernel_p50_us=... kernel_p99_us=..."; kernel_ok counts the
 *         answered exchanges that had both stamps.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT 100000
#define MAX_SIZE 1024

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = { .tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

static int64_t ts_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* Reads what waits in the error queue; a send stamp whose OPT_ID key is `key` goes to *stamp. */
static void collect_send_stamps(int fd, uint32_t key, int64_t *stamp)
{
    for (int k = 0; k < 64; k++) {
        char data[64], control[512];
        struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
        if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return;
        int64_t t = 0;
        int have_key = 0;
        uint32_t got = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
                struct scm_timestamping st;
                memcpy(&st, CMSG_DATA(c), sizeof st);
                t = ts_ns(&st.ts[0]);  /* the software stamp */
            } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                       (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
                struct sock_extended_err e;
                memcpy(&e, CMSG_DATA(c), sizeof e);
                if (e.ee_origin == SO_EE_ORIGIN_TIMESTAMPING && e.ee_info == SCM_TSTAMP_SND) { have_key = 1; got = e.ee_data; }
            }
        }
        if (have_key && got == key && t) *stamp = t;
    }
}

/* The SO_TIMESTAMPNS stamp of a received message, or 0. */
static int64_t receive_stamp(struct msghdr *m)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            return ts_ns(&ts);
        }
    return 0;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void percentiles(int64_t *v, int n, double *min, double *p50, double *p99)
{
    qsort(v, (size_t)n, sizeof *v, cmp64);
    *min = n ? v[0] / 1e3 : 0;
    *p50 = n ? v[(n - 1) / 2] / 1e3 : 0;
    *p99 = n ? v[(int)((n - 1) * 0.99)] / 1e3 : 0;
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s -p PORT [-m udp|tcp] [-n COUNT] [-i INTERVAL_US] [-s BYTES] [-w WARMUP]\n"
                    "  defaults: -m udp -n 1000 -i 1000 -s 32 -w 20; 127.0.0.1 only\n", argv0);
    exit(64);
}

int main(int argc, char **argv)
{
    int port = 0, tcp = 0, count = 1000, interval_us = 1000, size = 32, warm = 20, opt;
    while ((opt = getopt(argc, argv, "p:m:n:i:s:w:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'm': if (!strcmp(optarg, "tcp")) tcp = 1; else if (strcmp(optarg, "udp")) usage(argv[0]); break;
        case 'n': count = atoi(optarg); break;
        case 'i': interval_us = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'w': warm = atoi(optarg); break;
        default: usage(argv[0]);
        }
    }
    if (port < 1 || port > 65535 || count < 1 || count > MAX_COUNT || interval_us < 100 || interval_us > 1000000 ||
        size < 2 || size > MAX_SIZE || warm < 0 || warm > MAX_COUNT)
        usage(argv[0]);

    struct sockaddr_in server = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&server, sizeof server) < 0) {
        fprintf(stderr, "pingpong: cannot connect to 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 2;
    }
    int one = 1;
    if (tcp) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    /* After connect, as netrepl asks for a stream: a TCP socket refuses OPT_ID before it. */
    int stamp_flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
                      SOF_TIMESTAMPING_OPT_TSONLY;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &stamp_flags, sizeof stamp_flags) < 0)
        fprintf(stderr, "pingpong: no send stamps (SO_TIMESTAMPING: %s); kernel figures will be empty\n", strerror(errno));
    char line[MAX_SIZE], expect[MAX_SIZE], reply[65536], control[512];
    int64_t *rtt = calloc((size_t)count, sizeof *rtt), *krtt = calloc((size_t)count, sizeof *krtt);
    if (!rtt || !krtt) return 2;
    int ok = 0, kok = 0, lost = 0, wrong = 0;
    /* OPT_ID keys: a datagram's count, or a stream's byte offset of the send's last byte. */
    uint32_t next_key = 0;
    int64_t start = now_ns() + 1000000;
    for (int i = -warm; i < count; i++) {
        sleep_until(start + (int64_t)(i + warm) * interval_us * 1000LL);
        int n = snprintf(line, sizeof line, "ping %d ", i);
        for (int k = 0; k < size - 1; k++) line[k] = k < n ? line[k] : (char)('a' + k % 26);
        line[size - 1] = '\n';
        for (int k = 0; k < size; k++) expect[k] = (line[k] >= 'a' && line[k] <= 'z') ? line[k] - 32 : line[k];
        int64_t t0 = now_ns();
        if (send(fd, line, (size_t)size, MSG_NOSIGNAL) != size) { perror("pingpong: send"); return 2; }
        uint32_t key = tcp ? next_key + (uint32_t)size - 1 : next_key;
        next_key += tcp ? (uint32_t)size : 1;
        int got = 0, timed_out = 0;
        int64_t t1 = 0, sent_stamp = 0, reply_stamp = 0;
        while (got < size) {
            struct pollfd p = { .fd = fd, .events = POLLIN };
            if (poll(&p, 1, 1000) == 0) { timed_out = 1; break; }
            /* The send stamp in the error queue wakes poll (POLLERR) before the reply: take it, as netrepl does. */
            if (!(p.revents & POLLIN)) { collect_send_stamps(fd, key, &sent_stamp); continue; }
            struct iovec iov = { .iov_base = reply + got, .iov_len = tcp ? (size_t)(size - got) : sizeof reply };
            struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
            ssize_t r = recvmsg(fd, &m, 0);
            t1 = now_ns();
            if (r <= 0) { perror("pingpong: recv"); return 2; }
            reply_stamp = receive_stamp(&m);
            if (!tcp && r != size) { got = -1; break; }
            got += (int)r;
        }
        if (!sent_stamp) {
            /* Not read yet: it was queued as the line left, or comes within a millisecond (as netrepl waits). */
            collect_send_stamps(fd, key, &sent_stamp);
            struct pollfd p = { .fd = fd, .events = 0 };
            if (!sent_stamp && poll(&p, 1, 1) > 0) collect_send_stamps(fd, key, &sent_stamp);
        }
        if (i < 0) continue;
        if (timed_out) { lost++; continue; }
        if (got != size || memcmp(reply, expect, (size_t)size)) { wrong++; continue; }
        rtt[ok++] = t1 - t0;
        if (sent_stamp && reply_stamp && reply_stamp >= sent_stamp) krtt[kok++] = reply_stamp - sent_stamp;
    }
    double min, p50, p99, kmin, kp50, kp99;
    percentiles(rtt, ok, &min, &p50, &p99);
    percentiles(krtt, kok, &kmin, &kp50, &kp99);
    printf("RESULT mode=%s count=%d ok=%d lost=%d wrong=%d min_us=%.1f p50_us=%.1f p99_us=%.1f "
           "kernel_ok=%d kernel_min_us=%.1f kernel_p50_us=%.1f kernel_p99_us=%.1f\n",
           tcp ? "tcp" : "udp", count, ok, lost, wrong, min, p50, p99, kok, kmin, kp50, kp99);
    return lost || wrong ? 1 : 0;
}
