# C-level contract of the loop's callback handles.
#
# LoopBase is the part of the loop that handles need to see (debug flag,
# timer-cancel bookkeeping); core.CoreLoop extends it.  Declaring it here,
# rather than cimporting core, keeps the dependency one way:
# core -> handles, never back.

from cpython.ref cimport PyObject


cdef class LoopBase:
    cdef bint _debug
    cdef object __weakref__
    # The Context this loop's handles currently share and the variables it
    # was made with (owned references, NULL until first used; ctxshare.h).
    # Per loop, so that only this loop's thread ever enters it.
    cdef PyObject *_ctx_template
    cdef PyObject *_ctx_template_vars
    # A one-shot handle that has run and that nothing else references,
    # emptied, for the next new_handle() to fill in (see keep_spare_handle).
    cdef Handle _spare_handle

    cdef int _timer_cancelled(self, TimerHandle timer) except -1
    cdef void _drop_context_template(self) noexcept


# A compiled object the loop can call back directly on readiness (the
# transports): the handle calls target._io_ready(token) from C instead of
# making a Python call of a bound method.
cdef class IOTarget:
    cdef int _io_ready(self, int token) except -1


cdef class Handle:
    cdef readonly object _callback
    cdef readonly tuple _args
    # The Context the callback runs in.  When _shared_vars is not None it is
    # a Context shared with other handles, reset to _shared_vars around each
    # run (see ctxshare.h); _own_context() gives the handle its own.
    cdef object _ctx
    cdef object _shared_vars
    cdef readonly LoopBase _loop
    cdef readonly bint _cancelled
    # Reader/writer/signal handles run many times; the rest run once and
    # drop their callback afterwards (see handles.pyx: why no GC).
    cdef bint _persistent
    cdef IOTarget _io_target      # set: _execute calls _io_target._io_ready(_io_token)
    # A reader registration kept between two sock_recv() calls with nobody
    # waiting (see sockops.pyx); its fd may have been closed and reused
    # meanwhile, so the loop registers afresh whatever replaces it.
    cdef bint _parked
    cdef int _io_token
    cdef object _repr
    cdef readonly object _source_traceback
    cdef object __weakref__

    cdef int _execute(self) except -1
    cdef object _own_context(self)
    cdef int _report_exception(self, BaseException exc) except -1


cdef class TimerHandle(Handle):
    cdef readonly double _when
    # Insertion order: equal deadlines fire in the order they were scheduled.
    cdef unsigned long long _seq
    # True while the timer heap holds it (cancelled or not).
    cdef bint _in_heap


cdef Handle new_handle(object callback, tuple args, LoopBase loop, object context)
cdef void keep_spare_handle(LoopBase loop, Handle h, Py_ssize_t own_refs) noexcept
cdef Handle new_io_handle(IOTarget target, int token, LoopBase loop)
cdef TimerHandle new_timer(double when, object callback, tuple args,
                           LoopBase loop, object context)
