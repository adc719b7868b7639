"""The request-path cost of metrics: `LedgerObserver.observe` per ledger row, and the timing
wrapper around the counters per admit+settle, each against the work it rides on.

    python bench/metrics_observe.py [--rows 200000]

For the end-to-end figure, run bench/overhead.py twice, with and without a config holding
`[metrics]\\nlisten = "127.0.0.1:9464"`, and compare the CPU per request it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from jackstop.counters import AdmitRequest, BudgetCheck
from jackstop.counters.memory import MemoryCounters
from jackstop.metrics.budgets import TimedCounters
from jackstop.metrics.families import Families
from jackstop.metrics.observer import LedgerObserver
from jackstop.store import LedgerRow


def rows(n: int) -> list[LedgerRow]:
    out = []
    for i in range(n):
        if i % 10 == 9:  # one in ten refused
            out.append(LedgerRow(ts=0.0, request_id="r", endpoint="chat.completions", status=402, rule="budget_exceeded",
                                 key_name=f"key-{i % 50}", provider="oai", provider_kind="openai", latency_ms=0.3,
                                 family="openai"))
        else:
            out.append(LedgerRow(ts=0.0, request_id="r", endpoint="chat.completions", status=200,
                                 key_name=f"key-{i % 50}", provider="oai", provider_kind="openai",
                                 model=("gpt-4o-mini", "gpt-4o")[i % 2], input_tokens=250, output_tokens=8,
                                 cost_nusd=42_300, latency_ms=2.1, upstream_latency_ms=1.7, family="openai"))
    return out


def per_row(fn, batch: list[LedgerRow]) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    for r in batch:
        fn(r)
    return (time.perf_counter() - t0) / len(batch) * 1e9


async def counters_cost(n: int) -> tuple[float, float]:
    checks = [BudgetCheck(f"key:{i}:day:x", 10**15, scope="key", name=f"k{i}", window="day") for i in range(2)]

    async def run(counters) -> float:  # noqa: ANN001
        t0 = time.perf_counter()
        for i in range(n):
            res = await counters.admit(AdmitRequest(str(i), 1.0e9, 50_000, 300, checks, []))
            await counters.settle(res.ticket, 42_000, 258, 1.0e9)
        return (time.perf_counter() - t0) / n * 1e9

    plain = await run(MemoryCounters())
    timed = await run(TimedCounters(MemoryCounters(), Families(max_keys=500, max_models=200)))
    return plain, timed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    batch = rows(args.rows)
    obs = LedgerObserver(Families(max_keys=500, max_models=200), max_keys=500, max_models=200)
    per_row(obs.observe, batch[:1000])  # bind the children first, as a running gateway has
    buf: list[LedgerRow] = []
    put = per_row(buf.append, batch)  # what LedgerWriter.put does with a row without metrics
    observe = min(per_row(obs.observe, batch) for _ in range(3))
    print(f"observe per row: {observe:,.0f} ns (the ledger's own append: {put:,.0f} ns)")
    plain, timed = asyncio.run(counters_cost(args.rows // 4))
    print(f"admit+settle on memory counters: {plain:,.0f} ns plain, {timed:,.0f} ns timed "
          f"(+{timed - plain:,.0f} ns, ratio {timed / plain:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
