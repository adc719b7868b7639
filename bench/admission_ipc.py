"""Keeping caps exact across `serve --workers N` on the embedded tier: what one admission costs.

Three ways, each doing admit + settle for a request with one budget and rpm/tpm limits (the shape
of bench/overhead.py's key), measured as CPU time (user + system, every process involved) per
admission:
- in-process MemoryCounters (one worker; the baseline);
- shared memory: the budget's numbers in a multiprocessing.shared_memory block, updated under a
  cross-process lock (a POSIX semaphore, or flock, which the kernel releases if a worker dies),
  two processes at once. Only the budget arithmetic: a full design would also need rolling
  buckets, rpm/tpm entries, leases and in-flight sets in fixed-size shared tables;
- the admission process (jackstop.counters.shared): the real client and server over a unix
  socket, 16 requests in flight per worker, two worker processes at once.

    python bench/admission_ipc.py [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import multiprocessing as mp
import os
import resource
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from jackstop.counters import AdmitRequest, BudgetCheck, RateCheck  # noqa: E402
from jackstop.counters.memory import MemoryCounters  # noqa: E402

CAP = 10**18


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


T0 = time.time()
BUDGETS = [BudgetCheck("key:k:day:2026-12-03", CAP, 0, T0 - 3600, T0 + 86400, "key", "k", "day", (0.5,))]
RATES = [RateCheck("key:k", "rpm", 10_000_000, "key", "k"), RateCheck("key:k", "tpm", 10**10, "key", "k")]


def _request(i: int, worker: int) -> AdmitRequest:
    # The checks of one key in one calendar window are the same objects request after request
    # (jackstop.gateway.admission caches them per key and window).
    return AdmitRequest(f"{worker}-{i}", time.time(), 1000, 500, BUDGETS, RATES)


def in_process(n: int) -> float:
    c = MemoryCounters()

    async def run() -> None:
        for i in range(n):
            r = await c.admit(_request(i, 0))
            await c.settle(r.ticket, 900, 400, time.time())

    c0 = _cpu()
    asyncio.run(run())
    return (_cpu() - c0) / n * 1e6


# -- shared memory ------------------------------------------------------------------------------

def _shm_worker(name: str, lock_kind: str, lock_path: str, sem: object, n: int, out: mp.Queue) -> None:
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(name=name)
    buf = shm.buf
    fd = os.open(lock_path, os.O_RDWR)
    lock = (lambda: fcntl.flock(fd, fcntl.LOCK_EX), lambda: fcntl.flock(fd, fcntl.LOCK_UN)) if lock_kind == "flock" \
        else (sem.acquire, sem.release)
    acquire, release = lock
    c0 = _cpu()
    for i in range(n):
        req = _request(i, 0)  # the same request object work as the other candidates
        acquire()
        spent, reserved, rpm = struct.unpack_from("qqq", buf, 0)
        if spent + reserved + req.cost <= CAP:
            struct.pack_into("qqq", buf, 0, spent, reserved + req.cost, rpm + 1)
        release()
        acquire()
        spent, reserved, rpm = struct.unpack_from("qqq", buf, 0)
        struct.pack_into("qqq", buf, 0, spent + 900, reserved - req.cost, rpm)
        release()
    out.put(_cpu() - c0)
    del buf
    shm.close()


def shared_memory_cost(n: int, lock_kind: str) -> float:
    from multiprocessing import shared_memory

    ctx = mp.get_context("fork")
    shm = shared_memory.SharedMemory(create=True, size=64)
    lock_file = tempfile.NamedTemporaryFile()
    sem = ctx.Lock()
    out = ctx.Queue()
    procs = [ctx.Process(target=_shm_worker, args=(shm.name, lock_kind, lock_file.name, sem, n, out)) for _ in range(2)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    spent, reserved, _ = struct.unpack_from("qqq", shm.buf, 0)
    assert spent == 2 * n * 900 and reserved == 0, (spent, reserved)
    shm.close()
    shm.unlink()
    return total / (2 * n) * 1e6


# -- the admission process ------------------------------------------------------------------------

def _server(path: str, ready: mp.Event, stop: mp.Event, out: mp.Queue) -> None:
    from jackstop.counters.shared import AdmissionServer

    async def run() -> None:
        s = AdmissionServer(path)
        await s.start()
        ready.set()
        c0 = _cpu()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        out.put(_cpu() - c0)
        await s.close()

    import uvloop

    uvloop.run(run())


def _client(path: str, n: int, worker: int, out: mp.Queue) -> None:
    from jackstop.counters.shared import SCHEME, SharedCounters

    async def run() -> None:
        c = SharedCounters(SCHEME + path)
        await c.start()

        async def lane(lane_no: int) -> None:
            for i in range(lane_no, n, 16):
                r = await c.admit(_request(i, worker))
                await c.settle(r.ticket, 900, 400, time.time())

        c0 = _cpu()
        await asyncio.gather(*[lane(k) for k in range(16)])
        out.put(_cpu() - c0)
        await c.close()

    import uvloop

    uvloop.run(run())


def admission_process_cost(n: int) -> tuple[float, float]:
    ctx = mp.get_context("fork")
    path = os.path.join(tempfile.mkdtemp(), "admission.sock")
    ready, stop, out_s, out_c = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
    server = ctx.Process(target=_server, args=(path, ready, stop, out_s))
    server.start()
    ready.wait(10)
    clients = [ctx.Process(target=_client, args=(path, n, w, out_c)) for w in range(2)]
    for p in clients:
        p.start()
    client_cpu = sum(out_c.get() for _ in clients)
    for p in clients:
        p.join()
    stop.set()
    server_cpu = out_s.get()
    server.join()
    return client_cpu / (2 * n) * 1e6, server_cpu / (2 * n) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="admissions per worker")
    args = ap.parse_args()
    base = in_process(args.n)
    sem = shared_memory_cost(args.n, "semaphore")
    flk = shared_memory_cost(args.n, "flock")
    client, server = admission_process_cost(args.n)
    print(f"CPU per admission (admit + settle; one budget, rpm and tpm; {args.n} per worker, 2 workers)")
    print(f"  in-process MemoryCounters (1 worker, baseline)        {base:7.1f} µs")
    print(f"  shared memory + POSIX semaphore (budget numbers only)  {sem:7.1f} µs")
    print(f"  shared memory + flock (budget numbers only)            {flk:7.1f} µs")
    print(f"  admission process over a unix socket                   {client + server:7.1f} µs "
          f"(worker {client:.1f} + admission process {server:.1f})")
    print(f"  admission process vs in-process: +{client + server - base:.1f} µs per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
