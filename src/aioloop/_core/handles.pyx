# cython: language_level=3, freethreading_compatible=False
"""Callback handles: what call_soon, call_later and add_reader return.

They behave like asyncio.Handle / asyncio.TimerHandle (cancel, cancelled,
when, get_context, repr, ordering of timers), but are C types so that the
loop can create, queue and run them without touching Python-level
attributes.  They are not subclasses of asyncio.Handle: a C type cannot
inherit from a Python class.  docs/differences.md records this.
"""

cimport cython
from cpython.ref cimport PyObject, Py_DECREF, Py_XDECREF, Py_REFCNT
from cpython.contextvars cimport (PyContext_Copy, PyContext_CopyCurrent, PyContext_Enter,
                                  PyContext_Exit)

cdef extern from "Python.h":
    # A new reference, or NULL with an exception set (Cython raises it).
    object PyObject_Vectorcall(object callable, PyObject **args, size_t nargsf, PyObject *kwnames)

cdef extern from *:
    """
    /* Whether weak references to `o` exist (its type supports them). */
    static inline int aioloop_has_weakrefs(PyObject *o) {
        Py_ssize_t off = Py_TYPE(o)->tp_weaklistoffset;
        return off > 0 && *(PyObject **)((char *)o + off) != NULL;
    }
    """
    bint aioloop_has_weakrefs(object o) noexcept

cdef extern from "ctxshare.h":
    int aioloop_ctxshare_init() except -1
    object aioloop_capture_context(PyObject **template, PyObject **template_vars,
                                   PyObject **vars)
    object aioloop_private_context(object vars)
    bint aioloop_context_entered(object ctx)
    void aioloop_reset_context(object ctx, object vars)
    int aioloop_ctxshare_on

aioloop_ctxshare_init()

from aioloop._core import formatting


cdef class LoopBase:
    """The part of the loop that handles call back into (see handles.pxd)."""

    def __dealloc__(self):
        self._drop_context_template()

    cdef void _drop_context_template(self) noexcept:
        # Unhook both before releasing: releasing can run a finalizer.
        cdef PyObject *template = self._ctx_template
        cdef PyObject *template_vars = self._ctx_template_vars
        self._ctx_template = NULL
        self._ctx_template_vars = NULL
        Py_XDECREF(template)
        Py_XDECREF(template_vars)

    cdef int _timer_cancelled(self, TimerHandle timer) except -1:
        return 0


# Why handles are not tracked by the cyclic GC: a program that schedules
# thousands of callbacks at once (a fan-out, a burst of I/O) allocates that
# many handles, and every 700 tracked allocations trigger a young-generation
# collection that walks all of them; measured here, the collector took a
# fifth of the time of a 10k-callback batch.  The price is that a cycle
# through a handle is not collected, so the loop breaks the usual one
# (obj -> handle -> bound method of obj) itself: a one-shot handle drops its
# callback and arguments once it has run, and cancel() drops them at once.
cdef class IOTarget:
    """Base of compiled objects the loop calls back on fd readiness."""

    cdef int _io_ready(self, int token) except -1:
        return 0


@cython.no_gc
@cython.freelist(4096)
cdef class Handle:
    """A callback scheduled on the loop; cancel() stops it from running."""

    def __init__(self, *args, **kwargs):
        # Handles are made by the loop only (new_handle); asyncio's own Handle
        # is the class to use for a hand-made handle.
        raise TypeError(f"{type(self).__name__} objects are created by the event loop")

    cdef int _execute(self) except -1:
        # The equivalent of asyncio.Handle._run(): run the callback inside its
        # context, report any exception to the loop's exception handler and
        # carry on; only SystemExit and KeyboardInterrupt escape the loop.
        cdef object ctx = self._ctx
        cdef object shared_vars = self._shared_vars
        # Strong references for the duration of the call: the callback may
        # cancel this very handle (a transport closing itself from its
        # reader callback), which drops the handle's references; if those
        # were the last ones, the object running the callback would be
        # freed under it.
        cdef IOTarget target = self._io_target
        cdef object callback = self._callback
        cdef tuple args = self._args
        if shared_vars is not None:
            if aioloop_context_entered(ctx):
                # The shared Context is running already (a callback calling
                # another handle's _run()): this run needs its own.
                ctx = self._own_context()
                shared_vars = None
            else:
                aioloop_reset_context(ctx, shared_vars)
        try:
            PyContext_Enter(ctx)
            try:
                if target is not None:
                    target._io_ready(self._io_token)
                elif args is None or len(args) == 0:
                    # Straight to the callable (asyncio's Task step wrapper,
                    # a bound method): Cython's generic call adds ~50
                    # instructions of type tests to every callback.
                    PyObject_Vectorcall(callback, NULL, 0, NULL)
                else:
                    callback(*args)
            finally:
                PyContext_Exit(ctx)
        except (SystemExit, KeyboardInterrupt):
            if shared_vars is not None:
                aioloop_reset_context(ctx, shared_vars)
            raise
        except BaseException as exc:
            if shared_vars is not None:
                # The exception handler runs in the handle's context as the
                # callback left it (asyncio 3.12+): give the handle its own
                # copy of that before the shared one is reset.
                self._ctx = PyContext_Copy(ctx)
                self._shared_vars = None
                aioloop_reset_context(ctx, shared_vars)
            self._report_exception(exc)
            return 0
        if shared_vars is not None:
            # Whatever the callback set stays with it, not with the next
            # handle sharing this Context.
            aioloop_reset_context(ctx, shared_vars)
        return 0

    cdef int _report_exception(self, BaseException exc) except -1:
        cb = formatting.format_callback_source(self._callback, self._args)
        context = {
            'message': f'Exception in callback {cb}',
            'exception': exc,
            'handle': self,
        }
        if self._source_traceback:
            context['source_traceback'] = self._source_traceback
        self._loop.call_exception_handler(context)
        return 0

    def _run(self):
        """Run the callback now, as the loop would (compatibility hook)."""
        if not self._cancelled:
            self._execute()

    def cancel(self):
        """Cancel the callback; a no-op if it already ran or was cancelled."""
        if self._cancelled:
            return
        self._cancelled = True
        if self._loop is not None and self._loop._debug:
            # Keep the description: debug logging may still name this handle.
            self._repr = repr(self)
        self._callback = None
        self._args = None
        self._io_target = None

    def cancelled(self):
        """Return True if the callback was cancelled."""
        return self._cancelled

    cdef object _own_context(self):
        # From now on this handle runs in a Context of its own, holding the
        # variables it was scheduled with.
        if self._shared_vars is not None:
            self._ctx = aioloop_private_context(self._shared_vars)
            self._shared_vars = None
        return self._ctx

    def get_context(self):
        """Return the contextvars.Context the callback runs in."""
        return self._own_context()

    @property
    def _context(self):
        # asyncio.Handle's attribute name.
        return self._own_context()

    def _repr_info(self):
        info = [type(self).__name__]
        if self._cancelled:
            info.append('cancelled')
        if self._callback is not None:
            info.append(formatting.format_callback_source(self._callback, self._args))
        if self._source_traceback:
            frame = self._source_traceback[-1]
            info.append(f'created at {frame[0]}:{frame[1]}')
        return info

    def __repr__(self):
        if self._repr is not None:
            return self._repr
        return '<{}>'.format(' '.join(self._repr_info()))


@cython.no_gc
cdef class TimerHandle(Handle):
    """A callback scheduled for a moment on the loop's clock."""

    def cancel(self):
        """Cancel the timer; it will not run."""
        if not self._cancelled:
            Handle.cancel(self)
            if self._in_heap and self._loop is not None:
                self._loop._timer_cancelled(self)

    def when(self):
        """Return the scheduled time, in the loop.time() reference."""
        return self._when

    @property
    def _scheduled(self):
        return self._in_heap

    def _repr_info(self):
        info = Handle._repr_info(self)
        info.insert(2 if self._cancelled else 1, f'when={self._when}')
        return info

    def __hash__(self):
        return hash(self._when)

    def __eq__(self, other):
        if isinstance(other, TimerHandle):
            o = <TimerHandle>other
            return (self._when == o._when and self._callback == o._callback
                    and self._args == o._args and self._cancelled == o._cancelled)
        return NotImplemented

    def __lt__(self, other):
        if isinstance(other, TimerHandle):
            return self._when < (<TimerHandle>other)._when
        return NotImplemented

    def __le__(self, other):
        if isinstance(other, TimerHandle):
            return self._when < (<TimerHandle>other)._when or self == other
        return NotImplemented

    def __gt__(self, other):
        if isinstance(other, TimerHandle):
            return self._when > (<TimerHandle>other)._when
        return NotImplemented

    def __ge__(self, other):
        if isinstance(other, TimerHandle):
            return self._when > (<TimerHandle>other)._when or self == other
        return NotImplemented


cdef inline object _debug_stack(LoopBase loop):
    if loop._debug:
        return formatting.extract_stack(1)
    return None


cdef inline int _set_context(Handle h, LoopBase loop, object context) except -1:
    # asyncio copies the current context for every callback scheduled
    # without one; here handles share the copy while it is unchanged (see
    # ctxshare.h), which behaves the same.
    cdef PyObject *shared_vars = NULL
    if context is not None:
        h._ctx = context
        return 0
    h._ctx = aioloop_capture_context(&loop._ctx_template, &loop._ctx_template_vars,
                                     &shared_vars)
    if shared_vars != NULL:
        h._shared_vars = <object>shared_vars   # takes a second reference...
        Py_DECREF(<object>shared_vars)         # ...so drop the one we were given
    return 0


cdef Handle new_handle(object callback, tuple args, LoopBase loop, object context):
    # Built without __init__: no argument parsing on the hot path, and,
    # when the loop kept one, from the handle that ran last.
    cdef Handle h = loop._spare_handle
    if h is not None:
        loop._spare_handle = None
    else:
        h = Handle.__new__(Handle)
    h._callback = callback
    h._args = args
    h._loop = loop
    _set_context(h, loop, context)
    if loop._debug:
        h._source_traceback = _debug_stack(loop)
    return h


cdef void keep_spare_handle(LoopBase loop, Handle h, Py_ssize_t own_refs) noexcept:
    # Called by the loop once a one-shot handle has run and its callback and
    # arguments are dropped.  If only the loop holds it (`own_refs`
    # references, no weak ones) nobody can see it again, so it is emptied
    # and kept for the next new_handle(): a task step then costs no
    # allocation and no deallocation of a handle.  A spare references
    # nothing (not even the loop), so it keeps nothing alive.
    if (Py_REFCNT(h) != own_refs or type(h) is not Handle or h._cancelled
            or aioloop_has_weakrefs(h)):
        return
    h._ctx = None
    h._shared_vars = None
    h._loop = None
    if h._source_traceback is not None:
        h._source_traceback = None
    loop._spare_handle = h


cdef Handle new_io_handle(IOTarget target, int token, LoopBase loop):
    # A persistent reader/writer handle that calls target._io_ready(token).
    # Its _callback is the target itself, so reprs and error reports name it.
    cdef Handle h = Handle.__new__(Handle)
    h._callback = target
    h._args = ()
    h._loop = loop
    h._ctx = PyContext_CopyCurrent()
    h._persistent = True
    h._io_target = target
    h._io_token = token
    if loop._debug:
        h._source_traceback = _debug_stack(loop)
    return h


cdef TimerHandle new_timer(double when, object callback, tuple args,
                           LoopBase loop, object context):
    cdef TimerHandle t = TimerHandle.__new__(TimerHandle)
    t._callback = callback
    t._args = args
    t._loop = loop
    _set_context(t, loop, context)
    t._when = when
    if loop._debug:
        t._source_traceback = _debug_stack(loop)
    return t


def _context_sharing():
    """True when handles share contexts (ctxshare.h's layout check passed)."""
    return bool(aioloop_ctxshare_on)
