# cython: language_level=3
"""The timer heap (see timers.pxd for why it is indexed)."""

from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF
from libc.stdlib cimport malloc, realloc, free

from aioloop._core.handles cimport TimerHandle


cdef inline bint _before(PyObject *a, PyObject *b) noexcept:
    cdef TimerHandle x = <TimerHandle>a
    cdef TimerHandle y = <TimerHandle>b
    if x._when != y._when:
        return x._when < y._when
    return x._seq < y._seq


cdef class TimerHeap:

    def __cinit__(self):
        self._capacity = 256
        self._items = <PyObject**>malloc(self._capacity * sizeof(PyObject*))
        if self._items == NULL:
            raise MemoryError()
        self._size = 0
        self._next_seq = 0

    def __dealloc__(self):
        self.clear()
        free(self._items)
        self._items = NULL

    def __len__(self):
        return self._size

    cdef void _place(self, Py_ssize_t i, PyObject *item) noexcept:
        self._items[i] = item
        (<TimerHandle>item)._heap_index = i

    cdef void _sift_up(self, Py_ssize_t i) noexcept:
        cdef PyObject *item = self._items[i]
        cdef Py_ssize_t parent
        while i > 0:
            parent = (i - 1) >> 1
            if not _before(item, self._items[parent]):
                break
            self._place(i, self._items[parent])
            i = parent
        self._place(i, item)

    cdef void _sift_down(self, Py_ssize_t i) noexcept:
        cdef PyObject *item = self._items[i]
        cdef Py_ssize_t child
        cdef Py_ssize_t n = self._size
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and _before(self._items[child + 1], self._items[child]):
                child += 1
            if not _before(self._items[child], item):
                break
            self._place(i, self._items[child])
            i = child
        self._place(i, item)

    cdef int push(self, TimerHandle timer) except -1:
        cdef PyObject **items
        if self._size == self._capacity:
            items = <PyObject**>realloc(self._items, 2 * self._capacity * sizeof(PyObject*))
            if items == NULL:
                raise MemoryError()
            self._items = items
            self._capacity *= 2
        timer._seq = self._next_seq
        self._next_seq += 1
        Py_INCREF(timer)
        self._items[self._size] = <PyObject*>timer
        self._size += 1
        self._sift_up(self._size - 1)
        return 0

    cdef TimerHandle pop(self):
        # Remove and return the earliest timer; the heap must not be empty.
        cdef PyObject *first = self._items[0]
        cdef TimerHandle timer = <TimerHandle>first   # takes a new reference
        Py_DECREF(timer)                              # drop the heap's one
        self._size -= 1
        if self._size > 0:
            self._items[0] = self._items[self._size]
            self._sift_down(0)
        timer._heap_index = -1
        return timer

    cdef int remove(self, TimerHandle timer) except -1:
        cdef Py_ssize_t i = timer._heap_index
        cdef PyObject *moved
        if i < 0 or i >= self._size or self._items[i] != <PyObject*>timer:
            return 0
        timer._heap_index = -1
        self._size -= 1
        if i != self._size:
            # The last item fills the hole; it may belong above or below it.
            moved = self._items[self._size]
            self._place(i, moved)
            if i > 0 and _before(moved, self._items[(i - 1) >> 1]):
                self._sift_up(i)
            else:
                self._sift_down(i)
        Py_DECREF(timer)
        return 0

    cdef void clear(self):
        cdef Py_ssize_t i
        cdef PyObject *item
        while self._size > 0:
            self._size -= 1
            item = self._items[self._size]
            (<TimerHandle>item)._heap_index = -1
            Py_DECREF(<object>item)
