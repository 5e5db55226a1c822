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

    def add_reader(  # type: ignore[override]
            self, fd: FileLike, callback: Callable[..., object], *args: Any) -> None:
        """Call callback(*args) whenever fd is readable (replacing any
        previous reader).  Raises ValueError for a bad file object, OSError
        (e.g. PermissionError for a regular file) if the poller refuses it,
        RuntimeError if the loop is closed or a transport owns fd."""
        self._ensure_fd_no_transport(fd)
        self._add_reader(fileobj_to_fd(fd), callback, *args)

    def remove_reader(self, fd: FileLike) -> bool:
        """Stop watching fd for reading; return True if it was watched."""
        self._ensure_fd_no_transport(fd)
        return self._remove_reader(fileobj_to_fd(fd))

    def add_writer(  # type: ignore[override]
            self, fd: FileLike, callback: Callable[..., object], *args: Any) -> None:
        """Call callback(*args) whenever fd is writable (see add_reader)."""
        self._ensure_fd_no_transport(fd)
        self._add_writer(fileobj_to_fd(fd), callback, *args)

    def remove_writer(self, fd: FileLike) -> bool:
        """Stop watching fd for writing; return True if it was watched."""
        self._ensure_fd_no_transport(fd)
        return self._remove_writer(fileobj_to_fd(fd))
