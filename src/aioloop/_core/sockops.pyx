# cython: language_level=3
"""Compiled paths of sock_recv, sock_recv_into and sock_sendall.

asyncio's versions call the socket's Python methods and learn "not ready" from
a BlockingIOError, which Python must create, raise and catch; then they wait
through a Future, a done-callback and a functools.partial.  Here the system
calls are made from C and EAGAIN is a return code; a waiting operation is one
small object that the loop calls back from C (an IOTarget) and that completes
the Future itself.  The coroutines in aioloop/loop/sockets.py wrap these and
keep asyncio's signatures, checks and cancellation behaviour.
"""

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_CheckExact, PyBytes_GET_SIZE
from libc.errno cimport errno, EBADF

import os
import weakref

from aioloop._core.core cimport CoreLoop, RECV_BUFFER_SIZE
from aioloop._core.handles cimport Handle, IOTarget
from aioloop._core.poller cimport EV_READ, EV_WRITE

from aioloop._core.rawio cimport MSG_NOSIGNAL, send as c_send, recv as c_recv, would_block

cdef extern from "recvbytes.h":
    Py_ssize_t aioloop_pending(int fd) nogil
    object aioloop_recv_bytes(int fd, Py_ssize_t want, int is_socket, int *err)

cdef enum:
    # From this size on, sock_recv(n) receives straight into an n-byte bytes
    # object (shrunk in place) instead of copying out of the loop's buffer.
    LARGE_READ = 32768
    # Below glibc's default mmap threshold: allocating this much per call
    # stays on the heap.
    DIRECT_RECV_MAX = 131072
    OP_RECV = 0
    OP_RECV_INTO = 1
    OP_SENDALL = 2

# Returned by the try_* functions when the socket is not ready.
cdef object NOT_READY = object()


cdef inline object _oserror(int err):
    return OSError(err, os.strerror(err))


cdef object _recv_now(CoreLoop loop, int fd, Py_ssize_t n):
    # Small messages: receive into the loop's buffer and copy out what came.
    # Large ones (a large request with a large amount waiting, per FIONREAD):
    # receive straight into a bytes object of the size waiting (no copy), so
    # neither a small message in a large request nor a sock_recv(sock,
    # 1 << 20) allocates (and mmaps) a large buffer per call the way
    # socket.recv() does.
    cdef char *buf
    cdef ssize_t got
    cdef Py_ssize_t want = n
    cdef int err = 0
    if n < 0:
        raise ValueError("negative buffersize in recv")
    if n >= LARGE_READ:
        # Size the read by what is waiting: a large request that finds a
        # small message should not allocate (and shrink) a large buffer.
        want = aioloop_pending(fd)
        if want > n or (want < 0 and n <= DIRECT_RECV_MAX):
            want = n
    if want >= LARGE_READ:
        data = aioloop_recv_bytes(fd, want, 1, &err)
        if data is None:
            if would_block(err):
                return NOT_READY
            raise _oserror(err)
        return data
    buf = loop.recv_buffer()
    got = c_recv(fd, buf, min(n, RECV_BUFFER_SIZE), 0)
    if got < 0:
        if would_block(errno):
            return NOT_READY
        raise _oserror(errno)
    return PyBytes_FromStringAndSize(buf, got)


cdef object _recv_into_now(int fd, object target, Py_ssize_t nbytes):
    cdef Py_buffer view
    cdef ssize_t got
    cdef int err
    try:
        PyObject_GetBuffer(target, &view, PyBUF_WRITABLE)
    except (BufferError, TypeError):
        # socket.recv_into()'s error, which asyncio's sock_recv_into raises.
        raise TypeError(f'recv_into() argument 1 must be read-write bytes-like object, '
                        f'not {type(target).__name__}') from None
    try:
        if nbytes <= 0 or nbytes > view.len:
            nbytes = view.len
        got = c_recv(fd, view.buf, nbytes, 0)
        err = errno
    finally:
        PyBuffer_Release(&view)
    if got < 0:
        if would_block(err):
            return NOT_READY
        raise _oserror(err)
    return got


cdef Py_ssize_t _send_some(int fd, object data, Py_ssize_t pos) except -2:
    # Send data[pos:]; returns bytes sent, -1 when the socket is full.
    cdef Py_buffer view
    cdef ssize_t n
    cdef int err
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        n = c_send(fd, <char*>view.buf + pos, view.len - pos, MSG_NOSIGNAL)
        err = errno
    finally:
        PyBuffer_Release(&view)
    if n < 0:
        if would_block(err):
            return -1
        raise _oserror(err)
    return n


cdef class SockWaiter(IOTarget):
    """One socket operation waiting for readiness; completes ``fut``."""

    cdef CoreLoop _loop
    cdef readonly object fut
    cdef object _target       # recv_into's buffer, sendall's data
    cdef Py_ssize_t _n        # recv size / recv_into nbytes / sendall length
    cdef Py_ssize_t _pos      # sendall progress
    cdef int _fd
    cdef int _op
    cdef bint _registered
    cdef Handle _handle       # our registration; cancelled once replaced
    cdef object _sockref      # weakref to the socket, to recognise it when parked

    cdef int _io_ready(self, int token) except -1:
        cdef object result
        cdef Py_ssize_t sent
        if self._handle._parked or self.fut.done():
            # Parked: the socket became readable (data, EOF, an error)
            # with nobody waiting; the next sock_recv() will find it so.
            self._unregister()
            return 0
        try:
            if self._op == OP_RECV:
                result = _recv_now(self._loop, self._fd, self._n)
            elif self._op == OP_RECV_INTO:
                result = _recv_into_now(self._fd, self._target, self._n)
            else:
                sent = _send_some(self._fd, self._target, self._pos)
                if sent < 0:
                    return 0
                self._pos += sent
                if self._pos < self._n:
                    return 0
                result = None
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._unregister()
            self.fut.set_exception(exc)
            return 0
        if result is NOT_READY:
            return 0
        fut = self.fut
        if self._op == OP_SENDALL or self._sockref is None:
            self._unregister()
        else:
            self._park()
        fut.set_result(result)
        return 0

    cdef int _park(self) except -1:
        # Keep the reader registration for the next receive on this socket:
        # a server's next sock_recv() comes a moment later and would
        # otherwise cost an epoll_ctl() to remove it and one to add it back.
        # (Writes are not parked: a socket is almost always writable, so a
        # kept writer registration would only fire at once.)
        self._handle._parked = True
        self._target = None
        self.fut = None        # nor keep the last result alive while idle
        return 0

    cdef int _unregister(self) except -1:
        if self._op == OP_SENDALL and self._target is not None:
            # Done, failed or cancelled: give the caller's buffer back.
            if isinstance(self._target, memoryview):
                self._target.release()
            self._target = None
        if self._registered:
            self._registered = False
            # Someone else's add_reader/sock_recv on this fd replaced (and
            # cancelled) our handle: the registration is theirs now.
            if not self._loop._closed and not self._handle._cancelled:
                self._loop._remove_io(self._fd, EV_WRITE if self._op == OP_SENDALL else EV_READ)
        return 0

    def cancel(self, fut=None):
        """Stop waiting (the awaiting coroutine was cancelled).  With fut,
        only if this waiter still serves that future: a parked waiter may
        have been taken over by a later call."""
        if fut is not None and fut is not self.fut:
            return
        self._unregister()


cdef object _weakref_or_none(object sock):
    # A socket-like object without weak reference support is simply never
    # parked (its registration is removed after each receive).
    try:
        return weakref.ref(sock)
    except TypeError:
        return None


cdef SockWaiter _reuse_parked(CoreLoop loop, int fd, object sock, int op, object target,
                              Py_ssize_t n):
    # The parked reader registration of this very socket, made ready for
    # another receive; None when there is none.
    cdef Handle h
    cdef SockWaiter w
    if fd >= loop._fd_capacity or loop._readers[fd] == NULL:
        return None
    h = <Handle>loop._readers[fd]
    if not h._parked or not isinstance(h._io_target, SockWaiter):
        return None
    w = <SockWaiter>h._io_target
    if w._sockref is None or w._sockref() is not sock:
        return None        # another socket now has this fd number
    h._parked = False
    w._op = op
    w._target = target
    w._n = n
    w._pos = 0
    w.fut = (<object>loop).create_future()
    return w


cdef SockWaiter _wait(CoreLoop loop, int fd, int op, object target, Py_ssize_t n, Py_ssize_t pos):
    cdef SockWaiter w = SockWaiter.__new__(SockWaiter)
    w._loop = loop
    w._fd = fd
    w._op = op
    w._target = target
    w._n = n
    w._pos = pos
    w.fut = (<object>loop).create_future()
    w._handle = loop._add_io_target(fd, EV_WRITE if op == OP_SENDALL else EV_READ, w, 0)
    w._registered = True
    return w


cdef SockWaiter _wait_readable(CoreLoop loop, int fd, object sock, int op, object target,
                              Py_ssize_t n):
    # A receive that has to wait: take over this socket's parked reader
    # registration if it has one, else register afresh.
    cdef SockWaiter w = _reuse_parked(loop, fd, sock, op, target, n)
    if w is not None:
        return w
    (<object>loop)._ensure_fd_no_transport(fd)
    w = _wait(loop, fd, op, target, n, 0)
    w._sockref = _weakref_or_none(sock)
    return w


def recv(CoreLoop loop, sock, Py_ssize_t n):
    """bytes now, or a SockWaiter whose fut will have them."""
    cdef int fd = sock.fileno()
    result = _recv_now(loop, fd, n)
    if result is not NOT_READY:
        return result
    return _wait_readable(loop, fd, sock, OP_RECV, None, n)


def recv_into(CoreLoop loop, sock, buf, Py_ssize_t nbytes=0):
    """The byte count now, or a SockWaiter whose fut will have it."""
    cdef int fd = sock.fileno()
    result = _recv_into_now(fd, buf, nbytes)
    if result is not NOT_READY:
        return result
    return _wait_readable(loop, fd, sock, OP_RECV_INTO, buf, nbytes)


def sendall(CoreLoop loop, sock, data):
    """None when all was sent now, else a SockWaiter for the rest."""
    cdef int fd = sock.fileno()
    cdef Py_buffer view
    cdef Py_ssize_t total
    cdef Py_ssize_t sent = 0
    if PyBytes_CheckExact(data):
        total = PyBytes_GET_SIZE(data)
    else:
        try:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        except TypeError:
            # socket.send()'s words (asyncio's sock_sendall calls it).
            raise TypeError(f"a bytes-like object is required, not "
                            f"'{type(data).__name__}'") from None
        total = view.len
        PyBuffer_Release(&view)
    if fd < 0:
        raise _oserror(EBADF)      # a closed socket, even for b'' (as send())
    if total == 0:
        return None
    sent = _send_some(fd, data, 0)
    if sent < 0:
        sent = 0
    if sent == total:
        return None
    (<object>loop)._ensure_fd_no_transport(fd)
    if not PyBytes_CheckExact(data):
        # Hold an export while waiting, as asyncio holds a memoryview: a
        # bytearray then cannot be resized under the send (BufferError)
        # instead of being read past its end.  Released when done.
        data = memoryview(data)
    return _wait(loop, fd, OP_SENDALL, data, total, sent)
