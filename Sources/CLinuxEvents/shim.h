// epoll and timerfd for netrepl bench's workers, which Glibc's Swift module does not export.
// Tokens instead of struct epoll_event, so that Swift never handles the packed struct.
#ifndef NETREPL_CLINUXEVENTS_H
#define NETREPL_CLINUXEVENTS_H
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

static inline int netrepl_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int netrepl_epoll_add(int epoll, int fd, uint64_t token)
{
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = token };
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

static inline int netrepl_epoll_remove(int epoll, int fd) { return epoll_ctl(epoll, EPOLL_CTL_DEL, fd, 0); }

/// Waits up to timeout_ms and writes the tokens of the ready descriptors; returns their count.
static inline int netrepl_epoll_wait(int epoll, uint64_t *tokens, int capacity, int timeout_ms)
{
    struct epoll_event events[256];
    if (capacity > 256) capacity = 256;
    int n = epoll_wait(epoll, events, capacity, timeout_ms);
    for (int i = 0; i < n; i++) tokens[i] = events[i].data.u64;
    return n;
}

static inline int netrepl_timer_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

/// Fires once at deadline_ns on CLOCK_MONOTONIC (absolute).
static inline int netrepl_timer_arm(int timer, int64_t deadline_ns)
{
    struct itimerspec spec = { .it_value = { .tv_sec = deadline_ns / 1000000000LL, .tv_nsec = deadline_ns % 1000000000LL } };
    return timerfd_settime(timer, TFD_TIMER_ABSTIME, &spec, 0);
}
#endif
