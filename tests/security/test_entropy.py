"""Pooled random bytes: never the same bytes twice, not across threads, not across a fork."""

from __future__ import annotations

import os
import threading

from rongpay.security import entropy


def test_bytes_are_handed_out_once_across_refills() -> None:
    seen = [entropy.random_bytes(24) for _ in range(3 * entropy.POOL_BYTES // 24)]
    assert all(len(b) == 24 for b in seen)
    assert len(set(seen)) == len(seen)  # 3 pools' worth: refills give fresh bytes
    assert len(entropy.random_bytes(entropy.POOL_BYTES + 5)) == entropy.POOL_BYTES + 5


def test_threads_draw_from_their_own_pools() -> None:
    out: list[bytes] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [entropy.random_bytes(16) for _ in range(500)]
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == len(out) == 2000


def test_a_forked_child_never_repeats_its_parent() -> None:
    entropy.random_bytes(8)  # the parent's pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the next bytes it would hand out
        os.write(write, entropy.random_bytes(32))
        os._exit(0)
    os.close(write)
    child = os.read(read, 32)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != entropy.random_bytes(32)
