"""Readiness callbacks on file descriptors: add_reader/add_writer and removal.

The registrations live in the compiled core (an fd-indexed table and the
poller); this module turns file objects into fds and keeps fds owned by a
transport out of reach, as asyncio does.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from aioloop.loop._host import LoopHost

FileLike = Any  # an int fd or an object with fileno()


def fileobj_to_fd(fileobj: FileLike) -> int:
    """Return the fd of an int or of an object with fileno().

    Raises ValueError for anything else or a negative fd (the selectors
    module's errors, which asyncio users see).
    """
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


class FdIOMixin(LoopHost):
    """add_reader, remove_reader, add_writer, remove_writer."""

    def _init_fdio(self) -> None:
        # fd -> transport, filled by the transports (networking); a user's
        # add_reader on such an fd would steal the transport's events.
        # Weak values, as in asyncio: a transport nobody holds any more must
        # still be collectable (and warn that it was never closed).
        self._transports: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        # fd -> the file object (not an int) add_reader/add_writer last got
        # for it.  Once that object is closed its fileno() is -1; asyncio's
        # selector still finds the registration by the object itself, and
        # code that closes a socket before removing its reader (anyio) relies
        # on that, or the stale registration would swallow the events of the
        # next socket given the same fd number.
        self._fileobjs: dict[int, Any] = {}

    def _ensure_fd_no_transport(self, fd: FileLike) -> None:
        fileno = fd
        if not isinstance(fileno, int):
            try:
                fileno = int(fileno.fileno())
            except (AttributeError, TypeError, ValueError):
                raise ValueError(f"Invalid file object: {fd!r}") from None
        transport = self._transports.get(fileno)
        if transport is not None and not transport.is_closing():
            raise RuntimeError(
                f"File descriptor {fd!r} is used by transport {transport!r}")

    def _registered_fd(self, fileobj: FileLike) -> int:
        # The fd of fileobj, or, if it has none any more (closed), the fd it
        # was registered with.
        try:
            return fileobj_to_fd(fileobj)
        except ValueError:
            if not isinstance(fileobj, int):
                for fd, obj in self._fileobjs.items():
                    if obj is fileobj:
                        return fd
            raise

    def _note_fileobj(self, fd: int, fileobj: FileLike) -> None:
        if not isinstance(fileobj, int):
            self._fileobjs[fd] = fileobj

    def _forget_fileobj(self, fd: int) -> None:
        if (fd in self._fileobjs and self._get_reader(fd) is None
                and self._get_writer(fd) is None):
            del self._fileobjs[fd]

    def add_reader(  # type: ignore[override]
            self, fd: FileLike, callback: Callable[..., object], *args: Any) -> None:
        """Call callback(*args) whenever fd is readable (replacing any
        previous reader).  Raises ValueError for a bad file object, OSError
        (e.g. PermissionError for a regular file) if the poller refuses it,
        RuntimeError if the loop is closed or a transport owns fd."""
        self._ensure_fd_no_transport(fd)
        fileno = fileobj_to_fd(fd)
        self._add_reader(fileno, callback, *args)
        self._note_fileobj(fileno, fd)

    def remove_reader(self, fd: FileLike) -> bool:
        """Stop watching fd for reading; return True if it was watched.
        A file object closed since it was registered is still found."""
        return self._remove_io_of(fd, self._remove_reader)

    def add_writer(  # type: ignore[override]
            self, fd: FileLike, callback: Callable[..., object], *args: Any) -> None:
        """Call callback(*args) whenever fd is writable (see add_reader)."""
        self._ensure_fd_no_transport(fd)
        fileno = fileobj_to_fd(fd)
        self._add_writer(fileno, callback, *args)
        self._note_fileobj(fileno, fd)

    def remove_writer(self, fd: FileLike) -> bool:
        """Stop watching fd for writing; return True if it was watched
        (see remove_reader)."""
        return self._remove_io_of(fd, self._remove_writer)

    def _remove_io_of(self, fileobj: FileLike, remove: Callable[[int], bool]) -> bool:
        self._ensure_fd_no_transport(fileobj)
        fd = self._registered_fd(fileobj)
        try:
            removed = remove(fd)
        except OSError:
            # fd was closed while watched for both reading and writing, and
            # the poller refused to keep the other half (EBADF).  asyncio's
            # selector then drops the whole registration and re-raises.
            self._remove_reader(fd)
            self._remove_writer(fd)
            self._fileobjs.pop(fd, None)
            raise
        self._forget_fileobj(fd)
        return removed
