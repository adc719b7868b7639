"""What is particular to keeping counters in Redis: scripts, key lifetimes, exact big amounts,
lost keys, retried calls, and the errors an operator sees."""

from __future__ import annotations

import asyncio
import math
import socket
import uuid

import pytest

from jackstop.counters import Admitted, AdmitRequest, BudgetCheck, RateCheck, Refused
from jackstop.counters.redis import MAX_AMOUNT, SCRIPTS, CountersUnavailable, RedisCounters, display_url

T0 = 1_700_000_000.0


@pytest.fixture
def prefix(redis_url):
    p = f"jstest:{uuid.uuid4().hex[:10]}:"
    yield p
    with _sync(redis_url) as r:
        keys = list(r.scan_iter(f"{p}*"))
        if keys:
            r.delete(*keys)


def _sync(url):
    import redis

    return redis.Redis.from_url(url, decode_responses=True)


def req(cost=100, tokens=10, budgets=(), rates=(), now=T0, lease=900.0):
    return AdmitRequest(uuid.uuid4().hex, now, cost, tokens, list(budgets), list(rates), lease)


def day_budget(cap, counter="key:a:day:x"):
    return BudgetCheck(counter, cap, start=T0 - 3600, end=T0 + 3600, scope="key", name="a", window="day")


def test_scripts_are_loaded_again_after_script_flush(redis_url, prefix):
    cap = day_budget(1_000)
    c = RedisCounters(redis_url, prefix=prefix)

    async def go():
        first = await c.admit(req(cost=300, budgets=[cap]))
        with _sync(redis_url) as r:
            r.script_flush()
        second = await c.admit(req(cost=300, budgets=[cap]))
        settled = await c.settle(first.ticket, 200, 1, T0 + 1)
        spent = await c.spent([cap], T0 + 1)
        await c.close()
        return first, second, settled, spent

    first, second, settled, spent = asyncio.run(go())
    assert isinstance(first, Admitted) and isinstance(second, Admitted)
    assert [(s.before, s.after) for s in settled] == [(0, 200)]
    assert spent == [(200, 300)]
    import hashlib

    with _sync(redis_url) as r:
        shas = [hashlib.sha1(SCRIPTS[n].encode()).hexdigest() for n in ("admit", "settle", "spent")]
        assert r.script_exists(*shas) == [True, True, True]


def test_keys_expire_after_their_window(redis_url, prefix):
    now = T0 + 600
    day = day_budget(10**9)
    rolling = BudgetCheck("key:a:24h", 10**9, rolling=86400, window="24h")
    total = BudgetCheck("key:a:total", 10**9, window="total")
    rates = [RateCheck("key:a", "rpm", 100), RateCheck("key:a", "tpm", 10**6), RateCheck("key:a", "concurrency", 10)]
    c = RedisCounters(redis_url, prefix=prefix)

    async def go():
        await c.admit(req(budgets=[day, rolling, total], rates=rates, now=now, lease=1800))
        await c.close()

    asyncio.run(go())
    with _sync(redis_url) as r:
        ttl = {k[len(prefix):]: r.ttl(k) for k in r.scan_iter(f"{prefix}*")}
    day_left = math.ceil(day.end + 86400 - now)  # a day after the window ends
    assert day_left - 5 <= ttl["budget:key:a:day:x"] <= day_left
    assert day_left - 5 <= ttl["lease:key:a:day:x"] <= day_left
    assert 86400 + 3600 - 5 <= ttl["budget:key:a:24h"] <= 86400 + 3600  # its length and a bucket
    assert ttl["budget:key:a:total"] == -1  # all-time spend never expires
    assert 1800 <= ttl["inflight:key:a"] <= 1800 + 60  # outlives the lease of its slots
    for key in ("rpm:key:a", "tpm:key:a", "tpm-total:key:a"):
        assert 60 < ttl[key] <= 120


def test_amounts_beyond_32_and_53_bits_stay_exact(redis_url, prefix):
    big = 2**60 + 3  # doubles cannot tell it from its neighbours
    cap = day_budget(big)
    c = RedisCounters(redis_url, prefix=prefix)

    async def go():
        a = await c.admit(req(cost=2**60 + 1, budgets=[cap]))
        s = await c.settle(a.ticket, 2**60 + 1, 1, T0 + 1)
        b = await c.admit(req(cost=2, budgets=[cap], now=T0 + 2))  # exactly reaches the cap
        over = await c.admit(req(cost=1, budgets=[cap], now=T0 + 3))  # one nano-USD too many
        spent = await c.spent([cap], T0 + 4)
        small = day_budget(3 * 2**31, "key:b:day:x")
        x = await c.admit(req(cost=2**31 + 7, budgets=[small], now=T0))
        await c.settle(x.ticket, 2**31 + 5, 1, T0 + 1)
        y = await c.admit(req(cost=2**32, budgets=[small], now=T0 + 2))
        spent_small = await c.spent([small], T0 + 3)
        await c.close()
        return s, b, over, spent, y, spent_small

    s, b, over, spent, y, spent_small = asyncio.run(go())
    assert [(x.before, x.after) for x in s] == [(0, 2**60 + 1)]
    assert isinstance(b, Admitted)
    assert isinstance(over, Refused) and over.spent == 2**60 + 1 and over.reserved == 2
    assert spent == [(2**60 + 1, 2)]
    assert isinstance(y, Refused) and y.spent == 2**31 + 5
    assert spent_small == [(2**31 + 5, 0)]


def test_amounts_a_redis_integer_cannot_hold_are_refused_clearly(redis_url, prefix):
    c = RedisCounters(redis_url, prefix=prefix)
    with pytest.raises(ValueError, match="cost must be a whole number from 0 to"):
        asyncio.run(c.admit(req(cost=MAX_AMOUNT + 1, budgets=[day_budget(10)])))
    with pytest.raises(ValueError, match="cost must be a whole number"):
        asyncio.run(c.admit(req(cost=1.5, budgets=[day_budget(10)])))
    with pytest.raises(ValueError, match="unknown rate limit kind 'rps'"):
        asyncio.run(c.admit(req(rates=[RateCheck("key:a", "rps", 1)])))


def test_a_counter_lost_from_redis_is_seeded_again_and_its_settle_still_counts(redis_url, prefix):
    ledger = {"key:a:day:x": 0}
    cap = day_budget(10_000)
    c = RedisCounters(redis_url, seed=lambda check: ledger[check.counter], prefix=prefix)

    async def go():
        a = await c.admit(req(cost=500, budgets=[cap]))
        with _sync(redis_url) as r:  # Redis restarts without persistence
            r.delete(f"{prefix}budget:key:a:day:x", f"{prefix}lease:key:a:day:x")
        ledger["key:a:day:x"] = 2_000  # what earlier requests wrote to the ledger
        settled = await c.settle(a.ticket, 300, 1, T0 + 1)
        spent = await c.spent([cap], T0 + 2)
        await c.close()
        return settled, spent

    settled, spent = asyncio.run(go())
    assert [(s.before, s.after) for s in settled] == [(2_000, 2_300)]
    assert spent == [(2_300, 0)]


def test_an_admission_retried_after_a_lost_reply_reserves_once(redis_url, prefix):
    cap = day_budget(1_000)
    tpm = RateCheck("key:a", "tpm", 100)
    c = RedisCounters(redis_url, prefix=prefix)

    async def go():
        r = req(cost=600, tokens=60, budgets=[cap], rates=[tpm])
        frame = c._frame(r.now, r.budgets, r.rates, "lease-1", "600", "60", "600", "60", r.lease)
        first = await c._run("admit", *frame, r.budgets, r.now)
        again = await c._run("admit", *frame, r.budgets, r.now)  # what redis-py's one retry sends
        spent = await c.spent([cap], T0)
        await c.close()
        return first, again, spent

    first, again, spent = asyncio.run(go())
    assert first[0] == 1 and again[0] == 1
    assert again[3] == "60"  # the tokens-per-minute window holds the request once
    assert spent == [(0, 600)]


def test_an_unreachable_redis_is_named_without_its_password():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = RedisCounters(f"redis://jack:s3cr3t-pw@127.0.0.1:{port}/0")
    with pytest.raises(CountersUnavailable) as err:
        asyncio.run(c.start())
    message = str(err.value)
    assert f"redis://127.0.0.1:{port}/0" in message and "JACKSTOP_COUNTERS_URL" in message
    assert "s3cr3t" not in message and "jack" not in message.replace("JACKSTOP", "")


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:pw@host:6380/2", "redis://host:6380/2"),
    ("rediss://user:pw@[::1]:6379/0?ssl_cert_reqs=none", "rediss://[::1]:6379/0"),
    ("unix:///run/redis.sock?db=1&password=pw", "unix:///run/redis.sock"),
    ("redis://localhost", "redis://localhost"),
])
def test_display_url_drops_credentials(url, shown):
    assert display_url(url) == shown


def test_admissions_asked_together_share_a_round_trip_and_stay_exact(redis_url, prefix):
    """Auto-pipelining (RedisCounters._call): 40 admissions asked in one turn of the event loop go to
    Redis in one pipeline, each script still atomic: exactly cap/cost of them are admitted, even when
    Redis has lost its scripts (SCRIPT FLUSH) just before."""
    cap = day_budget(1_000)
    c = RedisCounters(redis_url, prefix=prefix)
    sent: list[int] = []

    async def go():
        await c.start()
        link = c._link()
        assert link.wire is not None, "redis:// with hiredis: batches go over the lean wire"
        real = link.wire.call

        def counted(commands):
            sent.append(len(commands))
            return real(commands)

        link.wire.call = counted
        with _sync(redis_url) as r:
            r.script_flush()
        results = await asyncio.gather(*[c.admit(req(cost=100, budgets=[cap])) for _ in range(40)])
        spent = await c.spent([cap], T0 + 1)
        await c.close()
        return results, spent

    results, spent = asyncio.run(go())
    assert sum(isinstance(r, Admitted) for r in results) == 10
    assert sum(isinstance(r, Refused) for r in results) == 30
    assert spent == [(0, 1_000)]
    assert sent and max(sent) == 40  # one pipeline carried them all


def test_hiredis_packing_sends_the_same_bytes_as_redis_py():
    """The asyncio client's commands are packed by hiredis (_with_hiredis_packing): byte for byte what
    redis-py's own packer sends, including multi-word commands and non-ASCII arguments."""
    import redis.asyncio as redis_async

    from jackstop.counters.redis import _with_hiredis_packing

    fast_cls = _with_hiredis_packing(redis_async.Connection)
    assert fast_cls is not redis_async.Connection, "hiredis (the scale extra) should be installed"
    fast, plain = fast_cls(host="127.0.0.1"), redis_async.Connection(host="127.0.0.1")
    for args in [("EVALSHA", "ab" * 20, 2, "jackstop:budget:k", "jackstop:lease:k", "1700000000.25", "ünïcode"),
                 ("SCRIPT LOAD", "return 1"), (b"SCRIPT EXISTS", "ab" * 20), ("GET", "jackstop:epoch"),
                 ("SET", "k", 3), ("INCRBY", "k", -5)]:
        assert b"".join(fast.pack_command(*args)) == b"".join(plain.pack_command(*args)), args
    cmds = [("GET", "a"), ("EVALSHA", "ab" * 20, 1, "k", "v")]
    assert b"".join(fast.pack_commands(cmds)) == b"".join(plain.pack_commands(cmds))


def test_an_admission_cancelled_before_its_batch_left_is_not_sent(redis_url, prefix):
    """A request whose client went away while its admission waited for the pipeline reserves
    nothing: an admission nobody waits for would hold budget until its lease ended."""
    cap = day_budget(1_000)
    c = RedisCounters(redis_url, prefix=prefix)

    async def go():
        await c.start()
        gone = asyncio.ensure_future(c.admit(req(cost=300, budgets=[cap])))
        kept = asyncio.ensure_future(c.admit(req(cost=300, budgets=[cap])))
        await asyncio.sleep(0)  # both have queued their script for this turn's pipeline
        gone.cancel()
        got = await kept
        spent = await c.spent([cap], T0 + 1)
        await c.close()
        return got, spent

    got, spent = asyncio.run(go())
    assert isinstance(got, Admitted)
    assert spent == [(0, 300)]  # one reservation, not two


# -- the hot path's own connection (jackstop.counters.resp) -------------------------------------------

def test_a_connection_redis_killed_is_opened_again_and_the_admission_counts_once(redis_url, prefix):
    """Redis drops the wire between two batches (a restart, CLIENT KILL): the next batch finds it
    broken, connects again, and is answered; the admission sent on the dead connection is not lost
    or doubled."""
    cap = day_budget(1_000)
    c = RedisCounters(redis_url, prefix=prefix)

    async def go():
        await c.start()
        link = c._link()
        first = link.wire
        assert first is not None
        wire_id = (await first.call([("CLIENT", "ID")]))[0]
        with _sync(redis_url) as r:
            assert r.execute_command("CLIENT", "KILL", "ID", wire_id) == 1
        got = await c.admit(req(cost=300, budgets=[cap]))
        spent = await c.spent([cap], T0 + 1)
        second = link.wire
        await c.close()
        return got, spent, first, second

    got, spent, first, second = asyncio.run(go())
    assert isinstance(got, Admitted) and spent == [(0, 300)]
    assert second is not first and first.broken is not None


def test_a_redis_that_stops_answering_refuses_within_the_reply_timeout(monkeypatch):
    """A server that accepts and then says nothing (a stalled Redis, a black-holed route): the
    admission fails closed with CountersUnavailable once the reply timeout passes, and every
    batch waiting on that connection fails with it."""
    import jackstop.counters.redis as counters_redis

    monkeypatch.setattr(counters_redis, "REPLY_TIMEOUT", 0.3)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    c = RedisCounters(f"redis://127.0.0.1:{port}/0", prefix="jstest:silent:")

    async def go():
        results = await asyncio.wait_for(asyncio.gather(*[c.admit(req(cost=1, budgets=[day_budget(10)]))
                                                          for _ in range(3)], return_exceptions=True), 30)
        await c.close()
        return results

    try:
        results = asyncio.run(go())
    finally:
        silent.close()
    assert len(results) == 3 and all(isinstance(r, CountersUnavailable) for r in results), results
    assert "did not answer within 0.3s" in str(results[0])


def test_the_wire_selects_the_database_the_url_names(redis_url, prefix):
    base = redis_url.rsplit("/", 1)[0]
    c = RedisCounters(f"{base}/3", prefix=prefix)

    async def go():
        got = await c.admit(req(cost=300, budgets=[day_budget(1_000)]))
        await c.close()
        return got

    assert isinstance(asyncio.run(go()), Admitted)
    with _sync(f"{base}/3") as r3, _sync(f"{base}/0") as r0:
        try:
            assert r3.exists(f"{prefix}budget:key:a:day:x") and not r0.exists(f"{prefix}budget:key:a:day:x")
        finally:
            r3.delete(f"{prefix}budget:key:a:day:x", f"{prefix}lease:key:a:day:x")


@pytest.mark.parametrize(("url", "lean"), [
    ("redis://127.0.0.1:6379/0", True),
    ("redis://user:pw@127.0.0.1:6379/2", True),
    ("unix:///run/redis.sock?db=1&password=pw", True),
    ("rediss://127.0.0.1:6379/0", False),  # TLS: redis-py's pipeline
    ("redis://127.0.0.1:6379/0?socket_keepalive=true", False),  # an option the wire does not know
])
def test_urls_the_wire_serves_and_those_left_to_redis_py(url, lean):
    from jackstop.counters.resp import wire_options

    assert (wire_options(url) is not None) is lean


def test_closing_the_counters_fails_a_batch_in_flight_instead_of_leaving_it_waiting():
    """close() while an admission waits on a Redis that has not answered: the admission ends at once
    with CountersUnavailable (the request is refused, fail closed), it does not hang."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    c = RedisCounters(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", prefix="jstest:closing:")

    async def go():
        admission = asyncio.ensure_future(c.admit(req(cost=1, budgets=[day_budget(10)])))
        await asyncio.sleep(0.3)  # connected, script sent, no answer
        await c.close()
        return await asyncio.wait_for(asyncio.gather(admission, return_exceptions=True), 5)

    try:
        (result,) = asyncio.run(go())
    finally:
        silent.close()
    assert isinstance(result, CountersUnavailable), result


def test_after_redis_loses_its_scripts_a_settle_still_lands_before_a_later_admission(redis_url, prefix):
    """A settle and, a moment later, another admission of the same process, both sent while Redis
    has lost its scripts (SCRIPT FLUSH, a restart): both come back NOSCRIPT and run again, and the
    settle must still reach Redis first, or the admission is refused for tokens already given back."""
    c = RedisCounters(redis_url, prefix=prefix)

    async def round_(n: int) -> bool:
        tpm = RateCheck(f"key:r{n}", "tpm", 300)
        first = await c.admit(req(cost=0, tokens=150, rates=[tpm]))
        second = await c.admit(req(cost=0, tokens=120, rates=[tpm]))
        assert isinstance(first, Admitted) and isinstance(second, Admitted)  # 270 of 300 reserved
        with _sync(redis_url) as r:
            r.script_flush()
        settle = asyncio.ensure_future(c.settle(first.ticket, 0, 10, T0 + 1))  # 150 -> 10: 130 reserved
        for _ in range(3):
            await asyncio.sleep(0)  # the settle's batch is on the wire, its reply not back yet
        later = await c.admit(req(cost=0, tokens=120, rates=[tpm], now=T0 + 1))  # fits only after the settle
        await settle
        return isinstance(later, Admitted)

    async def go():
        await c.start()
        try:
            return [await round_(n) for n in range(10)]
        finally:
            await c.close()

    assert asyncio.run(go()) == [True] * 10
