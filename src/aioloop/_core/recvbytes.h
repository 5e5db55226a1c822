/* Receiving straight into a bytes object (used by stream.pyx and sockops.pyx).
 *
 * For large reads, copying out of the loop's shared buffer costs a memcpy of
 * every byte; receiving into the bytes object the caller gets, then shrinking
 * it in place, costs none.
 */
#ifndef AIOLOOP_RECVBYTES_H
#define AIOLOOP_RECVBYTES_H

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
#include "rawio.h"

/* Cuts shorter than this keep the bytes object's block as it is. */
#define AIOLOOP_SHRINK_IN_PLACE 32

/* Bytes waiting in the socket or pipe, or -1. */
static inline Py_ssize_t aioloop_pending(int fd) {
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 ? (Py_ssize_t)n : -1;
}

/* Cut bytes object `b`, whose block holds `*cap` bytes, to its first n.
   Steals the reference to b, which must be the only one, and returns the
   cut object (the same one, or moved by realloc), or NULL on a Python
   error.  In place when fewer than `keep` bytes would be freed (below
   AIOLOOP_SHRINK_IN_PLACE, what realloc() does then anyway), else
   realloc(); *cap becomes what the block now holds. */
static PyObject *aioloop_bytes_cut(PyObject *b, Py_ssize_t *cap, Py_ssize_t n,
                                   Py_ssize_t keep) {
    if (*cap - n < keep) {
        Py_SET_SIZE(b, n);
        PyBytes_AS_STRING(b)[n] = '\0';
        return b;
    }
    if (_PyBytes_Resize(&b, n) < 0) return NULL;
    *cap = n;
    return b;
}

/* Receive up to `want` bytes straight into a new bytes object, cut
   to what came.  Returns the object, or None with *err set
   (EAGAIN included); NULL only on a Python error (no memory). */
static inline PyObject *aioloop_recv_bytes(int fd, Py_ssize_t want, int is_socket, int *err) {
    PyObject *b = PyBytes_FromStringAndSize(NULL, want);
    if (b == NULL) return NULL;
    ssize_t n = is_socket ? aioloop_recv(fd, PyBytes_AS_STRING(b), (size_t)want, 0)
                          : aioloop_read(fd, PyBytes_AS_STRING(b), (size_t)want);
    if (n < 0) {
        *err = errno;
        Py_DECREF(b);
        Py_RETURN_NONE;
    }
    *err = 0;
    Py_ssize_t cap = want;
    return aioloop_bytes_cut(b, &cap, n, AIOLOOP_SHRINK_IN_PLACE);
}

/* Give a bytes object that only the caller references `size` bytes again
   (size <= its block's capacity) for another read: nothing else can see
   it, so it may change; its cached hash is dropped. */
static inline void aioloop_bytes_reopen(PyObject *b, Py_ssize_t size) {
    Py_SET_SIZE(b, size);
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    ((PyBytesObject *)b)->ob_shash = -1;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
}

#endif
