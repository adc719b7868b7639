"""The Store's contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
import time

import pytest

from jackstop.store import Conflict, LedgerRow, NotFound, open_store
from jackstop.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "c.db", tmp_path / "l.db")
    else:
        s = open_store(request.getfixturevalue("fresh_postgres"))
    yield s
    s.close()


def seed(store):
    store.put_secret("s", "bm9uY2U=", "Y3Q=", "…1234", "t")
    store.add_provider("p", "openai", "https://api.openai.com/v1", "local:s", "t")


def test_keys_and_change_feed(store):
    seed(store)
    e0 = store.epoch()
    k = store.create_key("app", "p", "h1", "jsk_abcdefgh", "t", project="web", policy={"max_tokens": 5})
    assert store.get_project("web").policy == {}
    ch = store.changes_since(e0)
    assert [x.name for x in ch.keys] == ["app"] and [c.hash for c in ch.credentials] == ["h1"]
    assert ch.epoch > e0
    e1 = ch.epoch
    store.set_key_status("app", "suspended", "why", "t")
    ch = store.changes_since(e1)
    assert [(x.name, x.status, x.status_reason) for x in ch.keys] == [("app", "suspended", "why")]
    assert store.changes_since(ch.epoch).keys == []
    store.rotate_key("app", "h2", "jsk_ijklmnop", time.time() + 60, "t")
    creds = {c.hash: c for c in store.credentials(k.id)}
    assert creds["h1"].not_after is not None and creds["h2"].not_after is None
    store.set_key_status("app", "revoked", "", "t")
    with pytest.raises(Conflict):
        store.set_key_status("app", "active", "", "t")
    with pytest.raises(Conflict):
        store.create_key("app", "p", "h3", "x", "t")
    with pytest.raises(NotFound):
        store.create_key("other", "nope", "h4", "x", "t")
    actions = [e.action for e in store.audit_log()]
    assert actions[-4:] == ["key.create", "key.suspend", "key.rotate", "key.revoke"]


def test_provider_removal_guards_active_keys(store):
    seed(store)
    store.create_key("app", "p", "h1", "d", "t")
    with pytest.raises(Conflict, match="used by 1 active key"):
        store.remove_provider("p", "t")
    store.set_key_status("app", "revoked", "", "t")
    store.remove_provider("p", "t")
    with pytest.raises(NotFound):
        store.get_provider("p")
    assert [p.removed_at is not None for p in store.changes_since(0).providers] == [True]


def test_ledger_batches_and_usage(store):
    rows = [LedgerRow(ts=time.time(), request_id=f"r{i}", endpoint="chat.completions", status=200,
                      key_name="app" if i % 2 else "other", model="gpt-4o-mini", input_tokens=10,
                      output_tokens=i, cost_nusd=1000 * i, stream=bool(i % 3)) for i in range(10)]
    store.insert_ledger(rows)
    usage = {(u["key"], u["model"]): u for u in store.usage()}
    assert usage[("app", "gpt-4o-mini")]["cost_nusd"] == 1000 * (1 + 3 + 5 + 7 + 9)
    assert usage[("other", "gpt-4o-mini")]["requests"] == 5
    back = list(store.ledger(key_name="app"))
    assert [r.request_id for r in back] == ["r1", "r3", "r5", "r7", "r9"]
    assert back[0].stream is True and back[1].stream is False


def test_a_long_ledger_write_offers_the_core_to_other_threads_as_it_goes(store, monkeypatch):
    """The gateway's ledger writer shares one core with the event loop: a batch written in one go
    held back every request that arrived meanwhile (the 1-connection p99)."""
    import os

    from jackstop.store import base

    written: list[int] = []  # rows in the ledger each time the core was offered
    monkeypatch.setattr(os, "sched_yield", lambda: written.append(len(seen)))
    seen: list[str] = []
    rows = [LedgerRow(ts=time.time(), request_id=f"y{i}", endpoint="chat.completions", status=200, key_name="app")
            for i in range(100)]
    real_values = LedgerRow.values
    monkeypatch.setattr(LedgerRow, "values", lambda self: (seen.append(self.request_id), real_values(self))[1])
    store.insert_ledger(rows)
    assert written == list(range(base.YIELD_EVERY, 100, base.YIELD_EVERY))  # every 16 rows, while writing
    assert sorted(r.request_id for r in store.ledger() if r.request_id.startswith("y")) == sorted(f"y{i}" for i in range(100))


def test_concurrent_writers_get_distinct_epochs(store):
    seed(store)
    errors = []

    def make(i):
        try:
            store.create_key(f"k{i}", "p", f"h{i}", "d", "t")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seqs = [k.seq for k in store.list_keys()]
    assert len(set(seqs)) == 8
