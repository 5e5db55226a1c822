# cython: language_level=3
"""How asyncio's C Task and Future reach the loop's call_soon and get_debug.

asyncio's C Task schedules every step with ``loop.call_soon(step,
context=ctx)`` and every done callback through ``loop.call_soon``; its C
Future asks ``loop.get_debug()`` when it is made.  Both are looked up by
name each time.  At import this module replaces the two methods in
CoreLoop's type (core.pyx keeps the readable ``def`` versions, same
behaviour):

* ``call_soon`` gets a hand-written vectorcall entry point that matches
  the ``context`` keyword with one comparison;
* both become data descriptors (_HotMethod) that return the bound methods
  the loop keeps while it runs (CoreLoop._run_forever_core), so a lookup
  neither searches the loop's instance ``__dict__`` nor builds a bound
  method.
"""

from cpython.ref cimport PyObject

from aioloop._core.core cimport CoreLoop

cdef extern from "Python.h":
    ctypedef struct PyMethodDef:
        const char *ml_name
        void *ml_meth
        int ml_flags
        const char *ml_doc
    ctypedef struct PyTypeObject:
        PyObject *tp_dict
    object PyDescr_NewMethod(type t, PyMethodDef *meth)
    void PyType_Modified(type t)
    int METH_FASTCALL
    int METH_KEYWORDS
    Py_ssize_t PyTuple_GET_SIZE(object t)
    PyObject *PyTuple_GET_ITEM(object t, Py_ssize_t i)

cdef extern from *:
    """
    /* A tuple from a vectorcall argument array (borrowed references). */
    static PyObject *aioloop_tuple_from_array(PyObject *const *items, Py_ssize_t n) {
        PyObject *t = PyTuple_New(n);
        if (t == NULL) return NULL;
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_INCREF(items[i]);
            PyTuple_SET_ITEM(t, i, items[i]);
        }
        return t;
    }
    """
    object aioloop_tuple_from_array(PyObject **items, Py_ssize_t n)


# -- call_soon as a raw vectorcall method ------------------------------------
#
# asyncio's C Task schedules every step with loop.call_soon(step,
# context=ctx).  Cython's generic argument parser spends about 150
# instructions matching that one keyword; this hand-written entry point
# checks it with one comparison.  It is installed in place of core.pyx's def.

# The 'context' keyword string the last caller passed (asyncio's C Task
# passes the interpreter's static one every time), kept alive here so that
# comparing addresses can never match a different string.
cdef object _context_kwname = 'context'


cdef object _call_soon_vectorcall(object self, PyObject **args, Py_ssize_t nargs,
                                  PyObject *kwnames):
    # Borrowed pointers throughout: asyncio's C Task calls this for every
    # step, and each reference taken and dropped is a few instructions.
    cdef PyObject *context = NULL
    cdef Py_ssize_t nkw = 0
    if kwnames != NULL:
        nkw = PyTuple_GET_SIZE(<object>kwnames)
    if nkw:
        if nkw != 1 or not _is_context_kwname(PyTuple_GET_ITEM(<object>kwnames, 0)):
            _reject_keywords(<object>kwnames)
        context = args[nargs]
    if nargs < 1:
        raise TypeError("call_soon() missing 1 required positional argument: 'callback'")
    if (<CoreLoop>self)._closed:
        raise RuntimeError('Event loop is closed')
    if (<CoreLoop>self)._debug:
        (<CoreLoop>self)._check_thread()
        (<CoreLoop>self)._check_callback(<object>args[0], 'call_soon')
    return (<CoreLoop>self)._call_soon(
        <object>args[0],
        aioloop_tuple_from_array(args + 1, nargs - 1) if nargs > 1 else (),
        <object>context if context != NULL else None)


cdef inline bint _is_context_kwname(PyObject *name) except -1:
    # Whether a keyword name is 'context': the string seen last time is
    # one comparison (asyncio's C Task passes the interpreter's static one
    # every time).
    global _context_kwname
    if name == <PyObject*>_context_kwname:
        return True
    if <object>name == 'context':
        _context_kwname = <object>name
        return True
    return False


cdef int _reject_keywords(object kwnames) except -1:
    for name in kwnames:
        if name != 'context':
            raise TypeError(f"call_soon() got an unexpected keyword argument '{name}'")
    raise TypeError("call_soon() got multiple values for argument 'context'")


cdef PyMethodDef _call_soon_def
_call_soon_def.ml_name = "call_soon"
_call_soon_def.ml_meth = <void*>_call_soon_vectorcall
_call_soon_def.ml_flags = METH_FASTCALL | METH_KEYWORDS
_call_soon_def.ml_doc = NULL


cdef class _HotMethod:
    # A data descriptor in place of a loop method that asyncio's C Task and
    # Future look up by name on every use: call_soon for every task step and
    # every done callback, get_debug for every new future.  A method (a
    # non-data descriptor) makes each lookup search the loop's instance
    # __dict__ first and then build a bound method; this one returns the
    # bound method the loop keeps while it runs.  Assigning or deleting the
    # attribute on a loop (unittest.mock.patch.object) still works: the value
    # goes into the instance __dict__, and from then on lookups check there
    # first, as they would for a method.
    cdef readonly object _plain     # the method itself (what the class shows)
    cdef object _name
    cdef bint _is_call_soon
    cdef type _loop_type            # the last CoreLoop subclass seen (skips the MRO walk)

    def __cinit__(self, plain, name):
        self._plain = plain
        self._name = name
        self._is_call_soon = name == 'call_soon'

    def __get__(self, obj, objtype):
        cdef object bound
        if type(obj) is self._loop_type and not (<CoreLoop>obj)._hot_patched:
            # A running loop of the kind seen last, not patched: its bound method.
            bound = (<CoreLoop>obj)._bound_call_soon if self._is_call_soon \
                else (<CoreLoop>obj)._bound_get_debug
            if bound is not None:
                return bound
        return self._get_other(obj, objtype)

    cdef object _get_other(self, obj, objtype):
        # The class itself, a loop of another type than the last one seen
        # (remembered for the fast path; this once, a new bound method), a
        # loop that is not running, or one with the attribute patched.
        if obj is None:
            return self._plain
        if type(obj) is not self._loop_type:
            if not isinstance(obj, CoreLoop):
                raise TypeError(f"descriptor '{self._name}' for 'CoreLoop' objects "
                                f"doesn't apply to a '{type(obj).__name__}' object")
            self._loop_type = type(obj)
        if (<CoreLoop>obj)._hot_patched:
            d = getattr(obj, '__dict__', None)
            if d is not None and self._name in d:
                return d[self._name]
        return self._plain.__get__(obj, objtype)

    def __set__(self, obj, value):
        cdef CoreLoop loop = <CoreLoop?>obj
        try:
            d = obj.__dict__
        except AttributeError:
            raise AttributeError(
                f"'{type(obj).__name__}' object attribute '{self._name}' is read-only") from None
        loop._hot_patched = True
        d[self._name] = value

    def __delete__(self, obj):
        cdef CoreLoop loop = <CoreLoop?>obj
        d = getattr(obj, '__dict__', None)
        if d is None or self._name not in d:
            raise AttributeError(self._name)
        del d[self._name]
        loop._hot_patched = 'call_soon' in d or 'get_debug' in d


def _install_fast_methods():
    cdef dict tp_dict = <dict><object>(<PyTypeObject*>CoreLoop).tp_dict
    descr = PyDescr_NewMethod(CoreLoop, &_call_soon_def)
    descr.__doc__  # (method descriptors take their doc from ml_doc)
    tp_dict['call_soon'] = _HotMethod(descr, 'call_soon')
    tp_dict['get_debug'] = _HotMethod(tp_dict['get_debug'], 'get_debug')
    PyType_Modified(CoreLoop)


_install_fast_methods()
