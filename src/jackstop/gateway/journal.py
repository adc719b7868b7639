"""The reservation journal: every request is on disk before it is forwarded.

A crash (kill -9, out of memory, power loss in `fsync` mode) loses the in-process counters and
the ledger rows still waiting in memory. Without a record, the restarted gateway would re-seed
its counters from a ledger that lacks the requests that were in flight, and admit the same key
again. So before a request leaves, one line `R {json}` naming it and its worst-case cost is
appended to this process's journal file; once its ledger row is committed, a line `S id …`
marks it done. At start, `recover` reads the journals of processes that are gone (their file
lock is free), and writes each reservation without a ledger row to the ledger as a row at its
worst-case cost (rule `gateway_crashed`), so the ledger, and every counter seeded from it,
counts it; then it deletes those journals.

Why a flat file: an append is one write(2) on the event loop, about 6µs of CPU per request
(bench/reservation_durability.py, 16 concurrent: a group-committed SQLite WAL insert costs about
20µs, a group fsync about 60µs), and what write(2) returned survives the death of the process:
the kernel holds it. Surviving power loss too needs `fsync` mode: reservations are fsynced in
groups by one thread and each request waits on its group's future before it is forwarded.

One file per process, locked with flock for the life of the process, so gateways that share a
home (or a machine) never recover each other's live reservations.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import pathlib
import threading
from collections.abc import Iterable
from typing import Any

import orjson

from jackstop.store import LedgerRow, Store, StoreError

log = logging.getLogger("jackstop.journal")

CRASHED = "gateway_crashed"
ROTATE_BYTES = 64 * 1024 * 1024  # start a new file (carrying the open reservations) past this size
_FIELDS = ("ts", "request_id", "key_id", "key_name", "project", "provider", "provider_kind", "endpoint", "model",
           "source_ip", "stream", "reserved_nusd")


class JournalError(StoreError):
    """The journal cannot be written or recovered; the message says how to fix it."""


class ReservationJournal:
    def __init__(self, folder: pathlib.Path, *, sync: str = "write", rotate_bytes: int = ROTATE_BYTES) -> None:
        if sync not in ("write", "fsync"):
            raise ValueError(f"journal sync must be 'write' or 'fsync', got {sync!r}")
        self.folder = pathlib.Path(folder)
        self.sync = sync
        self.rotate_bytes = rotate_bytes
        self._open: dict[str, bytes] = {}  # request id -> its R line, until its ledger row is committed
        self._lock = threading.Lock()  # one writer at a time: the event loop (R) and the ledger thread (S)
        self._size = 0
        self._torn = False
        self._fd = -1
        self.path: pathlib.Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise JournalError(f"cannot create the reservation journal folder {self.folder}: {exc.strerror}; "
                               f"make JACKSTOP_HOME writable") from None
        self._new_file()
        # fsync mode: one thread fsyncs whatever was appended and resolves the waiting requests' futures.
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._wake = threading.Event()
        self._stop = False
        self._syncer: threading.Thread | None = None
        if sync == "fsync":
            self._syncer = threading.Thread(target=self._sync_loop, name="jackstop-journal", daemon=True)
            self._syncer.start()

    # -- files ----------------------------------------------------------------------------------
    def _new_file(self) -> None:
        path = self.folder / f"reservations-{os.getpid()}-{os.urandom(4).hex()}.log"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise JournalError(f"cannot open the reservation journal {path}: {exc.strerror}; "
                               f"make JACKSTOP_HOME writable") from None
        old, oldpath = self._fd, self.path
        self._fd, self.path, self._size, self._torn = fd, path, 0, False
        if self._open:  # carry the open reservations over before the old file goes
            self._append(b"".join(self._open.values()))
            if self.sync == "fsync":
                os.fsync(fd)
        if old >= 0:
            os.close(old)
            assert oldpath is not None
            oldpath.unlink(missing_ok=True)

    def _append(self, data: bytes) -> None:
        if self._torn:  # a failed write may have left half a line: never glue the next one to it
            data = b"\n" + data
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError:
            self._torn = True
            raise
        self._torn = False
        self._size += len(data)

    # -- the hot path ---------------------------------------------------------------------------
    def reserve(self, row: LedgerRow) -> asyncio.Future[None] | None:
        """Record a request about to be forwarded. In `fsync` mode, returns the future to await
        before forwarding; in `write` mode the record is already safe from a crash of this process."""
        line = b"R " + orjson.dumps({f: getattr(row, f) for f in _FIELDS}) + b"\n"
        with self._lock:
            self._append(line)
            self._open[row.request_id] = line
        if self._syncer is None:
            return None
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiting.append((loop, fut))
        if len(self._waiting) == 1:
            self._wake.set()
        return fut

    def settled(self, rows: Iterable[LedgerRow]) -> None:
        """Called once the ledger rows are committed: their reservations are done."""
        done = [r.request_id for r in rows if r.request_id in self._open]
        if not done:
            return
        with self._lock:
            if self._fd < 0:
                return
            for rid in done:
                self._open.pop(rid, None)
            self._append(b"S " + " ".join(done).encode() + b"\n")
            if self._size > self.rotate_bytes:
                self._new_file()

    def pending(self) -> int:
        return len(self._open)

    def _sync_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            batch, self._waiting = self._waiting, []
            if self._stop and not batch:
                return
            if not batch:
                continue
            error: BaseException | None = None
            try:
                with self._lock:  # a rotation may swap the file; it fsyncs what it carries over
                    fd = os.dup(self._fd)
                try:
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                error = JournalError(f"cannot fsync the reservation journal: {exc.strerror}")
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for loop, fut in batch:
                by_loop.setdefault(loop, []).append(fut)
            for loop, futs in by_loop.items():  # one wake-up of each loop per group, not per request
                loop.call_soon_threadsafe(_resolve, futs, error)

    def close(self) -> None:
        """Normal shutdown: the ledger writer has drained, so reservations still open here have no
        ledger row; keep the file (unlocked once closed) so the next start recovers them."""
        self._stop = True
        self._wake.set()
        if self._syncer is not None:
            self._syncer.join(timeout=5)
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                if not self._open and self.path is not None:
                    self.path.unlink(missing_ok=True)


def _resolve(futs: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for fut in futs:
        if fut.done():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)


# -- recovery ------------------------------------------------------------------------------------
def _read(path: pathlib.Path, reserved: dict[str, dict[str, Any]], done: set[str]) -> None:
    for line in path.read_bytes().split(b"\n"):
        if line.startswith(b"R "):
            try:
                rec = orjson.loads(line[2:])
            except orjson.JSONDecodeError:  # the last line, torn by the crash: not forwarded yet
                continue
            if isinstance(rec, dict) and isinstance(rec.get("request_id"), str) \
                    and isinstance(rec.get("ts"), (int, float)):
                reserved[rec["request_id"]] = rec
        elif line.startswith(b"S "):
            done.update(line[2:].decode("ascii", "replace").split())


def _in_ledger(store: Store, ids: list[str], since: float) -> set[str]:
    """The ids that already have a ledger row (a row's ts is its reservation's ts: the index on ts
    keeps this to the rows written since the oldest open reservation)."""
    return store.ledger_repo.settled(ids, since)


def crashed_row(rec: dict[str, Any]) -> LedgerRow:
    worst = int(rec.get("reserved_nusd") or 0)
    return LedgerRow(ts=float(rec["ts"]), request_id=rec["request_id"], endpoint=str(rec.get("endpoint") or ""),
                     status=0, key_id=rec.get("key_id"), key_name=rec.get("key_name"), project=rec.get("project"),
                     provider=rec.get("provider"), provider_kind=rec.get("provider_kind"), model=rec.get("model"),
                     source_ip=rec.get("source_ip"), rule=CRASHED, stream=bool(rec.get("stream")),
                     cost_nusd=worst, reserved_nusd=worst,
                     error="the gateway stopped before this forwarded request settled; " + (
                         "counted at its worst case" if worst else
                         "no budget applied to it, so no worst case was computed: its cost is unknown"))


def recover(folder: pathlib.Path, store: Store, *, own: pathlib.Path | None = None) -> list[LedgerRow]:
    """Write the unsettled reservations of dead processes' journals to the ledger (at their worst
    case) and delete those journals. Returns the rows written. Journals of live processes (their
    lock is held) are left alone."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        return []
    held: list[tuple[pathlib.Path, int]] = []
    reserved: dict[str, dict[str, Any]] = {}
    done: set[str] = set()
    try:
        for path in sorted(folder.glob("reservations-*.log")):
            if own is not None and path == own:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # a live gateway's journal
            held.append((path, fd))
            _read(path, reserved, done)
        open_ids = [rid for rid in reserved if rid not in done]
        rows: list[LedgerRow] = []
        if open_ids:
            have = _in_ledger(store, open_ids, min(float(reserved[rid]["ts"]) for rid in open_ids) - 1.0)
            rows = [crashed_row(reserved[rid]) for rid in open_ids if rid not in have]
            store.insert_ledger(rows)  # raises: the gateway does not start with reservations it cannot count
        for path, _fd in held:
            path.unlink(missing_ok=True)
        if rows:
            log.warning("recovered reservations of a gateway that stopped mid-request; counted at their worst case",
                        extra={"rows": len(rows), "worst_nusd": sum(r.cost_nusd for r in rows)})
        return rows
    finally:
        for _path, fd in held:
            os.close(fd)

