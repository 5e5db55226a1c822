"""Unix signal handlers: add_signal_handler / remove_signal_handler.

Python's C-level signal handler writes the signal number to a wake-up fd
(signal.set_wakeup_fd); the loop watches that fd like any other and runs the
handler as an ordinary callback, so a handler never runs inside a signal
context and may use the loop freely.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from aioloop._core.debug import asyncio_logger
from aioloop.loop._host import LoopHost


def _noop_signal_handler(signum: int, frame: Any) -> None:
    # Installed so Python writes the signal number to the wake-up fd; the
    # real work happens in the loop.
    pass


def _check_signal(sig: Any) -> None:
    if not isinstance(sig, int):
        raise TypeError(f"sig must be an int, not {sig!r}")
    if sig not in signal.valid_signals():
        raise ValueError(f"invalid signal number {sig}")


class SignalsMixin(LoopHost):
    """add_signal_handler, remove_signal_handler."""

    def _init_signals(self) -> None:
        self._signal_handlers: dict[int, Any] = {}
        self._signal_socks: tuple[socket.socket, socket.socket] | None = None

    def _open_signal_socks(self) -> socket.socket:
        if self._signal_socks is None:
            rsock, wsock = socket.socketpair()
            rsock.setblocking(False)
            wsock.setblocking(False)
            self._signal_socks = (rsock, wsock)
            self._add_reader(rsock.fileno(), self._read_signals)
        return self._signal_socks[1]

    def _close_signal_socks(self) -> None:
        if self._signal_socks is not None:
            rsock, wsock = self._signal_socks
            self._signal_socks = None
            if not self._closed:
                self._remove_reader(rsock.fileno())
            rsock.close()
            wsock.close()

    def _read_signals(self) -> None:
        rsock = self._signal_socks[0] if self._signal_socks else None
        while rsock is not None:
            try:
                data = rsock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            for signum in data:
                if signum:
                    self._handle_signal(signum)

    def _handle_signal(self, sig: int) -> None:
        handle = self._signal_handlers.get(sig)
        if handle is None:
            return  # removed between the signal and now
        if handle.cancelled():
            self.remove_signal_handler(sig)
        else:
            self._add_callback_signalsafe(handle)

    def add_signal_handler(  # type: ignore[override]
            self, sig: int, callback: Callable[..., object], *args: Any) -> None:
        """Run callback(*args) on the loop whenever signal sig arrives.

        Raises TypeError for a coroutine callback or non-int sig, ValueError
        for an invalid signal, RuntimeError outside the main thread, for a
        signal that cannot be caught, or if the loop is closed.
        """
        if asyncio.iscoroutine(callback) or asyncio.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        _check_signal(sig)
        if self._closed:
            raise RuntimeError("Event loop is closed")
        wsock = self._open_signal_socks()
        try:
            # Raises ValueError outside the main thread: a loop in another
            # thread cannot take signals.
            signal.set_wakeup_fd(wsock.fileno())
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc)) from None
        self._signal_handlers[sig] = self._make_handle(callback, args)
        try:
            signal.signal(sig, _noop_signal_handler)
            # Restart interrupted system calls instead of failing with EINTR.
            signal.siginterrupt(sig, False)
        except OSError as exc:
            del self._signal_handlers[sig]
            if not self._signal_handlers:
                self._clear_wakeup_fd()
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig:d} cannot be caught") from None
            raise

    def remove_signal_handler(self, sig: int) -> bool:
        """Remove the handler for sig and restore the default disposition;
        return False if there was none.  Raises like add_signal_handler."""
        _check_signal(sig)
        try:
            del self._signal_handlers[sig]
        except KeyError:
            return False
        handler = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, handler)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig:d} cannot be caught") from None
            raise
        if not self._signal_handlers:
            self._clear_wakeup_fd()
        return True

    def _clear_wakeup_fd(self) -> None:
        try:
            signal.set_wakeup_fd(-1)
        except (ValueError, OSError) as exc:
            asyncio_logger().info("set_wakeup_fd(-1) failed: %s", exc)

    def _close_signals(self) -> None:
        if self._signal_handlers:
            if sys.is_finalizing():
                import warnings
                warnings.warn(f"Closing the loop {self!r} on interpreter shutdown "
                              f"stage, skipping signal handlers removal",
                              ResourceWarning, source=self, stacklevel=2)
                self._signal_handlers.clear()
            else:
                for sig in list(self._signal_handlers):
                    self.remove_signal_handler(sig)
        self._close_signal_socks()

    def _after_fork_signals(self) -> None:
        # The socket pair is shared with the parent after fork(): a signal
        # meant for one process could be read by the other.  Make our own.
        if self._signal_socks is None:
            return
        rsock, wsock = self._signal_socks
        self._signal_socks = None
        self._remove_reader(rsock.fileno())
        rsock.close()
        wsock.close()
        if self._signal_handlers:
            new_wsock = self._open_signal_socks()
            try:
                signal.set_wakeup_fd(new_wsock.fileno())
            except (ValueError, OSError):
                pass  # forked from a non-main thread: no signals here
