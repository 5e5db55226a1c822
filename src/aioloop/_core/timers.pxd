# The timer heap: scheduled TimerHandles ordered by (deadline, insertion).
#
# An indexed binary min-heap of owned references.  Each timer remembers its
# slot (TimerHandle._heap_index), so cancel() removes it at once in O(log n)
# instead of leaving a tombstone for the loop to skip later: a program that
# schedules and cancels timeouts all day keeps the heap at its live size.

from cpython.ref cimport PyObject
from aioloop._core.handles cimport TimerHandle


cdef class TimerHeap:
    cdef PyObject **_items
    cdef Py_ssize_t _size
    cdef Py_ssize_t _capacity
    cdef unsigned long long _next_seq

    cdef void _place(self, Py_ssize_t i, PyObject *item) noexcept
    cdef void _sift_up(self, Py_ssize_t i) noexcept
    cdef void _sift_down(self, Py_ssize_t i) noexcept
    cdef int push(self, TimerHandle timer) except -1
    cdef TimerHandle pop(self)
    cdef int remove(self, TimerHandle timer) except -1
    cdef void clear(self)

    cdef inline double first_when(self) noexcept:
        # Call only when the heap is not empty.
        return (<TimerHandle>self._items[0])._when
