/* Calling a Python callable from compiled code without Cython's generic
 * call path (used by stream.pyx for protocol callbacks).
 *
 * Cython's call of an arbitrary object tests for several callable types
 * and, inside a try block, saves and restores the thread's exception state
 * around it: about 60 instructions per data_received() call, a sixtieth of
 * an HTTP request.  The caller of aioloop_call_one() tests the result
 * instead, and only on failure enters a try block, where
 * aioloop_pending_error() hands the pending exception to its except
 * clauses.
 */
#ifndef AIOLOOP_PYCALL_H
#define AIOLOOP_PYCALL_H

#include <Python.h>

/* callable(arg), result dropped: 0, or -1 with a Python exception set.
   A bound method (the usual protocol callback) is unpacked here and its
   function called with self in front, which saves the method object's
   own vectorcall and result check. */
static inline int aioloop_call_one(PyObject *callable, PyObject *arg) {
    PyObject *args[3];
    PyObject *r;
    if (Py_IS_TYPE(callable, &PyMethod_Type)) {
        args[0] = PyMethod_GET_SELF(callable);
        args[1] = arg;
        r = PyObject_Vectorcall(PyMethod_GET_FUNCTION(callable), args, 2, NULL);
    } else {
        /* The offset flag lets a callee that needs a slot in front (a
           bound method of another kind) use args[0]. */
        args[1] = arg;
        r = PyObject_Vectorcall(callable, args + 1,
                                1 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    }
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

/* -1: declared `except -1`, so that Cython raises the exception that is
   already set (by a failed aioloop_call_one()). */
static inline int aioloop_pending_error(void) {
    return -1;
}

#endif
