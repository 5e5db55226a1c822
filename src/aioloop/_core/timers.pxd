# The timer heap: scheduled TimerHandles ordered by (deadline, insertion).
#
# An indexed 4-ary min-heap.  Each slot holds the ordering key inline next
# to the owned reference, so sifting compares slots without touching (or
# reference-counting) the handle objects; a 4-ary heap is half as deep as a
# binary one, and its four children share a cache line or two.  Each timer
# remembers its slot (TimerHandle._heap_index), so cancel() removes it at
# once in O(log n) instead of leaving a tombstone: a program that schedules
# and cancels timeouts all day keeps the heap at its live size.

from cpython.ref cimport PyObject
from aioloop._core.handles cimport TimerHandle


cdef struct TimerSlot:
    double when
    unsigned long long seq
    PyObject *timer        # owned reference to a TimerHandle


cdef class TimerHeap:
    cdef TimerSlot *_slots
    cdef Py_ssize_t _size
    cdef Py_ssize_t _capacity
    cdef unsigned long long _next_seq

    cdef void _sift_up(self, Py_ssize_t i, TimerSlot slot) noexcept
    cdef void _sift_down(self, Py_ssize_t i, TimerSlot slot) noexcept
    cdef int push(self, TimerHandle timer) except -1
    cdef TimerHandle pop(self)
    cdef int remove(self, TimerHandle timer) except -1
    cdef void clear(self)

    cdef inline double first_when(self) noexcept:
        # Call only when the heap is not empty.
        return self._slots[0].when
