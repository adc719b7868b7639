"""The reservation journal: what recovery counts, what it leaves alone."""

from __future__ import annotations

import asyncio
import pathlib

import pytest

from jackstop.gateway.journal import CRASHED, ReservationJournal, recover
from jackstop.store import LedgerRow
from jackstop.store.sqlite import SqliteStore


def row(i: int, worst: int = 1000) -> LedgerRow:
    return LedgerRow(ts=1000.0 + i, request_id=f"req{i:04d}", endpoint="chat.completions", status=0,
                     key_id="k1", key_name="key-one", provider="oai", provider_kind="openai", model="gpt-4o",
                     reserved_nusd=worst, stream=True)


@pytest.fixture
def store(tmp_path: pathlib.Path):
    s = SqliteStore(tmp_path / "j.db", tmp_path / "l.db")
    yield s
    s.close()


def test_recovery_counts_only_unsettled_reservations_of_dead_journals(tmp_path: pathlib.Path, store):
    folder = tmp_path / "journal"
    dead = ReservationJournal(folder)
    for i in range(5):
        dead.reserve(row(i, worst=1000 + i))
    dead.settled([row(0)])  # its ledger row was committed
    store.insert_ledger([row(1)])  # committed, but the crash came before its S line
    with open(dead.path, "ab") as f:  # type: ignore[arg-type]
        f.write(b'R {"request_id": "torn", "ts": 1')  # the write the crash cut in half
    dead_path = dead.path
    # The process dies: its descriptor (and lock) goes away without close().
    import os

    os.close(dead._fd)
    live = ReservationJournal(folder)
    live.reserve(row(50))
    me = ReservationJournal(folder)

    got = recover(folder, store, own=me.path)

    assert sorted(r.request_id for r in got) == ["req0002", "req0003", "req0004"]
    assert all(r.rule == CRASHED and r.cost_nusd == r.reserved_nusd and r.error for r in got)
    assert {r.request_id: r.cost_nusd for r in got}["req0003"] == 1003
    in_ledger = sorted(r.request_id for r in store.ledger())
    assert in_ledger == ["req0001", "req0002", "req0003", "req0004"]
    assert not dead_path.exists()  # type: ignore[union-attr]
    assert live.path.exists() and me.path.exists()  # type: ignore[union-attr]
    assert recover(folder, store, own=me.path) == []  # idempotent
    live.close()
    me.close()


def test_rotation_carries_open_reservations(tmp_path: pathlib.Path, store):
    folder = tmp_path / "journal"
    j = ReservationJournal(folder, rotate_bytes=2000)
    first = j.path
    for i in range(40):
        j.reserve(row(i))
        if i % 2 == 0:
            j.settled([row(i)])
    assert j.path != first and not first.exists()  # type: ignore[union-attr]
    assert len(list(folder.glob("reservations-*.log"))) == 1
    import os

    os.close(j._fd)  # crash
    got = recover(folder, store)
    assert sorted(r.request_id for r in got) == [f"req{i:04d}" for i in range(1, 40, 2)]


def test_normal_close_deletes_a_settled_journal(tmp_path: pathlib.Path):
    j = ReservationJournal(tmp_path / "journal")
    j.reserve(row(1))
    j.settled([row(1)])
    j.close()
    assert list((tmp_path / "journal").iterdir()) == []


def test_fsync_mode_waits_for_the_group_commit(tmp_path: pathlib.Path):
    async def main() -> None:
        j = ReservationJournal(tmp_path / "journal", sync="fsync")
        waits = [j.reserve(row(i)) for i in range(20)]
        assert all(w is not None for w in waits)
        await asyncio.wait_for(asyncio.gather(*waits), 30)  # a deadline against a hang, not a timing goal
        j.close()

    asyncio.run(main())
