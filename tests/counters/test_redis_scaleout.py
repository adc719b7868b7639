"""Several gateways sharing one Redis: caps, limits and leases hold across all of them.

Each RedisCounters instance stands for one gateway process; they share state only through
Redis. Time is passed in, so nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import uuid

import pytest

from jackstop.counters import Admitted, AdmitRequest, BudgetCheck, RateCheck, Refused
from jackstop.counters.redis import RedisCounters

T0 = 1_700_000_000.0


@pytest.fixture
def prefix(redis_url):
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    p = f"jstest:{uuid.uuid4().hex[:10]}:"
    yield p
    with redis.Redis.from_url(redis_url) as r:
        keys = list(r.scan_iter(f"{p}*"))
        if keys:
            r.delete(*keys)


def req(cost=100, tokens=10, budgets=(), rates=(), now=T0, lease=900.0):
    return AdmitRequest(uuid.uuid4().hex, now, cost, tokens, list(budgets), list(rates), lease)


def day_budget(cap, counter="key:a:day:x"):
    return BudgetCheck(counter, cap, start=T0 - 3600, end=T0 + 3600, scope="key", name="a", window="day")


async def storm(gateways, n, make_req):
    """`n` admissions at once, spread over the gateways; returns (gateway, result) pairs."""
    picks = [gateways[i % len(gateways)] for i in range(n)]
    results = await asyncio.gather(*[g.admit(make_req()) for g in picks])
    return list(zip(picks, results, strict=True))


def test_gateways_in_one_loop_admit_exactly_up_to_the_cap(redis_url, prefix):
    cap = day_budget(2_500)

    async def go():
        gws = [RedisCounters(redis_url, prefix=prefix) for _ in range(4)]
        for g in gws:
            await g.start()
        out = await storm(gws, 200, lambda: req(cost=100, budgets=[cap]))
        admitted = [(g, r) for g, r in out if isinstance(r, Admitted)]
        for g, r in admitted:  # the provider bills the worst case: nothing is freed
            await g.settle(r.ticket, 100, 10, T0 + 1)
        spent = await gws[0].spent([cap], T0 + 2)
        for g in gws:
            await g.close()
        return out, admitted, spent

    out, admitted, spent = asyncio.run(go())
    assert len(admitted) == 25
    assert all(r.rule == "budget_exceeded" for _, r in out if isinstance(r, Refused))
    assert spent == [(2_500, 0)]


def _gateway_thread(url, prefix, cap, n, barrier, counts):
    async def go():
        g = RedisCounters(url, prefix=prefix)
        await g.start()
        barrier.wait()
        results = await asyncio.gather(*[g.admit(req(cost=70, budgets=[cap])) for _ in range(n)])
        admitted = [r for r in results if isinstance(r, Admitted)]
        for r in admitted:
            await g.settle(r.ticket, 70, 1, T0 + 1)
        await g.close()
        return len(admitted)

    counts.append(asyncio.run(go()))


def test_gateways_in_separate_threads_never_over_admit(redis_url, prefix):
    cap = day_budget(7_000 + 69)  # room for exactly 100 requests of 70
    barrier, counts = threading.Barrier(4), []
    threads = [threading.Thread(target=_gateway_thread, args=(redis_url, prefix, cap, 60, barrier, counts))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = asyncio.run(RedisCounters(redis_url, prefix=prefix).spent([cap], T0 + 2))
    assert len(counts) == 4 and sum(counts) == 100
    assert spent == [(7_000, 0)]


def _gateway_process(url, prefix, cap, n, barrier, results):
    async def go():
        g = RedisCounters(url, prefix=prefix)
        await g.start()
        barrier.wait()
        rpm = RateCheck("key:a", "rpm", 1000)
        out = await asyncio.gather(*[g.admit(req(cost=30, tokens=1, budgets=[cap], rates=[rpm])) for _ in range(n)])
        admitted = [r for r in out if isinstance(r, Admitted)]
        for r in admitted:
            await g.settle(r.ticket, 30, 1, T0 + 1)
        await g.close()
        return len(admitted)

    results.put(asyncio.run(go()))


@pytest.mark.slow
def test_gateways_in_separate_processes_never_over_admit(redis_url, prefix):
    ctx = multiprocessing.get_context("spawn")
    cap = day_budget(30 * 50 + 29)
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_gateway_process, args=(redis_url, prefix, cap, 40, barrier, results))
             for _ in range(3)]
    for p in procs:
        p.start()
    counts = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    spent = asyncio.run(RedisCounters(redis_url, prefix=prefix).spent([cap], T0 + 2))
    assert sum(counts) == 50 and all(p.exitcode == 0 for p in procs)
    assert spent == [(1_500, 0)]


def test_rate_limits_hold_across_gateways(redis_url, prefix):
    rpm, conc = RateCheck("key:a", "rpm", 30), RateCheck("key:b", "concurrency", 7)
    tpm = RateCheck("key:c", "tpm", 1_000)

    async def go():
        gws = [RedisCounters(redis_url, prefix=prefix) for _ in range(3)]
        by_rpm = await storm(gws, 90, lambda: req(rates=[rpm]))
        by_conc = await storm(gws, 90, lambda: req(rates=[conc]))
        by_tpm = await storm(gws, 90, lambda: req(tokens=40, rates=[tpm]))
        for g in gws:
            await g.close()
        return by_rpm, by_conc, by_tpm

    by_rpm, by_conc, by_tpm = asyncio.run(go())
    assert sum(isinstance(r, Admitted) for _, r in by_rpm) == 30
    assert sum(isinstance(r, Admitted) for _, r in by_conc) == 7
    assert sum(isinstance(r, Admitted) for _, r in by_tpm) == 25
    assert {r.rule for _, r in by_tpm if isinstance(r, Refused)} == {"tpm_limit"}


def test_an_over_cap_storm_reserves_nothing(redis_url, prefix):
    roomy, tight = day_budget(10**12, "project:p:day:x"), day_budget(99, "key:a:day:x")
    rates = [RateCheck("key:a", "rpm", 1000), RateCheck("key:a", "tpm", 10**6), RateCheck("key:a", "concurrency", 500)]

    async def go():
        gws = [RedisCounters(redis_url, prefix=prefix) for _ in range(3)]
        out = await storm(gws, 150, lambda: req(cost=100, budgets=[roomy, tight], rates=rates))
        spent = await gws[0].spent([roomy, tight], T0 + 1)
        probe = await gws[1].admit(req(cost=1, tokens=10, budgets=[roomy], rates=rates, now=T0 + 1))
        for g in gws:
            await g.close()
        return out, spent, probe

    out, spent, probe = asyncio.run(go())
    assert all(isinstance(r, Refused) and r.budget == tight for _, r in out)
    assert spent == [(0, 0), (0, 0)]
    # the refused storm took no request, token or in-flight slot either
    assert [s.remaining for s in probe.rates] == [999, 10**6 - 10, 499]


def test_a_crashed_gateways_reservation_frees_itself_on_another(redis_url, prefix):
    cap = day_budget(1_000)
    conc = RateCheck("key:a", "concurrency", 1)

    async def go():
        crashed, alive = RedisCounters(redis_url, prefix=prefix), RedisCounters(redis_url, prefix=prefix)
        lost = await crashed.admit(req(cost=600, budgets=[cap], rates=[conc], lease=30))
        during = await alive.admit(req(cost=300, budgets=[cap], rates=[conc], now=T0 + 10))
        after = await alive.admit(req(cost=300, budgets=[cap], rates=[conc], now=T0 + 31))
        spent = await alive.spent([cap], T0 + 32)
        late = await crashed.settle(lost.ticket, 50, 1, T0 + 40)  # it was counted at its worst case
        final = await alive.spent([cap], T0 + 41)
        for g in (crashed, alive):
            await g.close()
        return lost, during, after, spent, late, final

    lost, during, after, spent, late, final = asyncio.run(go())
    assert isinstance(lost, Admitted)
    assert isinstance(during, Refused) and during.rule == "concurrency_limit"
    assert isinstance(after, Admitted)  # the in-flight slot and the lease both ended at T0 + 30
    assert spent == [(600, 300)]
    assert late == [] and final == [(600, 300)]


def test_two_gateways_seeding_at_once_count_the_ledger_once(redis_url, prefix):
    calls = []

    def ledger(check):
        calls.append(check.counter)
        return 400

    cap = day_budget(1_000)

    async def go():
        gws = [RedisCounters(redis_url, seed=ledger, prefix=prefix) for _ in range(2)]
        out = await storm(gws, 20, lambda: req(cost=100, budgets=[cap]))
        spent = await gws[0].spent([cap], T0 + 1)
        for g in gws:
            await g.close()
        return out, spent

    out, spent = asyncio.run(go())
    assert sum(isinstance(r, Admitted) for _, r in out) == 6  # 400 from the ledger + 6 x 100
    assert spent == [(400, 600)]
    assert set(calls) == {cap.counter}  # asked the ledger about this counter only


def test_admissions_that_find_a_counter_missing_together_share_one_ledger_query(redis_url, prefix):
    calls = []
    g = RedisCounters(redis_url, seed=lambda check: calls.append(check) or 100, prefix=prefix)
    cap = day_budget(10_000)

    async def go():
        await g.start()
        await asyncio.gather(*[g.epoch() for _ in range(30)])  # open 30 connections: all 30 scripts run at once
        out = await asyncio.gather(*[g.admit(req(cost=10, budgets=[cap])) for _ in range(30)])
        spent = await g.spent([cap], T0)
        await g.close()
        return out, spent

    out, spent = asyncio.run(go())
    assert all(isinstance(r, Admitted) for r in out) and spent == [(100, 300)]
    assert 1 <= len(calls) <= 3  # not one query per admission (a straggler reply may ask again)


def test_a_seed_that_lands_after_another_gateways_spend_changes_nothing(redis_url, prefix):
    cap = day_budget(1_000)

    async def go():
        a = RedisCounters(redis_url, seed=lambda check: 400, prefix=prefix)
        b = RedisCounters(redis_url, seed=lambda check: 400, prefix=prefix)
        first = await a.admit(req(cost=100, budgets=[cap]))  # a seeds the counter, then reserves
        await a.settle(first.ticket, 100, 1, T0 + 1)
        held = await a.admit(req(cost=50, budgets=[cap], now=T0 + 1))
        # b found the counter missing just before a seeded it; its seed arrives now
        await b._seed_counters(b._link(), [cap], T0 + 2)
        spent = await b.spent([cap], T0 + 2)
        for g in (a, b):
            await g.close()
        return held, spent

    held, spent = asyncio.run(go())
    assert isinstance(held, Admitted) and spent == [(500, 50)]


def test_an_epoch_bump_is_seen_by_every_gateway(redis_url, prefix):
    admin, gw = RedisCounters(redis_url, prefix=prefix), RedisCounters(redis_url, prefix=prefix)

    async def read():
        value = await gw.epoch()
        await gw.close()
        return value

    before = asyncio.run(read())
    worker = threading.Thread(target=lambda: (admin.bump_epoch_sync(), admin.bump_epoch_sync()))
    worker.start()
    worker.join()
    assert before == 0 and asyncio.run(read()) == 2
    asyncio.run(admin.close())
