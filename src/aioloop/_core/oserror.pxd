# Raising OSError from a failed system call, with the subclass Python picks
# for the errno (PermissionError, FileNotFoundError, ...), as the selectors
# module and socket methods do.

from libc.errno cimport errno
from libc.string cimport strerror


cdef inline int raise_oserror() except -1:
    cdef int err = errno
    raise OSError(err, strerror(err).decode("utf-8", "replace"))
