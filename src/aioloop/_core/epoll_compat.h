/* epoll_wait with a nanosecond timeout.
 *
 * epoll_wait() takes milliseconds, so a timer due in 300 us would wait 1 ms
 * (asyncio rounds up the same way).  epoll_pwait2() (Linux 5.11) takes a
 * timespec; we call it through syscall() so the build does not depend on the
 * C library declaring it, and fall back to milliseconds, rounded up so a timer
 * never fires early, on kernels that lack it.
 */
#ifndef AIOLOOP_EPOLL_COMPAT_H
#define AIOLOOP_EPOLL_COMPAT_H

#include <errno.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "rawio.h"

static int aioloop_have_pwait2 = 1;

static inline int aioloop_epoll_wait_ns(int epfd, struct epoll_event *events,
                                        int maxevents, long long timeout_ns)
{
#ifdef SYS_epoll_pwait2
    if (aioloop_have_pwait2 && timeout_ns > 0) {
        struct timespec ts;
        ts.tv_sec = (time_t)(timeout_ns / 1000000000LL);
        ts.tv_nsec = (long)(timeout_ns % 1000000000LL);
        int n = (int)syscall(SYS_epoll_pwait2, epfd, events, maxevents, &ts, NULL, 0);
        if (n >= 0 || errno != ENOSYS)
            return n;
        aioloop_have_pwait2 = 0;
    }
#endif
    int ms;
    if (timeout_ns < 0)
        ms = -1;
    else if (timeout_ns > 2000000000LL * 1000000LL)
        ms = 2000000000;
    else
        ms = (int)((timeout_ns + 999999LL) / 1000000LL);
    return aioloop_epoll_wait(epfd, events, maxevents, ms);
}

#endif
