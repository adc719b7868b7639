"""What admission control costs with Redis counters, against the in-process counters, same run.

A helper benchmark (not part of `make bench`, which needs no Redis):
    .venv/bin/python bench/_redis_counters.py [redis://127.0.0.1:6379/0]
The URL defaults to $JACKSTOP_TEST_REDIS, then redis://127.0.0.1:6379/0.

Each request counts against three budgets (key day, project day, global 24h rolling) and three
rate limits (rpm, tpm, concurrency), as a fully configured key does. Figures: microseconds per
admit and per settle one at a time (the latency a request sees), admit+settle pairs per second
with 64 in flight (throughput of one gateway process), and Redis's own time per script call
(from INFO commandstats, so the rest is client and network).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from jackstop.counters import AdmitRequest, BudgetCheck, Counters, RateCheck  # noqa: E402
from jackstop.counters.memory import MemoryCounters  # noqa: E402
from jackstop.counters.redis import CountersUnavailable, RedisCounters  # noqa: E402

SEQUENTIAL = 3000
CONCURRENT = 6000
IN_FLIGHT = 64
BIG = 10**15


def shape() -> tuple[list[BudgetCheck], list[RateCheck]]:
    now = time.time()
    budgets = [BudgetCheck("key:bench:day:x", BIG, start=now - 3600, end=now + 3600, scope="key", window="day"),
               BudgetCheck("project:bench:day:x", BIG, start=now - 3600, end=now + 3600, scope="project", window="day"),
               BudgetCheck("global:24h", BIG, rolling=86400, scope="global", window="24h")]
    rates = [RateCheck("key:bench", "rpm", 10**9), RateCheck("key:bench", "tpm", 10**12),
             RateCheck("key:bench", "concurrency", 10**6)]
    return budgets, rates


async def sequential(c: Counters, n: int) -> tuple[float, float]:
    budgets, rates = shape()
    admit_s = settle_s = 0.0
    for _ in range(n):
        t0 = time.perf_counter()
        a = await c.admit(AdmitRequest(uuid.uuid4().hex, time.time(), 5_000_000, 4_000, budgets, rates))
        t1 = time.perf_counter()
        await c.settle(a.ticket, 1_000_000, 500, time.time())
        admit_s += t1 - t0
        settle_s += time.perf_counter() - t1
    return admit_s / n * 1e6, settle_s / n * 1e6


async def concurrent(c: Counters, n: int, in_flight: int) -> float:
    budgets, rates = shape()
    gate = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with gate:
            a = await c.admit(AdmitRequest(uuid.uuid4().hex, time.time(), 5_000_000, 4_000, budgets, rates))
            await c.settle(a.ticket, 1_000_000, 500, time.time())

    t0 = time.perf_counter()
    await asyncio.gather(*[one() for _ in range(n)])
    return n / (time.perf_counter() - t0)


def script_stats(url: str) -> tuple[int, int]:
    import redis

    with redis.Redis.from_url(url) as r:
        s = r.info("commandstats").get("cmdstat_evalsha", {})
    return int(s.get("calls", 0)), int(s.get("usec", 0))


async def measure(make, label: str) -> dict[str, float]:
    c = make()
    await c.start()
    await sequential(c, 200)  # warm up: connections, script cache
    adm, stl = await sequential(c, SEQUENTIAL)
    pairs = await concurrent(c, CONCURRENT, IN_FLIGHT)
    await c.close()
    return {"admit_us": adm, "settle_us": stl, "pairs_per_s": pairs}


def run(make, loop: str) -> dict[str, float]:
    if loop == "uvloop":
        import uvloop

        return uvloop.run(measure(make, loop))
    return asyncio.run(measure(make, loop))


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("JACKSTOP_TEST_REDIS", "redis://127.0.0.1:6379/0")
    prefix = f"jsbench:{uuid.uuid4().hex[:8]}:"
    try:
        asyncio.run(RedisCounters(url, prefix=prefix).start())
    except CountersUnavailable as exc:
        print(f"skipped: {exc}")
        return 0
    loops = ["asyncio"]
    try:
        import uvloop  # noqa: F401

        loops.append("uvloop")
    except ImportError:
        pass
    print(f"{SEQUENTIAL} requests one at a time, then {CONCURRENT} with {IN_FLIGHT} in flight; "
          f"3 budgets + rpm, tpm, concurrency per request; Redis at {url.split('@')[-1]}")
    print(f"{'counters':<8} {'loop':<8} {'admit µs':>9} {'settle µs':>10} {'admits/s':>9} {'pairs/s @64':>12}")
    try:
        for loop in loops:
            mem = run(MemoryCounters, loop)
            calls0, usec0 = script_stats(url)
            red = run(lambda: RedisCounters(url, prefix=prefix), loop)
            calls1, usec1 = script_stats(url)
            for name, m in (("memory", mem), ("redis", red)):
                print(f"{name:<8} {loop:<8} {m['admit_us']:>9.1f} {m['settle_us']:>10.1f} "
                      f"{1e6 / m['admit_us']:>9.0f} {m['pairs_per_s']:>12.0f}")
            print(f"  redis / memory: admit {red['admit_us'] / mem['admit_us']:.0f}x slower, "
                  f"+{red['admit_us'] - mem['admit_us']:.0f} µs per admission; throughput "
                  f"{red['pairs_per_s'] / mem['pairs_per_s']:.2f}x; "
                  f"Redis's own time {(usec1 - usec0) / max(1, calls1 - calls0):.0f} µs per script call")
    finally:
        import redis

        with redis.Redis.from_url(url) as r:
            keys = list(r.scan_iter(f"{prefix}*"))
            if keys:
                r.delete(*keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
