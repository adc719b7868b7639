"""What making a reservation durable costs, per request, for each way of doing it.

16 concurrent asyncio "requests" on one event loop each make a reservation durable and wait
for it, as the gateway does before forwarding. Prints the process CPU time and the wall time
per reservation for: nothing (the baseline), the reservation journal in `write` mode (a copy
into a mapped file, what the gateway does by default), the journal in `fsync` mode (group fdatasync in a
thread), and a SQLite table in WAL mode with group commit (synchronous=NORMAL and FULL), with
the CPU added over the baseline and as a share of the gateway's CPU per request.

    python bench/reservation_durability.py [--reservations 20000] [--gateway-cpu-us 346]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import shutil
import sqlite3
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from jackstop.gateway.journal import ReservationJournal  # noqa: E402
from jackstop.store import LedgerRow  # noqa: E402

CONCURRENCY = 16


def row() -> LedgerRow:
    return LedgerRow(ts=time.time(), request_id=os.urandom(8).hex(), endpoint="chat.completions", status=0,
                     key_id="0123456789abcdef", key_name="bench", provider="oai", provider_kind="openai",
                     model="gpt-4o-mini", source_ip="127.0.0.1", stream=True, reserved_nusd=123456789)


class Nothing:
    def reserve(self, r: LedgerRow) -> None:
        return None


class SqliteGroupCommit:
    """Reservations as rows of a WAL-mode table, committed in groups by one thread."""

    def __init__(self, path: pathlib.Path, synchronous: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("CREATE TABLE reservations (request_id TEXT PRIMARY KEY, ts REAL, key_id TEXT, worst BIGINT)")
        self.waiting: list = []
        self.wake = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def reserve(self, r: LedgerRow) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.waiting.append((fut, (r.request_id, r.ts, r.key_id, r.reserved_nusd)))
        if len(self.waiting) == 1:
            self.wake.set()
        return fut

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            batch, self.waiting = self.waiting, []
            if not batch:
                continue
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO reservations VALUES (?, ?, ?, ?)", [b[1] for b in batch])
            self.db.execute("COMMIT")
            batch[0][0].get_loop().call_soon_threadsafe(self._done, batch)

    @staticmethod
    def _done(batch: list) -> None:
        for fut, _ in batch:
            if not fut.done():
                fut.set_result(None)


async def measure(make, n: int) -> tuple[float, float]:
    target = make()
    left = iter(range(n))

    async def request() -> None:
        for _ in left:
            wait = target.reserve(row())
            if wait is not None:
                await wait
            await asyncio.sleep(0)  # the request goes on

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*[request() for _ in range(CONCURRENCY)])
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reservations", type=int, default=20000)
    ap.add_argument("--gateway-cpu-us", type=float, default=346.0,
                    help="gateway CPU per request at 16 connections (bench/overhead.py), for the share column")
    args = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jackstop-durability-"))
    options = {
        "none (baseline)": lambda: Nothing(),
        "journal mapped (write)": lambda: ReservationJournal(tmp / "jw", sync="write"),
        "journal fsync group": lambda: ReservationJournal(tmp / "jf", sync="fsync"),
        "sqlite WAL NORMAL group": lambda: SqliteGroupCommit(tmp / "n.db", "NORMAL"),
        "sqlite WAL FULL group": lambda: SqliteGroupCommit(tmp / "f.db", "FULL"),
    }
    try:
        print(f"making a reservation durable: {args.reservations} reservations, {CONCURRENCY} concurrent")
        print(f"{'option':26s} {'cpu/res':>9s} {'wall/res':>9s} {'added cpu':>10s} {'of gateway cpu/req':>19s}")
        base = None
        for name, make in options.items():
            cpu, wall = asyncio.run(measure(make, args.reservations))
            base = cpu if base is None else base
            added = max(0.0, cpu - base)
            print(f"{name:26s} {cpu:8.1f}µs {wall:8.1f}µs {added:9.1f}µs {added / args.gateway_cpu_us:18.1%}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
