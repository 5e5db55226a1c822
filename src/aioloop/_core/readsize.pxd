# How large a stream transport's next read is (see stream.pyx,
# StreamTransport._read_into_protocol): small reads go into the loop's
# shared buffer and are copied out (or, for a protocol that lets go of what
# it gets, into a reused SMALL_DIRECT_READ bytes object); after a large
# one, reads go straight into the bytes object the protocol gets, sized
# from the reads before.

cdef enum:
    # Once a read brings at least DIRECT_READ_MIN bytes, the next ones go
    # straight into the protocol's bytes object; smaller ones are copied
    # out of the loop's buffer, which costs less than shrinking a bytes
    # object.
    DIRECT_READ_MIN = 512
    MAX_DIRECT_READ = 262144    # never more per data_received() than asyncio (max_size)
    # What a small direct read asks for, into the loop's small spare bytes
    # object (a protocol that lets go of what it gets reads small messages
    # that way too; see stream.pyx, StreamTransport._read_into_protocol).
    SMALL_DIRECT_READ = 16384


cdef inline Py_ssize_t _next_read_hint(Py_ssize_t want, Py_ssize_t n) noexcept:
    # The size of the next direct read (0: read into the loop's buffer),
    # after one of `want` bytes (0: into the buffer) brought `n`.
    # - The first large read sizes the next one a byte above it: a stream
    #   of equal messages then reads each whole, and shrinking the bytes
    #   object to what came is a no-op for malloc (no split, no free).
    # - A read that filled its bytes object doubles the size: more was
    #   probably waiting.
    # - A message often comes in two or three pieces, so a read that
    #   brought a quarter of the size or more keeps it; a smaller one
    #   halves it (a size that followed every piece would split the next
    #   whole message in two reads), and below DIRECT_READ_MIN reads go
    #   back to the buffer.
    if want == 0:
        return min(n + 1, MAX_DIRECT_READ) if n >= DIRECT_READ_MIN else 0
    if n >= want:
        return min(want * 2, MAX_DIRECT_READ)
    if n * 4 >= want:
        return want
    want //= 2
    if want < DIRECT_READ_MIN:
        return 0
    return max(want, n + 1)
