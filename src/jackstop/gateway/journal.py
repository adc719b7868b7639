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

Why a mapped file: an append is a copy into a shared mapping of the file (mmap, MAP_SHARED),
about 1µs and no system call. The mapping's pages are the kernel's page cache, so what was copied
survives the death of the process as a returned write(2) would; and with no system call the event
loop never releases the GIL mid-request, which with write(2) let the ledger or monitor thread take
the loop's turn (the write cost ~6µs alone but ~20-30µs of gateway CPU, bench/pipeline_cpu.py).
The file's space is reserved when it is created (posix_fallocate), so a full disk is a clear
error then, never a SIGBUS mid-request. A crash can cut the last copy anywhere, even leaving its
end before its start: the bytes not yet copied are zeros, and recovery skips a line holding a
zero byte. Surviving power loss too needs `fsync` mode: reservations are fsynced in groups by one
thread (fdatasync, which on Linux writes back the pages dirtied through the mapping) and each
request waits on its group's future before it is forwarded.

One file per process, locked with flock for the life of the process, so gateways that share a
home (or a machine) never recover each other's live reservations.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import mmap
import os
import pathlib
import threading
from collections.abc import Iterable
from typing import Any

import orjson

from jackstop.store import LedgerRow, Store, StoreError

log = logging.getLogger("jackstop.journal")

CRASHED = "gateway_crashed"
MAKING = ".making-"  # the prefix of a journal file not yet locked and renamed into place
FILE_BYTES = 8 * 1024 * 1024  # each file's reserved size; past half of it the ledger thread starts a new one
_FIELDS = ("ts", "request_id", "key_id", "key_name", "project", "provider", "provider_kind", "endpoint", "model",
           "source_ip", "stream", "reserved_nusd")


class JournalError(StoreError):
    """The journal cannot be written or recovered; the message says how to fix it."""


class ReservationJournal:
    def __init__(self, folder: pathlib.Path, *, sync: str = "write", file_bytes: int = FILE_BYTES) -> None:
        if sync not in ("write", "fsync"):
            raise ValueError(f"journal sync must be 'write' or 'fsync', got {sync!r}")
        self.folder = pathlib.Path(folder)
        self.sync = sync
        self.file_bytes = file_bytes
        self._open: dict[str, bytes] = {}  # request id -> its R line, until its ledger row is committed
        self._lock = threading.Lock()  # one writer at a time: the event loop (R) and the ledger thread (S)
        self._map: mmap.mmap | None = None
        self._pos = 0  # where the next line goes
        self._cap = 0  # the current file's size
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
    def _new_file(self, room: int = 0) -> None:
        """Move to a new file at once (the caller holds the lock, or is the constructor)."""
        carry = b"".join(self._open.values())  # the open reservations move to the new file
        made = self._make_file(max(self.file_bytes, 2 * (len(carry) + room) + 4096))
        self._let_go(self._install(made, carry))

    def _rotate(self) -> None:
        """The ledger thread's move to a new file. Only the swap holds the lock the event loop takes
        for each reservation: making the file (open, flock, fallocate, mmap) comes before it, and
        letting the old one go after it (closing an unlinked file with megabytes of dirty pages
        took 1.6-10 ms, and with the lock held every request arriving meanwhile waited). In `fsync`
        mode the swap also syncs the new file and the folder, so there it still waits for the disk."""
        with self._lock:
            size = sum(len(line) for line in self._open.values())
        made = self._make_file(max(self.file_bytes, 2 * size + 4096))
        with self._lock:
            carry = b"".join(self._open.values())
            if self._fd < 0 or 2 * len(carry) > made[3]:  # closed meanwhile, or the open lines outgrew it
                self._discard(made)
                if self._fd >= 0:
                    self._new_file()
                return
            old = self._install(made, carry)
        self._let_go(old)

    def _make_file(self, cap: int) -> tuple[int, mmap.mmap, pathlib.Path, int]:
        """A new journal of `cap` bytes: locked, its space reserved and mapped, under a name recovery
        does not read (the lock comes after the open, and recovery must not find a journal that its
        owner has not locked yet). Returns (fd, mapping, final path, cap)."""
        name = f"reservations-{os.getpid()}-{os.urandom(4).hex()}.log"
        path = self.folder / name
        fd, mapped = -1, None
        try:
            fd = os.open(_making(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _reserve_space(fd, cap)
            mapped = mmap.mmap(fd, cap)
        except OSError as exc:
            self._discard((fd, mapped, path, cap))
            raise _cannot_create(path, cap, exc) from None
        return fd, mapped, path, cap

    def _discard(self, made: tuple[int, mmap.mmap | None, pathlib.Path, int]) -> None:
        fd, mapped, path, _cap = made
        if mapped is not None:
            mapped.close()
        if fd >= 0:
            os.close(fd)
        _making(path).unlink(missing_ok=True)
        path.unlink(missing_ok=True)  # renamed before a later step failed: its lines are still in the current file

    def _install(self, made: tuple[int, mmap.mmap, pathlib.Path, int], carry: bytes,
                 ) -> tuple[int, mmap.mmap | None, pathlib.Path | None]:
        """Fill the new file with the open lines and put it in place (the caller holds the lock).
        Returns the old file, for `_let_go` once the lock is released."""
        fd, mapped, path, cap = made
        try:
            mapped[:len(carry)] = carry
            if self.sync == "fsync":
                os.fdatasync(fd)
            os.rename(_making(path), path)
            if self.sync == "fsync":
                _sync_folder(self.folder)  # the rename survives power loss before the old file goes
        except OSError as exc:
            self._discard(made)
            raise _cannot_create(path, cap, exc) from None
        old = (self._fd, self._map, self.path)
        self._fd, self._map, self.path, self._pos, self._cap = fd, mapped, path, len(carry), cap
        return old

    @staticmethod
    def _let_go(old: tuple[int, mmap.mmap | None, pathlib.Path | None]) -> None:
        old_fd, old_map, old_path = old
        if old_fd >= 0:
            # Unlinked while still locked: a recovery that opened it before waits for the lock, then
            # finds it gone (no links) and leaves alone the reservations that are still live here.
            assert old_path is not None and old_map is not None
            old_path.unlink(missing_ok=True)
            old_map.close()
            os.close(old_fd)

    def _append(self, data: bytes) -> None:
        """Copy one or more whole lines into the mapping (the caller holds the lock)."""
        if self._map is None:
            raise JournalError("the reservation journal is closed (the gateway is shutting down)")
        end = self._pos + len(data)
        if end > self._cap:  # full before the ledger thread rotated: rotate here (carries the open lines)
            self._new_file(len(data))
            end = self._pos + len(data)
        self._map[self._pos:end] = data
        self._pos = end

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
            rotate = self._pos > self._cap // 2  # rotate on this thread, so the event loop rarely has to
        if rotate:
            self._rotate()

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
                assert self._map is not None
                self._map.close()
                self._map = None
                if not self._open and self.path is not None:
                    self.path.unlink(missing_ok=True)
                else:
                    os.ftruncate(self._fd, self._pos)  # kept for recovery: give back the unused space
                os.close(self._fd)
                self._fd = -1


def _making(path: pathlib.Path) -> pathlib.Path:
    """The name a journal file has until it is locked and filled (recovery does not read it)."""
    return path.with_name(MAKING + path.name)


def _cannot_create(path: pathlib.Path, cap: int, exc: OSError) -> JournalError:
    return JournalError(f"cannot create the reservation journal {path} ({cap} bytes): {exc.strerror}; "
                        f"make JACKSTOP_HOME writable and give it free space")


def _sync_folder(folder: pathlib.Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reserve_space(fd: int, size: int) -> None:
    """Give every page its disk blocks before it is written through the mapping (a page with none, on
    a full disk, would kill the process with SIGBUS instead of raising here)."""
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
        return
    zeros = bytes(min(size, 1 << 20))  # macOS has no posix_fallocate: write the zeros
    for off in range(0, size, len(zeros)):
        os.pwrite(fd, zeros[:size - off], off)


def _resolve(futs: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for fut in futs:
        if fut.done():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)


# -- recovery ------------------------------------------------------------------------------------
def _read(fd: int, reserved: dict[str, dict[str, Any]], done: set[str]) -> None:
    with open(fd, "rb", closefd=False) as f:  # through the locked descriptor, not the path
        data = f.read()
    for line in data.rstrip(b"\0").split(b"\n"):
        if b"\0" in line:  # the copy the crash cut short: that request was not forwarded yet
            continue
        if line.startswith(b"R "):
            try:
                rec = orjson.loads(line[2:])
            except orjson.JSONDecodeError:  # torn by the crash: not forwarded yet
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


def _lock_if_dead(path: pathlib.Path) -> int | None:
    """A descriptor of the journal file, locked, when no live process holds it; None when its owner
    is alive (the lock is held), or it is gone (rotated away by its live owner after we looked)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_nlink > 0:
            return fd
    except BlockingIOError:
        pass
    os.close(fd)
    return None


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
            fd = _lock_if_dead(path)
            if fd is None:  # a live gateway's journal
                continue
            held.append((path, fd))
            _read(fd, reserved, done)
        open_ids = [rid for rid in reserved if rid not in done]
        rows: list[LedgerRow] = []
        if open_ids:
            have = _in_ledger(store, open_ids, min(float(reserved[rid]["ts"]) for rid in open_ids) - 1.0)
            rows = [crashed_row(reserved[rid]) for rid in open_ids if rid not in have]
            store.insert_ledger(rows)  # raises: the gateway does not start with reservations it cannot count
        for path, _fd in held:
            path.unlink(missing_ok=True)
        # A half-made file (its creator died before renaming it): its reservations are still in the
        # file it was rotating from, so it only needs removing; one being made now is locked.
        for making in folder.glob(f"{MAKING}reservations-*.log"):
            fd = _lock_if_dead(making)
            if fd is not None:
                making.unlink(missing_ok=True)
                os.close(fd)
        if rows:
            log.warning("recovered reservations of a gateway that stopped mid-request; counted at their worst case",
                        extra={"rows": len(rows), "worst_nusd": sum(r.cost_nusd for r in rows)})
        return rows
    finally:
        for _path, fd in held:
            os.close(fd)

