"""The in-process counters keep a minute of admissions per rate limit. What they keep must not be
objects the garbage collector tracks or walks: at 6,000 requests/s a minute is 360k entries, and
every full collection walked them all, pausing the event loop for 15-220 ms (bench/tail_sources.py
found it)."""

from __future__ import annotations

import asyncio
import gc
import uuid

from jackstop.counters import Admitted, AdmitRequest, BudgetCheck, RateCheck
from jackstop.counters.memory import MemoryCounters

T0 = 1_700_000_000.0


def test_a_minute_of_admissions_leaves_nothing_for_the_collector_to_walk():
    c = MemoryCounters()
    budget = BudgetCheck("key:a:day:x", 10**15, start=T0 - 3600, end=T0 + 3600, scope="key", name="a", window="day")
    rates = [RateCheck("key:a", "rpm", 10**6), RateCheck("key:a", "tpm", 10**9)]

    async def go(n: int) -> None:
        for i in range(n):  # the gateway's shape: a budget, rpm and tpm; most settle, some are in flight
            r = await c.admit(AdmitRequest(uuid.uuid4().hex, T0 + i / 1000, 500, 300, [budget], rates, 900.0))
            assert isinstance(r, Admitted)
            if i % 10:
                await c.settle(r.ticket, 400, 250, T0 + i / 1000)

    asyncio.run(go(100))  # the counters' own structures exist from here on
    gc.collect()
    before = len(gc.get_objects())
    asyncio.run(go(5000))
    gc.collect()
    assert len(gc.get_objects()) - before < 100  # not one per admission (it was 5,000 lists before)
    # and the window still counts every admission of the minute: nine in ten settled at 250, the rest at 300
    assert c._tpm["key:a"].total == (90 + 4500) * 250 + (10 + 500) * 300
    assert len(c._rpm["key:a"]) == 5100
