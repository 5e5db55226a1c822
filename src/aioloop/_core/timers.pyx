# cython: language_level=3
"""The timer heap (see timers.pxd for its layout and why)."""

from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF
from libc.math cimport INFINITY
from libc.stdlib cimport malloc, realloc, free

from aioloop._core.handles cimport TimerHandle

cdef enum:
    ARITY = 4
    # Below this many cancelled timers the heap is never rebuilt (asyncio's
    # _MIN_SCHEDULED_TIMER_HANDLES): a rebuild would cost more than it frees.
    MIN_CANCELLED_TO_COMPACT = 100


cdef inline bint _before(const TimerSlot *a, const TimerSlot *b) noexcept:
    if a.when != b.when:
        return a.when < b.when
    return a.seq < b.seq


cdef class TimerHeap:

    def __cinit__(self):
        self._capacity = 256
        self._slots = <TimerSlot*>malloc(self._capacity * sizeof(TimerSlot))
        if self._slots == NULL:
            raise MemoryError()
        self._size = 0
        self._cancelled = 0
        self._next_seq = 0

    def __dealloc__(self):
        self.clear()
        free(self._slots)
        self._slots = NULL

    def __len__(self):
        return self.live()

    cdef void _sift_up(self, Py_ssize_t i, TimerSlot slot) noexcept:
        # Place `slot` at hole i, moving parents down while it beats them.
        cdef Py_ssize_t parent
        while i > 0:
            parent = (i - 1) // ARITY
            if not _before(&slot, &self._slots[parent]):
                break
            self._slots[i] = self._slots[parent]
            i = parent
        self._slots[i] = slot

    cdef void _sift_down(self, Py_ssize_t i, TimerSlot slot) noexcept:
        # Place `slot` at hole i, moving the smallest child up while it
        # beats the slot.
        cdef Py_ssize_t first, best, c, last
        cdef Py_ssize_t n = self._size
        while True:
            first = ARITY * i + 1
            if first >= n:
                break
            best = first
            last = first + ARITY
            if last > n:
                last = n
            for c in range(first + 1, last):
                if _before(&self._slots[c], &self._slots[best]):
                    best = c
            if not _before(&self._slots[best], &slot):
                break
            self._slots[i] = self._slots[best]
            i = best
        self._slots[i] = slot

    cdef int push(self, TimerHandle timer) except -1:
        cdef TimerSlot *slots
        cdef TimerSlot slot
        if self._size == self._capacity:
            slots = <TimerSlot*>realloc(self._slots, 2 * self._capacity * sizeof(TimerSlot))
            if slots == NULL:
                raise MemoryError()
            self._slots = slots
            self._capacity *= 2
        timer._seq = self._next_seq
        self._next_seq += 1
        timer._in_heap = True
        Py_INCREF(timer)
        # A NaN deadline is due at once, as in asyncio (whose "not yet due"
        # test is false for NaN); kept as NaN it would never be due, and no
        # timer behind it either.
        slot.when = timer._when if timer._when == timer._when else -INFINITY
        slot.seq = timer._seq
        slot.timer = <PyObject*>timer
        self._size += 1
        self._sift_up(self._size - 1, slot)
        return 0

    cdef TimerHandle pop(self):
        # Remove and return the earliest timer, cancelled or not; the heap
        # must not be empty.
        cdef TimerHandle timer = <TimerHandle>self._slots[0].timer  # new reference
        Py_DECREF(timer)                                             # drop the heap's
        self._size -= 1
        if self._size > 0:
            self._sift_down(0, self._slots[self._size])
        timer._in_heap = False
        if timer._cancelled:
            self._cancelled -= 1
        return timer

    cdef int note_cancelled(self) except -1:
        # A timer still in the heap was cancelled.
        self._cancelled += 1
        if self._cancelled >= MIN_CANCELLED_TO_COMPACT and self._cancelled * 2 > self._size:
            self.compact()
        return 0

    cdef int drop_cancelled_head(self) except -1:
        # Pop cancelled timers off the top, so that first_when() is the
        # deadline of a timer that will really fire.
        while self._size and (<TimerHandle>self._slots[0].timer)._cancelled:
            self.pop()
        return 0

    cdef int compact(self) except -1:
        # Rebuild the heap from its live timers.  Cancelled ones are moved
        # to the tail first and released only once the heap is whole again:
        # releasing a handle can run arbitrary code (a finalizer in its
        # context) that may schedule a timer.
        cdef Py_ssize_t i, live = 0, n = self._size
        cdef TimerSlot tmp
        cdef TimerHandle timer
        cdef list dead
        for i in range(n):
            if not (<TimerHandle>self._slots[i].timer)._cancelled:
                if i != live:
                    tmp = self._slots[live]
                    self._slots[live] = self._slots[i]
                    self._slots[i] = tmp
                live += 1
        self._size = live
        self._cancelled = 0
        i = (live - 2) // ARITY
        while i >= 0:
            self._sift_down(i, self._slots[i])
            i -= 1
        dead = []
        for i in range(live, n):
            timer = <TimerHandle>self._slots[i].timer   # a new reference...
            Py_DECREF(timer)                             # ...replacing the heap's
            timer._in_heap = False
            dead.append(timer)
        return 0                                         # `dead` goes here

    cdef void clear(self):
        cdef PyObject *timer
        self._cancelled = 0
        while self._size > 0:
            self._size -= 1
            timer = self._slots[self._size].timer
            (<TimerHandle>timer)._in_heap = False
            # Never to run (the loop is closing): drop what it would have
            # called, as cancel() does (see CoreLoop._close_core).
            (<TimerHandle>timer)._callback = None
            (<TimerHandle>timer)._args = None
            Py_DECREF(<object>timer)
