"""The reservation journal: what recovery counts, what it leaves alone."""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
import threading

import pytest

from jackstop.gateway.journal import CRASHED, ReservationJournal, recover
from jackstop.store import LedgerRow
from jackstop.store.sqlite import SqliteStore


def row(i: int, worst: int = 1000) -> LedgerRow:
    return LedgerRow(ts=1000.0 + i, request_id=f"req{i:04d}", endpoint="chat.completions", status=0,
                     key_id="k1", key_name="key-one", provider="oai", provider_kind="openai", model="gpt-4o",
                     reserved_nusd=worst, stream=True)


def die(j: ReservationJournal) -> None:
    """What the process's death does to a journal: its mapping and descriptor (and lock) go away,
    without close(); what was copied into the mapping stays in the file."""
    assert j._map is not None
    j._map.close()
    os.close(j._fd)


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
    # The copies the crash cut short: one stopped after its start, one had copied its start and end, not its middle.
    torn = b'R {"request_id": "torn", "ts": 1, "reserved_nusd": 5}\n'
    assert dead._map is not None
    dead._map[dead._pos:dead._pos + 20] = torn[:20]
    dead._map[dead._pos + 60:dead._pos + 60 + len(torn)] = torn[:10] + b"\0" * 10 + torn[20:]
    dead_path = dead.path
    die(dead)
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
    j = ReservationJournal(folder, file_bytes=2000)
    first = j.path
    for i in range(40):
        j.reserve(row(i))
        if i % 2 == 0:
            j.settled([row(i)])
    assert j.path != first and not first.exists()  # type: ignore[union-attr]
    assert len(list(folder.glob("reservations-*.log"))) == 1
    die(j)
    got = recover(folder, store)
    assert sorted(r.request_id for r in got) == [f"req{i:04d}" for i in range(1, 40, 2)]


def test_a_file_filled_before_any_settlement_rotates_on_reserve(tmp_path: pathlib.Path, store):
    folder = tmp_path / "journal"
    j = ReservationJournal(folder, file_bytes=1000)  # about three reservations fit the first file
    files = set()
    for i in range(30):
        j.reserve(row(i))
        files.add(j.path)
    assert len(files) >= 2 and len(list(folder.glob("reservations-*.log"))) == 1
    die(j)
    got = recover(folder, store)
    assert sorted(r.request_id for r in got) == [f"req{i:04d}" for i in range(30)]


def _held_at(j: ReservationJournal, stage: str) -> tuple[threading.Event, threading.Event]:
    """Make the ledger thread's rotation stop inside `stage` until the second event is set."""
    inside, go_on, real = threading.Event(), threading.Event(), getattr(j, stage)

    def held(*a):  # noqa: ANN002, ANN202
        inside.set()
        assert go_on.wait(10)
        return real(*a)
    setattr(j, stage, held)
    return inside, go_on


def test_the_ledger_threads_rotation_never_makes_a_reservation_wait_for_the_disk(tmp_path: pathlib.Path, store):
    """Making the next file and letting the old one go (closing an unlinked file with megabytes of
    dirty pages took up to 10 ms) happen outside the lock each reservation takes on the event loop."""
    folder = tmp_path / "journal"
    j = ReservationJournal(folder)
    j.reserve(row(0))
    for i, stage in enumerate(("_make_file", "_let_go"), start=1):
        inside, go_on = _held_at(j, stage)
        rotation = threading.Thread(target=j._rotate)
        rotation.start()
        assert inside.wait(10)
        reserving = threading.Thread(target=j.reserve, args=(row(i),))  # the event loop's part
        reserving.start()
        reserving.join(5)
        done_while_rotating = not reserving.is_alive()
        go_on.set()
        rotation.join(10)
        reserving.join(10)
        delattr(j, stage)
        assert done_while_rotating, f"a reservation waited for the rotation's {stage}"
    # the reservation made while the file was being made was carried into it
    assert j.path is not None and b"req0001" in j.path.read_bytes() and b"req0000" in j.path.read_bytes()
    assert len(list(folder.glob("reservations-*.log"))) == 1 and not list(folder.glob(".making-*"))
    die(j)
    assert sorted(r.request_id for r in recover(folder, store)) == ["req0000", "req0001", "req0002"]


@pytest.mark.parametrize("stage", ["_make_file", "_let_go"])
def test_a_close_during_a_rotation_keeps_every_reservation_for_recovery(tmp_path: pathlib.Path, store, stage):
    folder = tmp_path / "journal"
    j = ReservationJournal(folder)
    j.reserve(row(0))
    inside, go_on = _held_at(j, stage)
    rotation = threading.Thread(target=j._rotate)
    rotation.start()
    assert inside.wait(10)
    j.reserve(row(1))
    j.close()  # shutdown while the ledger thread is mid-rotation
    go_on.set()
    rotation.join(10)
    assert len(list(folder.glob("reservations-*.log"))) == 1 and not list(folder.glob(".making-*"))
    assert sorted(r.request_id for r in recover(folder, store)) == ["req0000", "req0001"]


def test_a_crash_between_the_swap_and_letting_go_counts_each_reservation_once(tmp_path: pathlib.Path, store):
    import shutil

    folder = tmp_path / "journal"
    j = ReservationJournal(folder)
    for i in range(3):
        j.reserve(row(i))
    j.settled([row(0)])
    inside, go_on = _held_at(j, "_let_go")
    rotation = threading.Thread(target=j._rotate)
    rotation.start()
    assert inside.wait(10)
    j.reserve(row(3))
    j.settled([row(1)])
    crashed = tmp_path / "crashed"
    shutil.copytree(folder, crashed)  # what a crash right now leaves: both files, old and new
    go_on.set()
    rotation.join(10)
    assert len(list(crashed.glob("reservations-*.log"))) == 2
    assert sorted(r.request_id for r in recover(crashed, store)) == ["req0002", "req0003"]


def test_a_journal_kept_at_close_is_trimmed_and_recovered(tmp_path: pathlib.Path, store):
    folder = tmp_path / "journal"
    j = ReservationJournal(folder)
    j.reserve(row(7))
    path = j.path
    j.close()  # the ledger could not take the row: the reservation stays for the next start
    assert path is not None and 0 < path.stat().st_size < 1000
    assert [r.request_id for r in recover(folder, store)] == ["req0007"]


def test_no_room_for_the_journal_is_a_clear_error_not_a_crash(tmp_path: pathlib.Path):
    # A file-size limit stands in for a full disk: the space is reserved when the file is created,
    # so the failure comes then, as an error that says what to do, never as a SIGBUS mid-request.
    code = f"""
import resource, signal, sys
sys.path.insert(0, {str(pathlib.Path(__file__).resolve().parents[2] / "src")!r})
from jackstop.gateway.journal import JournalError, ReservationJournal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    ReservationJournal({str(tmp_path / "journal")!r}, file_bytes=1 << 20)
except JournalError as exc:
    print("refused:", exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "refused: cannot create the reservation journal" in out.stdout and "free space" in out.stdout
    assert list((tmp_path / "journal").iterdir()) == []  # nothing half-made left behind


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


def test_a_recovery_racing_a_rotation_never_counts_live_reservations(tmp_path: pathlib.Path, store, monkeypatch):
    """Another worker's recovery opens this worker's journal, and before it takes the lock the file
    rotates away (the old file is unlinked while still locked). The recovery then finds it gone and
    leaves its reservations alone: they are live, and will get their own ledger rows."""
    import fcntl

    from jackstop.gateway import journal as journal_mod

    folder = tmp_path / "journal"
    live = ReservationJournal(folder)
    live.reserve(row(0))
    old = live.path
    real_flock = fcntl.flock
    rotated: list[bool] = []

    def flock_after_a_rotation(fd, op):  # noqa: ANN001, ANN202
        if not rotated:
            rotated.append(True)
            with live._lock:
                live._new_file()  # the owner rotates between the peer's open and its lock
        return real_flock(fd, op)

    monkeypatch.setattr(journal_mod.fcntl, "flock", flock_after_a_rotation)
    assert recover(folder, store) == []
    monkeypatch.setattr(journal_mod.fcntl, "flock", real_flock)
    assert rotated and live.path != old and not old.exists()  # type: ignore[union-attr]
    assert list(store.ledger()) == [] and live.pending() == 1
    die(live)  # now the owner dies: its reservation is counted once, from the new file
    assert [r.request_id for r in recover(folder, store)] == ["req0000"]


def test_a_half_made_journal_file_is_removed_and_counts_nothing(tmp_path: pathlib.Path, store):
    folder = tmp_path / "journal"
    dead = ReservationJournal(folder)
    dead.reserve(row(3))
    (folder / ".making-reservations-1-deadbeef.log").write_bytes(b"R " + b"{}" + b"\n")  # died before the rename
    die(dead)
    assert [r.request_id for r in recover(folder, store)] == ["req0003"]
    assert list(folder.iterdir()) == []


def test_reserve_after_close_is_a_journal_error(tmp_path: pathlib.Path):
    from jackstop.gateway.journal import JournalError

    j = ReservationJournal(tmp_path / "journal")
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.reserve(row(1))
    assert list((tmp_path / "journal").iterdir()) == []
