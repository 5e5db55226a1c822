# The loop's clock: CLOCK_MONOTONIC, the same clock as time.monotonic(), so
# loop.time() agrees with asyncio's and with code that mixes the two.

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    cdef struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk_id, timespec *tp)
    int CLOCK_MONOTONIC


cdef inline long long monotonic_ns() noexcept nogil:
    # Through the vDSO this is a memory read plus arithmetic (about 20 ns
    # here), no system call: cheap enough for once per loop iteration.
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <long long>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef inline long long seconds_to_ns_ceil(double s) noexcept nogil:
    # Round up: a timer must never fire before its deadline.  Up to about
    # 292 years (what the result holds; inf included), so that a far
    # deadline is a long wait, not an overflow.
    if s >= 9.2e9:
        return 9200000000000000000
    cdef long long ns = <long long>(s * 1e9)
    if <double>ns < s * 1e9:
        ns += 1
    return ns
