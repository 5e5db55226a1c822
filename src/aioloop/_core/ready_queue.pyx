# cython: language_level=3
"""The ready queue's out-of-line parts: growth and teardown (see the .pxd)."""

from cpython.ref cimport PyObject, Py_XDECREF
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy

cdef enum:
    INITIAL_CAPACITY = 1024


cdef class ReadyQueue:

    def __cinit__(self):
        self._items = <PyObject**>malloc(INITIAL_CAPACITY * sizeof(PyObject*))
        if self._items == NULL:
            raise MemoryError()
        self._head = 0
        self._size = 0
        self._mask = INITIAL_CAPACITY - 1

    def __dealloc__(self):
        self.clear()
        free(self._items)
        self._items = NULL

    def __len__(self):
        return self._size

    cdef int _grow(self) except -1:
        # Double the ring.  The ring is full, so the items run from head to
        # the end and then wrap to [0, head); copying [0, head) to just past
        # the old end makes them one contiguous run starting at head.
        cdef Py_ssize_t cap = self._mask + 1
        cdef PyObject **items = <PyObject**>realloc(self._items, 2 * cap * sizeof(PyObject*))
        if items == NULL:
            raise MemoryError()
        if self._head != 0:
            memcpy(&items[cap], &items[0], self._head * sizeof(PyObject*))
        self._items = items
        self._mask = 2 * cap - 1
        return 0

    cdef void clear(self):
        cdef PyObject *item
        while self._size > 0:
            item = self.pop_owned()
            Py_XDECREF(item)
