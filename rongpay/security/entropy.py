"""Random bytes for public ids, from the OS's CSPRNG, without a system call per id.

os.urandom releases the GIL for its system call. On the event loop, every id made that way
handed the interpreter to the payment writer thread and waited up to a switch interval to get
it back; `rongpay bench payments` showed it. Ids here come from a per-thread pool of OS random
bytes refilled a few kB at a time, and a forked process starts with an empty pool (it must
never reuse its parent's bytes). Keys and secrets keep using `secrets` directly.
"""

from __future__ import annotations

import os
import threading

POOL_BYTES = 8192
_pool = threading.local()


def random_bytes(n: int) -> bytes:
    """N bytes of the OS's CSPRNG, each handed out once."""
    buf: bytes = getattr(_pool, "buf", b"")
    at: int = getattr(_pool, "at", 0)
    if at + n > len(buf):
        buf, at = os.urandom(max(POOL_BYTES, n)), 0
        _pool.buf = buf
    _pool.at = at + n
    return buf[at : at + n]


def _fresh_pool_in_child() -> None:
    global _pool
    _pool = threading.local()


os.register_at_fork(after_in_child=_fresh_pool_in_child)
