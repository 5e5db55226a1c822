/* Shared callback contexts (used by handles.pyx).
 *
 * asyncio gives every callback scheduled without context= its own copy of
 * the current contextvars.Context, so that variables one callback sets are
 * not seen by another.  A Context is a GC-tracked object: a burst of 10,000
 * call_soon() calls allocates 10,000 of them, which in turn triggers a dozen
 * young-generation collections that walk them all.  Measured here, contexts
 * were a quarter of the time of a 10k-callback batch.
 *
 * The copies differ only in identity: they all hold the same immutable
 * variable mapping (a HAMT) until a callback sets a variable.  So a loop's
 * handles scheduled while the current mapping stays the same share one
 * Context (the loop's template; each loop has its own, so only that loop's
 * thread enters it) and each remembers the mapping it was scheduled with.
 * A callback that raised keeps a private copy of the context it left, for
 * the exception handler (3.12+ runs it there).  Before a
 * handle runs, the template's mapping is reset to the handle's; after it
 * ran, it is reset again, so a variable set by one callback is never seen
 * by the next.  A handle that must be a Context of its own (asked for its
 * context, run while the template is already entered, or run many times
 * like a reader) gets a private copy.
 *
 * This reads two private CPython structures: PyThreadState.context (public
 * in cpython/pystate.h) and the PyContext layout below (internal, the same
 * in 3.11, 3.12 and 3.13).  aioloop_ctxshare_init() checks the layout on
 * the running interpreter; if anything does not match, sharing stays off
 * and every handle gets its own copy, exactly as asyncio does.
 */
#ifndef AIOLOOP_CTXSHARE_H
#define AIOLOOP_CTXSHARE_H

#include <Python.h>

typedef struct {
    PyObject_HEAD
    PyObject *ctx_prev;
    PyObject *ctx_vars;
    PyObject *ctx_weakreflist;
    int ctx_entered;
} aioloop_context;

#define AIOLOOP_CTX(o) ((aioloop_context *)(o))

static int aioloop_ctxshare_on = 0;

static PyObject *aioloop_current_context(void) {
    return PyThreadState_Get()->context;   /* borrowed, may be NULL */
}

/* Check the layout assumptions on this interpreter; turn sharing on if they
   hold.  Returns 0, or -1 with an exception set for a real error. */
static int aioloop_ctxshare_init(void) {
    PyObject *ctx = NULL, *var = NULL, *value = NULL, *before;
    int ok = 0;
    ctx = PyContext_New();
    if (ctx == NULL) goto error;
    if (Py_TYPE(ctx) != &PyContext_Type || PyContext_Type.tp_basicsize != sizeof(aioloop_context))
        goto done;
    if (AIOLOOP_CTX(ctx)->ctx_entered != 0 || AIOLOOP_CTX(ctx)->ctx_prev != NULL)
        goto done;
    before = AIOLOOP_CTX(ctx)->ctx_vars;
    if (before == NULL) goto done;
    var = PyContextVar_New("aioloop_ctxshare_probe", NULL);
    if (var == NULL) goto error;
    if (PyContext_Enter(ctx) < 0) goto error;
    ok = AIOLOOP_CTX(ctx)->ctx_entered == 1 && aioloop_current_context() == ctx;
    if (ok) {
        PyObject *token = PyContextVar_Set(var, Py_True);
        if (token == NULL) { PyContext_Exit(ctx); goto error; }
        Py_DECREF(token);
        ok = AIOLOOP_CTX(ctx)->ctx_vars != before;
    }
    if (PyContext_Exit(ctx) < 0) goto error;
    ok = ok && AIOLOOP_CTX(ctx)->ctx_entered == 0 && aioloop_current_context() != ctx;
    if (ok) {
        /* Reset the mapping, as handles do, and see that the value is gone. */
        Py_INCREF(before);
        Py_SETREF(AIOLOOP_CTX(ctx)->ctx_vars, before);
        if (PyContext_Enter(ctx) < 0) goto error;
        if (PyContextVar_Get(var, Py_None, &value) < 0) { PyContext_Exit(ctx); goto error; }
        if (PyContext_Exit(ctx) < 0) goto error;
        ok = value == Py_None;
    }
done:
    aioloop_ctxshare_on = ok;
    Py_XDECREF(value);
    Py_XDECREF(var);
    Py_XDECREF(ctx);
    return 0;
error:
    Py_XDECREF(value);
    Py_XDECREF(var);
    Py_XDECREF(ctx);
    return -1;
}

/* The context for a callback scheduled without one: a new reference to a
   Context.  *template and *template_vars are the loop's cache (owned
   references or NULL; each loop has its own, so that a template is only
   ever entered by that loop's thread).  *vars receives a new reference to
   the mapping the callback must run with when the Context is shared, or
   NULL when it is a private copy. */
static PyObject *aioloop_capture_context(PyObject **template, PyObject **template_vars,
                                         PyObject **vars) {
    PyObject *cur, *cur_vars, *t;
    *vars = NULL;
    if (aioloop_ctxshare_on) {
        cur = aioloop_current_context();
        if (cur != NULL) {
            cur_vars = AIOLOOP_CTX(cur)->ctx_vars;
            if (*template == NULL || cur_vars != *template_vars) {
                t = PyContext_CopyCurrent();   /* holds cur_vars */
                if (t == NULL) return NULL;
                /* Install the new pair before releasing the old one:
                   releasing can run a finalizer that schedules a callback. */
                PyObject *old_t = *template, *old_v = *template_vars;
                Py_INCREF(cur_vars);
                *template = t;
                *template_vars = cur_vars;
                Py_XDECREF(old_t);
                Py_XDECREF(old_v);
            }
            Py_INCREF(*template_vars);
            *vars = *template_vars;
            Py_INCREF(*template);
            return *template;
        }
    }
    return PyContext_CopyCurrent();
}

/* A private Context holding `vars`. */
static PyObject *aioloop_private_context(PyObject *vars) {
    PyObject *ctx = PyContext_New();
    if (ctx == NULL) return NULL;
    Py_INCREF(vars);
    Py_SETREF(AIOLOOP_CTX(ctx)->ctx_vars, vars);
    return ctx;
}

static int aioloop_context_entered(PyObject *ctx) {
    return AIOLOOP_CTX(ctx)->ctx_entered;
}

/* Give a shared (not entered) Context the mapping `vars`.  Only between
   runs: ContextVar's lookup cache is keyed on the thread's context version,
   which every enter and exit moves on, so no cached value survives this. */
static void aioloop_reset_context(PyObject *ctx, PyObject *vars) {
    if (AIOLOOP_CTX(ctx)->ctx_vars != vars) {
        Py_INCREF(vars);
        Py_SETREF(AIOLOOP_CTX(ctx)->ctx_vars, vars);
    }
}

#endif
