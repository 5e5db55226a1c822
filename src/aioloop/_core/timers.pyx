# cython: language_level=3
"""The timer heap (see timers.pxd for its layout and why)."""

from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF
from libc.stdlib cimport malloc, realloc, free

from aioloop._core.handles cimport TimerHandle

cdef enum:
    ARITY = 4


cdef inline bint _before(const TimerSlot *a, const TimerSlot *b) noexcept:
    if a.when != b.when:
        return a.when < b.when
    return a.seq < b.seq


cdef inline void _set_index(PyObject *timer, Py_ssize_t i) noexcept:
    # A borrowed cast: no reference counting on the sift path.
    (<TimerHandle>timer)._heap_index = i


cdef class TimerHeap:

    def __cinit__(self):
        self._capacity = 256
        self._slots = <TimerSlot*>malloc(self._capacity * sizeof(TimerSlot))
        if self._slots == NULL:
            raise MemoryError()
        self._size = 0
        self._next_seq = 0

    def __dealloc__(self):
        self.clear()
        free(self._slots)
        self._slots = NULL

    def __len__(self):
        return self._size

    cdef void _sift_up(self, Py_ssize_t i, TimerSlot slot) noexcept:
        # Place `slot` at hole i, moving parents down while it beats them.
        cdef Py_ssize_t parent
        while i > 0:
            parent = (i - 1) // ARITY
            if not _before(&slot, &self._slots[parent]):
                break
            self._slots[i] = self._slots[parent]
            _set_index(self._slots[i].timer, i)
            i = parent
        self._slots[i] = slot
        _set_index(slot.timer, i)

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
            _set_index(self._slots[i].timer, i)
            i = best
        self._slots[i] = slot
        _set_index(slot.timer, i)

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
        Py_INCREF(timer)
        slot.when = timer._when
        slot.seq = timer._seq
        slot.timer = <PyObject*>timer
        self._size += 1
        self._sift_up(self._size - 1, slot)
        return 0

    cdef TimerHandle pop(self):
        # Remove and return the earliest timer; the heap must not be empty.
        cdef TimerHandle timer = <TimerHandle>self._slots[0].timer  # new reference
        Py_DECREF(timer)                                             # drop the heap's
        self._size -= 1
        if self._size > 0:
            self._sift_down(0, self._slots[self._size])
        timer._heap_index = -1
        return timer

    cdef int remove(self, TimerHandle timer) except -1:
        cdef Py_ssize_t i = timer._heap_index
        cdef TimerSlot moved
        if i < 0 or i >= self._size or self._slots[i].timer != <PyObject*>timer:
            return 0
        timer._heap_index = -1
        self._size -= 1
        if i != self._size:
            # The last slot fills the hole; it may belong above or below it.
            moved = self._slots[self._size]
            if i > 0 and _before(&moved, &self._slots[(i - 1) // ARITY]):
                self._sift_up(i, moved)
            else:
                self._sift_down(i, moved)
        Py_DECREF(timer)
        return 0

    cdef void clear(self):
        cdef PyObject *timer
        while self._size > 0:
            self._size -= 1
            timer = self._slots[self._size].timer
            _set_index(timer, -1)
            Py_DECREF(<object>timer)
