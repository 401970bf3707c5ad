/*
 * The accuracy yardstick: a minimal ping-pong client for the uppercase service. One request
 * in flight, sent on a fixed schedule (every -i microseconds, so it never floods), timed with
 * CLOCK_MONOTONIC immediately around send() and the recv() that completes the reply: the
 * least a user-space client can add to a round trip. netrepl's own figures are compared with
 * its p50 (Benchmarks/compare.sh). Talks to 127.0.0.1 only; count and interval are bounded.
 *
 * Build: cc -O2 -o pingpong pingpong.c
 * Usage: pingpong -p PORT [-m udp|tcp] [-n COUNT] [-i INTERVAL_US] [-s BYTES] [-w WARMUP_COUNT]
 * Output: one line "RESULT mode=udp count=... ok=... lost=... wrong=... min_us=... p50_us=... p99_us=..."
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
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
    if (tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    char line[MAX_SIZE], expect[MAX_SIZE], reply[65536];
    int64_t *rtt = calloc((size_t)count, sizeof *rtt);
    if (!rtt) return 2;
    int ok = 0, lost = 0, wrong = 0;
    int64_t start = now_ns() + 1000000;
    for (int i = -warm; i < count; i++) {
        sleep_until(start + (int64_t)(i + warm) * interval_us * 1000LL);
        int n = snprintf(line, sizeof line, "ping %d ", i);
        for (int k = 0; k < size - 1; k++) line[k] = k < n ? line[k] : (char)('a' + k % 26);
        line[size - 1] = '\n';
        for (int k = 0; k < size; k++) expect[k] = (line[k] >= 'a' && line[k] <= 'z') ? line[k] - 32 : line[k];
        int64_t t0 = now_ns();
        if (send(fd, line, (size_t)size, MSG_NOSIGNAL) != size) { perror("pingpong: send"); return 2; }
        int got = 0, timed_out = 0;
        int64_t t1 = 0;
        while (got < size) {
            struct pollfd p = { .fd = fd, .events = POLLIN };
            if (poll(&p, 1, 1000) == 0) { timed_out = 1; break; }
            ssize_t r = recv(fd, reply + got, tcp ? (size_t)(size - got) : sizeof reply, 0);
            t1 = now_ns();
            if (r <= 0) { perror("pingpong: recv"); return 2; }
            if (!tcp && r != size) { got = -1; break; }
            got += (int)r;
        }
        if (i < 0) continue;
        if (timed_out) { lost++; continue; }
        if (got != size || memcmp(reply, expect, (size_t)size)) { wrong++; continue; }
        rtt[ok++] = t1 - t0;
    }
    qsort(rtt, (size_t)ok, sizeof *rtt, cmp64);
    double p50 = ok ? rtt[(ok - 1) / 2] / 1e3 : 0, p99 = ok ? rtt[(int)((ok - 1) * 0.99)] / 1e3 : 0;
    printf("RESULT mode=%s count=%d ok=%d lost=%d wrong=%d min_us=%.1f p50_us=%.1f p99_us=%.1f\n",
           tcp ? "tcp" : "udp", count, ok, lost, wrong, ok ? rtt[0] / 1e3 : 0, p50, p99);
    return lost || wrong ? 1 : 0;
}
