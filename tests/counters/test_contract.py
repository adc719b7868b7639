"""The counters contract, run against every implementation (in-process and Redis).

Time is passed in (`now`), never read, so windows and leases are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from jackstop.counters import Admitted, AdmitRequest, BudgetCheck, RateCheck, Refused
from jackstop.counters.memory import MemoryCounters

T0 = 1_700_000_000.0  # a fixed point in time, before any test process started


class Bridged:
    """`serve --workers`' counters: a SharedCounters client and the AdmissionServer it asks over a
    unix socket, both on one background loop, callable from the per-call loops of these tests."""

    def __init__(self, seed=None):
        import os
        import tempfile
        import threading

        from jackstop.counters.shared import SCHEME, AdmissionServer, SharedCounters

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        path = os.path.join(tempfile.mkdtemp(), "admission.sock")
        self.server = AdmissionServer(path, seed=seed)
        self.client = SharedCounters(SCHEME + path)
        self._sync(self.server.start())
        self._sync(self.client.start())

    def _sync(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _call(self, coro):
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def start(self):  # started in __init__
        pass

    async def admit(self, r):
        return await self._call(self.client.admit(r))

    async def settle(self, ticket, cost, tokens, now):
        return await self._call(self.client.settle(ticket, cost, tokens, now))

    async def spent(self, checks, now):
        return await self._call(self.client.spent(checks, now))

    def close(self):
        self._sync(self.client.close())
        self._sync(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(params=["memory", "redis", "shared"])
def make(request):
    made = []
    # Resolved at setup, so a missing Redis skips the test once (a skip in teardown counts twice)
    # and teardown requests no fixture (deprecated in pytest 9).
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    def factory(seed=None):
        if request.param == "memory":
            c = MemoryCounters(seed=seed)
        elif request.param == "shared":
            c = Bridged(seed=seed)
        else:
            from jackstop.counters.redis import RedisCounters

            c = RedisCounters(url, seed=seed, prefix=f"jstest:{uuid.uuid4().hex[:10]}:")
        made.append(c)
        return c

    yield factory
    if request.param == "shared":
        for c in made:
            c.close()
    if request.param == "redis":
        import redis

        r = redis.Redis.from_url(url)
        for c in made:
            asyncio.run(c.close())
            keys = list(r.scan_iter(match=c._prefix + "*"))
            if keys:
                r.delete(*keys)
        r.close()


def req(rid=None, now=T0, cost=100, tokens=10, budgets=(), rates=(), lease=900.0):
    return AdmitRequest(rid or uuid.uuid4().hex, now, cost, tokens, list(budgets), list(rates), lease)


def day_budget(cap, counter="key:a:day:x"):
    return BudgetCheck(counter, cap, start=T0 - 3600, end=T0 + 3600, scope="key", name="a", window="day")


def run(coro):
    return asyncio.run(coro)


def test_cap_holds_exactly_under_concurrent_admissions(make):
    c = make()
    b = day_budget(1000)

    async def go():
        await c.start()
        results = await asyncio.gather(*[c.admit(req(cost=100, budgets=[b])) for _ in range(50)])
        admitted = [r for r in results if isinstance(r, Admitted)]
        refused = [r for r in results if isinstance(r, Refused)]
        for a in admitted:
            await c.settle(a.ticket, 100, 10, T0 + 1)
        after = await c.admit(req(cost=1, budgets=[b], now=T0 + 2))
        spent = await c.spent([b], T0 + 2)
        return admitted, refused, after, spent

    admitted, refused, after, spent = run(go())
    assert len(admitted) == 10 and len(refused) == 40
    assert all(r.rule == "budget_exceeded" and r.budget == b for r in refused)
    assert refused[0].retry_after == pytest.approx(3600 - 0, abs=1)
    assert isinstance(after, Refused)
    assert spent == [(1000, 0)]


def test_settling_below_the_reservation_frees_room(make):
    c = make()
    b = day_budget(1000)

    async def go():
        first = await c.admit(req(cost=900, budgets=[b]))
        blocked = await c.admit(req(cost=200, budgets=[b]))
        settled = await c.settle(first.ticket, 300, 5, T0 + 1)
        again = await c.admit(req(cost=700, budgets=[b], now=T0 + 2))
        return first, blocked, settled, again

    first, blocked, settled, again = run(go())
    assert isinstance(first, Admitted) and isinstance(blocked, Refused)
    assert blocked.spent == 0 and blocked.reserved == 900
    assert [(s.before, s.after) for s in settled] == [(0, 300)]
    assert isinstance(again, Admitted)


def test_refusal_is_all_or_nothing(make):
    c = make()
    roomy, tight = day_budget(10_000, "project:p:day:x"), day_budget(50, "key:a:day:x")
    rpm = RateCheck("key:a", "rpm", 5)

    async def go():
        refused = await c.admit(req(cost=100, budgets=[roomy, tight], rates=[rpm]))
        return refused, await c.spent([roomy, tight], T0), [await c.admit(req(cost=1, budgets=[roomy], rates=[rpm]))
                                                             for _ in range(5)]

    refused, spent, later = run(go())
    assert isinstance(refused, Refused) and refused.budget == tight
    assert spent == [(0, 0), (0, 0)]  # nothing reserved in the budget that had room
    assert all(isinstance(r, Admitted) for r in later)  # and no request counted against the rpm


def test_requests_per_minute_is_an_exact_sliding_window(make):
    c = make()
    rpm = RateCheck("key:a", "rpm", 3)

    async def go():
        out = []
        for i in range(4):
            out.append(await c.admit(req(now=T0 + i, rates=[rpm])))
        out.append(await c.admit(req(now=T0 + 59.5, rates=[rpm])))
        out.append(await c.admit(req(now=T0 + 60.5, rates=[rpm])))
        return out

    r = run(go())
    assert [isinstance(x, Admitted) for x in r] == [True, True, True, False, False, True]
    assert r[3].rule == "rpm_limit" and r[3].retry_after == pytest.approx(57, abs=0.01)
    assert r[2].rates[0].remaining == 0 and r[0].rates[0].remaining == 2


def test_tokens_per_minute_reserve_worst_then_settle_actual(make):
    c = make()
    tpm = RateCheck("key:a", "tpm", 1000)

    async def go():
        a = await c.admit(req(tokens=800, rates=[tpm]))
        b = await c.admit(req(tokens=300, rates=[tpm]))
        await c.settle(a.ticket, 0, 100, T0 + 1)
        d = await c.admit(req(tokens=300, rates=[tpm], now=T0 + 2))
        too_big = await c.admit(req(tokens=5000, rates=[tpm], now=T0 + 3))
        return a, b, d, too_big

    a, b, d, too_big = run(go())
    assert isinstance(a, Admitted) and isinstance(b, Refused) and b.rule == "tpm_limit"
    assert isinstance(d, Admitted)
    assert isinstance(too_big, Refused) and too_big.retry_after is None


def test_tokens_per_minute_count_each_admission_until_its_minute_ends(make):
    c = make()
    tpm = RateCheck("key:a", "tpm", 1000)

    async def go():
        a = await c.admit(req(tokens=600, rates=[tpm]))
        await c.settle(a.ticket, 0, 100, T0 + 1)  # a counts 100 from now on
        b = await c.admit(req(tokens=800, rates=[tpm], now=T0 + 10))  # 100 + 800
        # 150 too many: a's 100 leaving is not enough, b's 800 is: wait for b (T0 + 70)
        waits = await c.admit(req(tokens=250, rates=[tpm], now=T0 + 20))
        # a's minute ended: 100 leaves (not its estimate of 600), b's 800 stays
        over = await c.admit(req(tokens=201, rates=[tpm], now=T0 + 61))
        fits = await c.admit(req(tokens=1000, rates=[tpm], now=T0 + 71))  # b's minute ended too
        await c.settle(b.ticket, 0, 5, T0 + 72)  # too late: b no longer counts, so nothing changes
        full = await c.admit(req(tokens=1, rates=[tpm], now=T0 + 72))
        return a, b, waits, over, fits, full

    a, b, waits, over, fits, full = run(go())
    assert isinstance(a, Admitted) and isinstance(b, Admitted) and isinstance(fits, Admitted)
    assert isinstance(waits, Refused) and waits.rule == "tpm_limit" and waits.retry_after == pytest.approx(50, abs=0.01)
    assert isinstance(over, Refused) and over.rule == "tpm_limit"
    assert isinstance(full, Refused) and full.rule == "tpm_limit"


def test_a_settlement_stamped_before_a_purge_of_its_entry_changes_nothing(make):
    """Workers' clocks differ: one worker's later `now` can purge an admission that another worker
    then settles with an earlier `now`. The entry is gone, so the settlement must not move the count
    (the old deque-of-lists counters subtracted it a second time and then admitted past the limit)."""
    c = make()
    tpm = RateCheck("key:a", "tpm", 1000)

    async def go():
        a = await c.admit(req(tokens=600, rates=[tpm]))
        b = await c.admit(req(tokens=400, rates=[tpm], now=T0 + 60.5))  # a leaves the window here
        await c.settle(a.ticket, 0, 100, T0 + 59.9)
        over = await c.admit(req(tokens=1000, rates=[tpm], now=T0 + 61))  # 400 + 1000 > 1000
        fits = await c.admit(req(tokens=600, rates=[tpm], now=T0 + 61))  # 400 + 600
        return b, over, fits

    b, over, fits = run(go())
    assert isinstance(b, Admitted) and isinstance(fits, Admitted)
    assert isinstance(over, Refused) and over.rule == "tpm_limit"


def test_concurrency_counts_in_flight_requests(make):
    c = make()
    conc = RateCheck("key:a", "concurrency", 2)

    async def go():
        a = await c.admit(req(rates=[conc]))
        b = await c.admit(req(rates=[conc]))
        refused = await c.admit(req(rates=[conc]))
        await c.settle(a.ticket, 0, 0, T0 + 1)
        again = await c.admit(req(rates=[conc], now=T0 + 1))
        return a, b, refused, again

    a, b, refused, again = run(go())
    assert isinstance(refused, Refused) and refused.rule == "concurrency_limit"
    assert isinstance(again, Admitted)


def test_unsettled_reservation_counts_at_worst_case_after_its_lease(make):
    c = make()
    b = day_budget(1000)

    async def go():
        lost = await c.admit(req(cost=400, budgets=[b], lease=30))  # its gateway "crashes"
        mid = await c.spent([b], T0 + 10)
        probe = await c.admit(req(cost=1, budgets=[b], now=T0 + 31))  # lease over
        after = await c.spent([b], T0 + 31)
        late = await c.settle(lost.ticket, 100, 1, T0 + 40)  # a late settle must not count it twice
        final = await c.spent([b], T0 + 41)
        return mid, probe, after, late, final

    mid, probe, after, late, final = run(go())
    assert mid == [(0, 400)]
    assert isinstance(probe, Admitted)
    assert after == [(400, 1)]
    assert late == [] and final == [(400, 1)]


def test_every_lease_ends_at_its_own_deadline_whatever_was_settled_or_admitted_around_it(make):
    # Leases of mixed lengths, the earliest settled: each unsettled one counts at its worst case
    # from its own deadline on, never before (the in-process counters skip the walk over leases
    # until the earliest deadline they have seen).
    c = make()
    b = day_budget(10_000)

    async def go():
        short = await c.admit(req(cost=100, budgets=[b], lease=10))
        long = await c.admit(req(cost=200, budgets=[b], now=T0 + 1, lease=100))
        mid = await c.admit(req(cost=400, budgets=[b], now=T0 + 2, lease=30))
        await c.settle(short.ticket, 50, 1, T0 + 5)
        seen = []
        for t in (T0 + 20, T0 + 31, T0 + 33, T0 + 100, T0 + 102):
            await c.admit(req(cost=1, budgets=[b], now=t, lease=1000))  # an admission looks at the leases
            seen.append((await c.spent([b], t))[0])
        return long, mid, seen

    long, mid, seen = run(go())
    # spent, reserved: 50 settled; mid (400) ends at T0+32, long (200) at T0+101; probes reserve 1 each.
    assert seen == [(50, 601), (50, 602), (450, 203), (450, 204), (650, 5)]


def test_rolling_window_forgets_spend_after_the_window(make):
    c = make()
    b = BudgetCheck("key:a:24h", 1000, rolling=86400, scope="key", name="a", window="24h")

    async def go():
        a = await c.admit(req(cost=1000, budgets=[b]))
        await c.settle(a.ticket, 1000, 0, T0)
        same_day = await c.admit(req(cost=1, budgets=[b], now=T0 + 3600))
        next_day = await c.admit(req(cost=1, budgets=[b], now=T0 + 86400 + 3601))
        return same_day, next_day

    same_day, next_day = run(go())
    assert isinstance(same_day, Refused) and same_day.retry_after > 0
    assert isinstance(next_day, Admitted)


def test_counters_for_a_window_begun_before_start_are_seeded(make):
    seen = []

    def seed(check):
        seen.append(check.counter)
        return 950

    c = make(seed=seed)
    b = day_budget(1000)
    r = run(c.admit(req(cost=100, budgets=[b])))
    assert isinstance(r, Refused) and r.spent == 950
    assert seen == [b.counter]


def test_many_budgets_forget_only_windows_that_ended_never_live_spend(monkeypatch):
    import jackstop.counters.memory as memory

    monkeypatch.setattr(memory, "FORGET_AT", 50)
    c = MemoryCounters()
    live = day_budget(1000)

    async def go():
        a = await c.admit(req(cost=900, budgets=[live]))
        await c.settle(a.ticket, 900, 10, T0)
        for i in range(120):  # other live windows, then windows that end at T0 + 10
            end = T0 + 3600 if i < 60 else T0 + 10
            other = BudgetCheck(f"key:o{i}:day:x", 10_000, start=T0 - 3600, end=end, scope="key", name=f"o{i}",
                                window="day")
            await c.admit(req(cost=1, budgets=[other], now=T0 + 20))
        again = await c.admit(req(cost=900, budgets=[live], now=T0 + 20))
        return again, len(c._budgets)

    again, held = run(go())
    assert isinstance(again, Refused) and again.rule == "budget_exceeded"  # the 900 spent is still counted
    assert held < 121  # ended windows were forgotten
