# The ready queue: handles to run in the next loop iteration, FIFO.
#
# A power-of-two ring of owned PyObject* references.  collections.deque would
# do, but every append/popleft then goes through Python's call machinery; here
# both are a few instructions, inlined into the loop.

from cpython.ref cimport PyObject, Py_INCREF
from libc.stdlib cimport malloc, realloc, free


cdef class ReadyQueue:
    cdef PyObject **_items
    cdef Py_ssize_t _head    # index of the oldest item
    cdef Py_ssize_t _size    # number of items
    cdef Py_ssize_t _mask    # capacity - 1 (capacity is a power of two)

    cdef int _grow(self) except -1
    cdef void clear(self)

    cdef inline int push(self, object item) except -1:
        if self._size > self._mask:
            self._grow()
        Py_INCREF(item)
        self._items[(self._head + self._size) & self._mask] = <PyObject*>item
        self._size += 1
        return 0

    cdef inline PyObject* pop_owned(self) noexcept:
        # The caller takes over the reference (wrap it with <object> and
        # Py_DECREF once, or use pop()).  Call only when size > 0.
        cdef PyObject *item = self._items[self._head]
        self._head = (self._head + 1) & self._mask
        self._size -= 1
        return item
