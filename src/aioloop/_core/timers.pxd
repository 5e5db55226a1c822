# The timer heap: scheduled TimerHandles ordered by (deadline, insertion).
#
# A 4-ary min-heap.  Each slot holds the ordering key inline next to the
# owned reference, so sifting compares slots without touching (or
# reference-counting) the handle objects; a 4-ary heap is half as deep as a
# binary one, and its four children share a cache line or two.
#
# Cancellation is lazy, as in asyncio: cancel() only counts the timer, which
# stays in its slot until it reaches the top or until cancelled timers are
# more than half of the heap, when the heap is rebuilt without them.  An
# eager removal needs every timer to know its slot, and keeping that index
# up to date writes into each handle a sift moves: a cache miss per level
# that cost more than the removals it saved (measured in the timers
# benchmark: the index writes were most of the sift).  The rebuild keeps
# memory within twice the live timers.

from cpython.ref cimport PyObject
from aioloop._core.handles cimport TimerHandle


cdef struct TimerSlot:
    double when
    unsigned long long seq
    PyObject *timer        # owned reference to a TimerHandle


cdef class TimerHeap:
    cdef TimerSlot *_slots
    cdef Py_ssize_t _size          # slots in use, cancelled timers included
    cdef Py_ssize_t _cancelled     # cancelled timers still in a slot
    cdef Py_ssize_t _capacity
    cdef unsigned long long _next_seq

    cdef void _sift_up(self, Py_ssize_t i, TimerSlot slot) noexcept
    cdef void _sift_down(self, Py_ssize_t i, TimerSlot slot) noexcept
    cdef int push(self, TimerHandle timer) except -1
    cdef TimerHandle pop(self)
    cdef int note_cancelled(self) except -1
    cdef int drop_cancelled_head(self) except -1
    cdef int compact(self) except -1
    cdef void clear(self)

    cdef inline double first_when(self) noexcept:
        # Call only when the heap is not empty.
        return self._slots[0].when

    cdef inline Py_ssize_t live(self) noexcept:
        return self._size - self._cancelled
