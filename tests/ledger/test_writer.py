"""The group-commit writer: one failing request fails no other, and a closed or forked
writer never leaves a caller waiting forever."""

import os
import threading
import time

import pytest

from rongpay.ledger import cache, service, writer

from .factories import acct, balances, post, setup_accounts, submit, xfer


def test_one_bad_request_does_not_fail_its_group(engine, monkeypatch):
    setup_accounts(engine, acct("a"), acct("b"))
    w = writer.LedgerWriter(engine)
    real = service.create_transfers
    calls = []

    def flaky(eng, requests):
        calls.append(len(requests))
        if any(t is not None and t.id == "poison" for r in requests for t, _, _ in r):
            raise RuntimeError("database fault on one request")
        return real(eng, requests)

    monkeypatch.setattr(service, "create_transfers", flaky)
    lock = cache.cache_for(engine).lock
    outcomes: dict[str, object] = {}

    def client(tid: str) -> None:
        try:
            outcomes[tid] = w.submit(service.parse_transfers([xfer(tid, "a", "b", 5)]))
        except RuntimeError as exc:
            outcomes[tid] = exc

    threads = {t: threading.Thread(target=client, args=(t,)) for t in ("g0", "poison", "g1")}
    with lock:  # hold g0's transaction so poison and g1 queue up behind it, as one group
        threads["g0"].start()
        while calls != [1]:
            time.sleep(0.001)
        threads["poison"].start()
        threads["g1"].start()
        while w._queue.qsize() < 2:
            time.sleep(0.001)
    for t in threads.values():
        t.join()
    w.close()
    assert calls == [1, 2, 1, 1]  # g0; the group (fails); then each of its requests alone
    assert outcomes["g0"] == ["ok"] and outcomes["g1"] == ["ok"]
    assert isinstance(outcomes["poison"], RuntimeError)
    assert balances(engine, "a")[1] == 10


def test_closed_writer_refuses_instead_of_hanging(engine):
    setup_accounts(engine, acct("a"), acct("b"))
    w = writer.writer_for(engine)
    w.close()
    with pytest.raises(writer.WriterClosed):
        w.submit(service.parse_transfers([xfer(1, "a", "b", 1)]))
    fresh = writer.writer_for(engine)  # a new one takes its place
    assert fresh is not w
    assert fresh.submit(service.parse_transfers([xfer(2, "a", "b", 1)])) == ["ok"]
    fresh.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_gets_a_working_writer(sqlite_url):
    from rongpay.store import engine as store_engine

    eng = store_engine.create(sqlite_url)
    setup_accounts(eng, acct("a"), acct("b"))
    writer.writer_for(eng).submit(service.parse_transfers([xfer(1, "a", "b", 1)]))
    pid = os.fork()
    if pid == 0:  # child: must not hang on the parent's (threadless) writer
        eng.dispose(close=False)
        ok = writer.writer_for(eng).submit(service.parse_transfers([xfer(2, "a", "b", 1)]))
        os._exit(0 if ok == ["ok"] else 3)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert balances(eng, "a")[1] == 2
    eng.dispose()


def test_post_overflow_is_a_result_code(engine):
    setup_accounts(engine, acct("a"), acct("b"), acct("c"))
    assert submit(engine, xfer("t1", "a", "b", 2**63 - 11)) == ["ok"]
    assert submit(engine, xfer("p", "a", "c", 100, "pending")) == ["ok"]
    assert submit(engine, post("q", "p")) == ["overflows_debits"]
    assert submit(engine, {"id": "v", "pending_id": "p", "flags": ["void_pending"]}) == ["ok"]


def test_replay_of_a_partial_post_without_amount_is_a_conflict(engine):
    setup_accounts(engine, acct("a"), acct("b"))
    assert submit(engine, xfer("p", "a", "b", 100, "pending"), post("q", "p", 40)) == ["ok", "ok"]
    assert submit(engine, post("q", "p")) == ["exists_with_different_fields"]
    assert submit(engine, post("q", "p", 40)) == ["exists"]
    assert submit(engine, xfer("p2", "a", "b", 50, "pending"), post("q2", "p2")) == ["ok", "ok"]
    assert submit(engine, post("q2", "p2")) == ["exists"]
    assert submit(engine, post("q2", "p2", 50)) == ["exists"]
