"""Counters in Redis: any number of gateways share caps, rate limits and in-flight counts exactly.

Every admission is one Lua script (`lua/admit.lua`) that checks every rate limit and every
budget and, only if all pass, reserves everything; Redis runs a script without interleaving
any other command, so concurrent admissions from all gateways are serialised. `settle` and
`spent` are one script each. The semantics are those of `memory.py`, which the shared
contract tests hold both to.

Time always comes from the caller (`AdmitRequest.now`, the `now` arguments), never from
Redis or this process's clock, so tests control it. Redis's own clock is used only for key
TTLs, which merely let Redis forget windows that have ended.

Money is integer nano-USD, stored by Redis as 64-bit integers and only changed with
HINCRBY; Lua compares sums with caps in exact halves (see `lua/common.lua`). An amount or a
counter may therefore reach `MAX_AMOUNT` (2^63 - 1 nano-USD, about $9.2 billion); token
counts in a tokens-per-minute window are added as Lua doubles and are exact to 2^53.

Keys, under the prefix: `budget:{counter}` (hash: s spent, r reserved, h<hour> buckets of
rolling windows), `lease:{counter}` (zset of unsettled reservations by deadline),
`rpm:`/`tpm:`/`tpm-total:`/`inflight:{counter}` for the rate limits, `epoch`, and the monitor's
holds (`holds:block`, `holds:throttle`, their version `holds:v`). Run Redis
with `maxmemory-policy noeviction`: an evicted counter would forget spend. One request's keys
may hash to different slots, so Redis Cluster is not supported; use one primary (with
replicas or Sentinel for failover).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import redis as redis_sync
import redis.asyncio as redis_async
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jackstop.counters.base import (
    CountersError,
    Admitted,
    AdmitRequest,
    BudgetCheck,
    Counters,
    RateCheck,
    RateState,
    Refused,
    Settled,
    Ticket,
)
from jackstop.counters.resp import RespWire, open_wire, wire_options
from jackstop.windows import BUCKET_SECONDS, bucket_of
from jackstop.redact import redact

MINUTE = 60.0
MAX_AMOUNT = 2**63 - 1  # Redis integers are signed 64-bit
RATE_KINDS = ("rpm", "tpm", "concurrency")
AFTER_CALENDAR = 86400  # a calendar window's counters live this long after it ends
SLOT_GRACE = 60  # in-flight keys outlive the longest lease by this much
HEADER = 13  # script arguments before the per-budget ones (see lua/common.lua)
MAX_CONNECTIONS = 64  # per event loop; Redis runs scripts one at a time anyway
CONNECT_TIMEOUT = 5.0
REPLY_TIMEOUT = 10.0  # a Redis this slow refuses requests rather than keep them waiting


class CountersUnavailable(CountersError):
    """Redis could not be reached, or refused a counters operation."""


def display_url(url: str) -> str:
    """The URL without user, password or query (which may carry a password)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _load_scripts() -> dict[str, str]:
    folder = resources.files("jackstop.counters") / "lua"
    common = (folder / "common.lua").read_text("utf-8")
    out = {name: common + "\n" + (folder / f"{name}.lua").read_text("utf-8") for name in ("admit", "settle", "spent")}
    out["seed"] = (folder / "seed.lua").read_text("utf-8")
    return out


SCRIPTS = _load_scripts()


def _whole(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
        raise ValueError(f"{what} must be a whole number from 0 to {MAX_AMOUNT}, got {value!r}")
    return str(value)


def _ttl(check: BudgetCheck, now: float) -> int:
    """Seconds a budget's keys outlive this write: 0 (never expire) for `total`."""
    if check.rolling:
        return check.rolling + BUCKET_SECONDS
    if check.end is not None:
        return max(BUCKET_SECONDS, math.ceil(check.end + AFTER_CALENDAR - now))
    return 0


try:  # the `scale` extra installs it (redis[hiredis]); without it redis-py's own Python packing is used
    import hiredis
except ImportError:  # pragma: no cover - the extra is always installed with redis here
    hiredis = None


class _HiredisPacking:
    """Pack commands with hiredis's C serializer, as redis-py's sync client already does; its asyncio
    client packs in Python, which was ~8% of a scale-out request's CPU (each admission script has
    ~25 arguments). Same bytes on the wire: RESP arrays of the UTF-8 of each argument."""

    def pack_command(self, *args: Any) -> list[bytes]:
        head = args[0]
        if isinstance(head, str) and " " in head:  # "SCRIPT LOAD": the server wants two arguments
            args = (*head.split(), *args[1:])
        elif isinstance(head, bytes) and b" " in head:
            args = (*head.split(), *args[1:])
        args = tuple(bytes(a) if isinstance(a, (bytearray, memoryview)) else a for a in args)
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:  # as redis-py's packer: a RedisError, so the caller fails closed
            raise DataError(str(exc)) from None


_PACKING: dict[type, type] = {}


def _with_hiredis_packing(cls: type) -> type:
    if hiredis is None or not hasattr(hiredis, "pack_command"):
        return cls
    fast = _PACKING.get(cls)
    if fast is None:
        fast = _PACKING[cls] = type(f"Hiredis{cls.__name__}", (_HiredisPacking, cls), {})
    return fast


_LIVE: weakref.WeakSet[RedisCounters] = weakref.WeakSet()


async def _deliver(batch: list[tuple[Any, list[str], list[str], asyncio.Future]], results: list[Any],
                   give: Callable[[asyncio.Future, Any], None], wire: RespWire | None = None) -> None:
    """Hand each waiter its reply. The scripts Redis has lost (NOSCRIPT, e.g. after a restart or
    SCRIPT FLUSH) run again with their source: on the wire in one EVAL batch, so a settle still
    reaches Redis before the admissions this process asks for after it; otherwise via redis-py."""
    lost = [i for i, r in enumerate(results) if isinstance(r, NoScriptError) and not batch[i][3].done()]
    if lost and wire is not None:
        try:
            again = await wire.call([("EVAL", batch[i][0].script, len(batch[i][1]), *batch[i][1], *batch[i][2])
                                     for i in lost])
        except Exception as exc:
            again = [exc] * len(lost)
        for i, r in zip(lost, again, strict=True):
            results[i] = r
    elif lost:
        for i in lost:
            script, keys, args, _ = batch[i]
            try:
                results[i] = await script(keys=keys, args=args)
            except Exception as exc:
                results[i] = exc
    for (*_, fut), result in zip(batch, results, strict=True):
        give(fut, result)


def _after_fork() -> None:
    for counters in list(_LIVE):
        counters._new_lease_prefix()


os.register_at_fork(after_in_child=_after_fork)


@dataclass
class _Link:
    """One event loop's client: redis-py's asyncio connections belong to the loop that opened them."""

    client: Any
    scripts: dict[str, Any]
    holder: asyncio.Task | None = None
    seeding: dict[str, asyncio.Future] = field(default_factory=dict)  # counter -> ledger seed in progress
    queue: list[tuple[Any, list[str], list[str], asyncio.Future]] = field(default_factory=list)  # see _call
    sending: set[asyncio.Task] = field(default_factory=set)  # batches on the wire (kept referenced)
    wire: RespWire | None = None  # the hot path's own connection (jackstop.counters.resp), when the URL allows
    opening: asyncio.Future[RespWire] | None = None  # its connect, shared by the batches that wait for it


class RedisCounters(Counters):
    def __init__(self, url: str, *, seed: Callable[[BudgetCheck], int] | None = None,
                 prefix: str = "jackstop:", max_connections: int = MAX_CONNECTIONS) -> None:
        self._url = url
        self._shown = display_url(url)
        self._wire_opts = wire_options(url)  # None: TLS or other options, batches go through redis-py
        self._seed = seed
        self._prefix = prefix
        self._max_connections = max_connections
        self._links: dict[asyncio.AbstractEventLoop, _Link] = {}
        # Lease ids, unique across every instance sharing this Redis: a random prefix per process and a
        # counter (uuid4 per admission drew from os.urandom, which releases the GIL, on every request).
        self._lease_prefix = uuid.uuid4().hex[:16] + "."
        self._leases = itertools.count(1)
        _LIVE.add(self)  # a forked copy draws a new prefix (_after_fork): it must not reuse the ids
        self._sync: redis_sync.Redis | None = None
        self._sync_lock = threading.Lock()

    def _new_lease_prefix(self) -> None:
        self._lease_prefix = uuid.uuid4().hex[:16] + "."

    # -- connections --------------------------------------------------------------------------
    def _link(self) -> _Link:
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is None:
            pool = redis_async.BlockingConnectionPool.from_url(
                self._url, max_connections=self._max_connections, timeout=10, decode_responses=True,
                socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=REPLY_TIMEOUT,
                # One retry, on a broken connection only (e.g. after a Redis restart): every
                # script counts once if run twice (a repeated settle just reports no Settled
                # rows). Not on a timeout: while Redis is that slow, requests are refused, not kept waiting.
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)))
            pool.connection_class = _with_hiredis_packing(pool.connection_class)
            client = redis_async.Redis.from_pool(pool)
            link = _Link(client, {name: client.register_script(text) for name, text in SCRIPTS.items()})
            self._links[loop] = link
            link.holder = loop.create_task(self._hold(loop, link))
        return link

    async def _hold(self, loop: asyncio.AbstractEventLoop, link: _Link) -> None:
        """Close the loop's connections when the loop shuts down (asyncio.run cancels leftover
        tasks before closing it) or when close() cancels this task."""
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            if self._links.get(loop) is link:
                del self._links[loop]
            for task in list(link.sending):  # batches on the wire: their waiters are going too
                task.cancel()
            for *_, fut in link.queue:  # asked for but never sent
                if not fut.done():
                    fut.set_exception(RedisConnectionError("the counters client is closing"))
            link.queue.clear()
            if link.opening is not None:
                link.opening.cancel()
            if link.wire is not None:
                link.wire.close()
            await link.client.aclose()

    def _unavailable(self, exc: RedisError) -> CountersUnavailable:
        detail = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
            return CountersUnavailable(
                f"cannot reach Redis at {self._shown}: {detail}; check counters.url / JACKSTOP_COUNTERS_URL "
                f"and that Redis is running (or use memory:// on a single node)")
        hint = (f"; is another application using keys under {self._prefix!r}?"
                if isinstance(exc, ResponseError) and "WRONGTYPE" in str(exc) else "")
        return CountersUnavailable(f"Redis at {self._shown} refused a counters operation: {detail}{hint}")

    async def start(self) -> None:
        try:
            link = self._link()
            await link.client.ping()
            if self._wire_opts is not None:
                await self._wire(link)
        except RedisError as exc:
            raise self._unavailable(exc) from None

    async def close(self) -> None:
        current = asyncio.get_running_loop()
        for loop, link in list(self._links.items()):
            if link.holder is None:
                continue
            if loop is current:
                link.holder.cancel()
                await asyncio.wait([link.holder])
            elif not loop.is_closed():
                loop.call_soon_threadsafe(link.holder.cancel)
        with self._sync_lock:
            if self._sync is not None:
                self._sync.close()
                self._sync = None

    # -- scripts ------------------------------------------------------------------------------
    def _frame(self, now: float, budgets: list[BudgetCheck], rates: list[RateCheck], lease_id: str, cost: str,
               tokens: str, res_cost: str, res_tokens: str, lease: float = 0.0) -> tuple[list[str], list[str]]:
        """KEYS and ARGV of the admit, settle and spent scripts (layout in lua/common.lua)."""
        p = self._prefix
        now = float(now)
        keys: list[str] = []
        args = [repr(now), repr(now + lease), repr(now - MINUTE), str(bucket_of(now)),
                "1" if self._seed is not None else "0", str(len(budgets)), str(len(rates)), lease_id,
                cost, tokens, res_cost, res_tokens, str(math.ceil(lease) + SLOT_GRACE)]
        for b in budgets:
            keys += (f"{p}budget:{b.counter}", f"{p}lease:{b.counter}")
            first = str(bucket_of(now - b.rolling)) if b.rolling else ""
            args += (_whole(b.cap, f"the cap of budget {b.counter!r}"), first, str(_ttl(b, now)), "0")
        for r in rates:
            if r.kind not in RATE_KINDS:
                raise ValueError(f"unknown rate limit kind {r.kind!r}: use one of {', '.join(RATE_KINDS)}")
            keys.append(f"{p}{'inflight' if r.kind == 'concurrency' else r.kind}:{r.counter}")
            if r.kind == "tpm":
                keys.append(f"{p}tpm-total:{r.counter}")
            args += (r.kind, _whole(r.limit, f"the {r.kind} limit of {r.counter!r}"))
        return keys, args

    async def _run(self, name: str, keys: list[str], args: list[str], budgets: list[BudgetCheck],
                   now: float) -> list[Any]:
        """Run a script; when it names budget counters Redis does not have yet, seed them from the
        ledger and run it again."""
        link = self._link()
        try:
            for attempt in range(3):
                out = await self._call(link, link.scripts[name], keys, args)
                if out[0] != 0:
                    return out
                missing = [int(i) - 1 for i in out[1:]]
                await self._seed_counters(link, [budgets[i] for i in missing], now)
                for i in missing:  # force: lost with Redis, settle counts the cost even without its lease
                    args[HEADER + 4 * i + 3] = "1"
                if attempt == 1:  # someone keeps deleting them: count from what is there
                    args[4] = "0"
        except RedisError as exc:
            raise self._unavailable(exc) from None
        raise AssertionError("unreachable: the last attempt runs without seeding")

    async def _call(self, link: _Link, script: Any, keys: list[str], args: list[str]) -> Any:
        """Run a script (or, with script None, the command `args`), sharing the round trip with the
        others asked for in this turn of the event loop (auto-pipelining): under load one write and
        one read carry the admissions and settlements of many requests, which costs far less client
        CPU than a round trip each (redis-py spends ~150µs of CPU per command here). Each script
        still runs atomically on its own."""
        fut = asyncio.get_running_loop().create_future()
        link.queue.append((script, keys, args, fut))
        if len(link.queue) == 1:
            asyncio.get_running_loop().call_soon(self._flush, link)
        return await fut

    def _flush(self, link: _Link) -> None:
        batch, link.queue = link.queue, []
        task = asyncio.ensure_future(self._send(link, batch))
        link.sending.add(task)
        task.add_done_callback(link.sending.discard)

    async def _send(self, link: _Link, batch: list[tuple[Any, list[str], list[str], asyncio.Future]]) -> None:
        try:
            await self._send_batch(link, batch)
        except asyncio.CancelledError:  # the client is closing (_hold): no waiter may be left hanging
            for *_, fut in batch:
                if not fut.done():
                    fut.set_exception(RedisConnectionError("the counters client is closing"))
            raise

    async def _send_batch(self, link: _Link, batch: list[tuple[Any, list[str], list[str], asyncio.Future]]) -> None:
        def give(fut: asyncio.Future, result: Any) -> None:
            if fut.done():  # its request was cancelled meanwhile (client gone); a lease settles it
                return
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

        # A request cancelled before its batch left (its client went away) is not sent at all, as
        # before pipelining: an admission nobody waits for would hold budget until its lease ends.
        batch = [entry for entry in batch if not entry[3].done()]
        if not batch:
            return
        if self._wire_opts is not None:
            await self._send_on_wire(link, batch, give)
            return
        if len(batch) == 1:
            script, keys, args, fut = batch[0]
            try:
                give(fut, await (script(keys=keys, args=args) if script is not None
                                 else link.client.execute_command(*args)))
            except Exception as exc:
                give(fut, exc)
            return
        try:
            pipe = link.client.pipeline(transaction=False)
            for script, keys, args, _ in batch:
                if script is None:  # a plain command (the epoch read)
                    pipe.execute_command(*args)
                else:
                    pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            results = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for *_, fut in batch:
                give(fut, exc)
            return
        await _deliver(batch, results, give)

    async def _wire(self, link: _Link) -> RespWire:
        """The loop's open wire, connecting it (once, for every batch waiting) when there is none."""
        if link.wire is not None and link.wire.broken is None:
            return link.wire
        if link.opening is None:
            link.opening = asyncio.ensure_future(self._open_wire(link))
            link.opening.add_done_callback(lambda t: t.cancelled() or t.exception())  # waiters may all be gone
        return await asyncio.shield(link.opening)  # one waiter's cancellation must not stop the others' connect

    async def _open_wire(self, link: _Link) -> RespWire:
        assert self._wire_opts is not None
        try:
            wire = await open_wire(self._wire_opts, connect_timeout=CONNECT_TIMEOUT, timeout=REPLY_TIMEOUT)
        finally:
            link.opening = None
        if self._links.get(asyncio.get_running_loop()) is not link:  # closed meanwhile
            wire.close()
            raise RedisConnectionError("the counters client is closing")
        if link.wire is not None:
            link.wire.close()
        link.wire = wire
        return wire

    async def _send_on_wire(self, link: _Link, batch: list[tuple[Any, list[str], list[str], asyncio.Future]],
                            give: Callable[[asyncio.Future, Any], None]) -> None:
        for attempt in (1, 2):
            commands = [tuple(args) if script is None else ("EVALSHA", script.sha, len(keys), *keys, *args)
                        for script, keys, args, _ in batch]
            try:
                wire = await self._wire(link)
                results = await wire.call(commands)
                break
            except RedisConnectionError as exc:
                # One retry on a broken connection (e.g. after a Redis restart), as redis-py's Retry did:
                # every script counts once if run twice (lease ids make a repeated admit or settle a no-op).
                if attempt == 2:
                    for *_, fut in batch:
                        give(fut, exc)
                    return
                batch = [entry for entry in batch if not entry[3].done()]  # not again for requests gone meanwhile
                if not batch:
                    return
            except Exception as exc:
                for *_, fut in batch:
                    give(fut, exc)
                return
        await _deliver(batch, results, give, wire)

    async def _seed_counters(self, link: _Link, checks: list[BudgetCheck], now: float) -> None:
        """Seed each counter from the ledger once per process at a time: admissions that find the
        same counter missing together wait for one ledger query."""
        waits = []
        for c in checks:
            task = link.seeding.get(c.counter)
            if task is None:
                task = link.seeding[c.counter] = asyncio.ensure_future(self._seed_one(link, c, now))
                task.add_done_callback(lambda _t, counter=c.counter: link.seeding.pop(counter, None))
            waits.append(asyncio.shield(task))  # one waiter's cancellation must not cancel the others' seed
        await asyncio.gather(*waits)

    async def _seed_one(self, link: _Link, check: BudgetCheck, now: float) -> None:
        assert self._seed is not None
        spent = _whole(self._seed(check), f"the ledger seed of {check.counter!r}")
        bucket = str(bucket_of(now)) if check.rolling else ""
        await link.scripts["seed"](keys=[f"{self._prefix}budget:{check.counter}"],
                                   args=[spent, bucket, str(_ttl(check, now))])

    # -- the contract -------------------------------------------------------------------------
    async def admit(self, req: AdmitRequest) -> Admitted | Refused:
        if not req.budgets and not req.rates:
            return Admitted(Ticket(req))
        now = float(req.now)
        lease_id = f"{self._lease_prefix}{next(self._leases):x}"
        cost, tokens = _whole(req.cost, "cost"), _whole(req.tokens, "tokens")
        keys, args = self._frame(now, req.budgets, req.rates, lease_id, cost, tokens, cost, tokens, req.lease)
        out = await self._run("admit", keys, args, req.budgets, now)
        status, index, detail = out[0], int(out[1]) - 1, out[2]
        if status == 3:
            bc = req.budgets[index]
            retry = bc.end - now if bc.end is not None else float(BUCKET_SECONDS) if bc.rolling else None
            return Refused("budget_exceeded", bc, None, retry, spent=int(out[2]), reserved=int(out[3]))
        states = _rate_states(req.rates, out[3:], now)
        if status == 1:
            return Admitted(Ticket(req, state=lease_id), states)
        rc = req.rates[index]
        # The oldest entry may be a concurrent request's, stamped a moment after this one's `now`:
        # a window never needs more than a minute to open.
        if rc.kind == "rpm":
            return Refused("rpm_limit", None, rc,
                           None if detail == "never" else min(MINUTE, float(detail) + MINUTE - now), rates=states)
        if rc.kind == "tpm":
            retry = None if detail == "never" else max(min(MINUTE, float(detail) + MINUTE - now) if detail else MINUTE,
                                                       0.001)
            return Refused("tpm_limit", None, rc, retry, rates=states)
        return Refused("concurrency_limit", None, rc, 1.0, rates=states)

    async def settle(self, ticket: Ticket, cost: int, tokens: int, now: float) -> list[Settled]:
        if ticket.settled:
            return []
        actual, actual_tokens = _whole(cost, "cost"), _whole(tokens, "tokens")
        ticket.settled = True
        req, lease_id = ticket.request, ticket.state
        rates = [r for r in req.rates if r.kind != "rpm"]  # a request-count entry stays as it is
        if lease_id is None or (not req.budgets and not rates):
            return []
        keys, args = self._frame(now, req.budgets, rates, lease_id, actual, actual_tokens,
                                 str(req.cost), str(req.tokens))
        out = await self._run("settle", keys, args, req.budgets, now)
        return [Settled(bc, int(before), int(before) + cost)
                for bc, before in zip(req.budgets, out[1:], strict=True) if before != ""]

    async def spent(self, checks: list[BudgetCheck], now: float) -> list[tuple[int, int]]:
        if not checks:
            return []
        keys, args = self._frame(now, checks, [], "", "0", "0", "0", "0")
        out = await self._run("spent", keys, args, checks, now)
        return [(int(out[1 + 2 * i]), int(out[2 + 2 * i])) for i in range(len(checks))]

    async def epoch(self) -> int:
        try:
            link = self._link()
            value = await self._call(link, None, [], ["GET", f"{self._prefix}epoch"])
        except RedisError as exc:
            raise self._unavailable(exc) from None
        return int(value) if value else 0

    def _sync_client(self) -> redis_sync.Redis:
        with self._sync_lock:
            if self._sync is None:
                self._sync = redis_sync.Redis.from_url(self._url, socket_connect_timeout=5, socket_timeout=10)
            return self._sync

    def bump_epoch_sync(self) -> None:
        try:
            self._sync_client().incr(f"{self._prefix}epoch")
        except RedisError as exc:
            raise self._unavailable(exc) from None

    # -- holds: `holds:{kind}` hashes of name -> [until, value], and their version `holds:v` ----
    HOLD_KINDS = ("block", "throttle")

    def publish_hold(self, kind: str, name: str, until: float, value: str, now: float) -> None:
        key = f"{self._prefix}holds:{kind}"
        try:
            client = self._sync_client()
            ended = [f for f, v in client.hgetall(key).items() if _hold(v)[0] <= now]
            pipe = client.pipeline(transaction=True)
            if ended:
                pipe.hdel(key, *ended)
            pipe.hset(key, name, json.dumps([until, value]))
            pipe.incr(f"{self._prefix}holds:v")
            pipe.execute()
        except RedisError as exc:
            raise self._unavailable(exc) from None

    def holds_since(self, version: int | None) -> tuple[int, dict[str, dict[str, tuple[float, str]]]] | None:
        try:
            client = self._sync_client()
            current = int(client.get(f"{self._prefix}holds:v") or 0)
            if current == version:
                return None
            pipe = client.pipeline(transaction=True)
            for kind in self.HOLD_KINDS:
                pipe.hgetall(f"{self._prefix}holds:{kind}")
            tables = pipe.execute()
        except RedisError as exc:
            raise self._unavailable(exc) from None
        return current, {kind: {f.decode(): _hold(v) for f, v in t.items()} for kind, t in zip(self.HOLD_KINDS, tables)}


def _hold(raw: bytes) -> tuple[float, str]:
    until, value = json.loads(raw)
    return float(until), str(value)


def _rate_states(rates: list[RateCheck], flat: list[Any], now: float) -> tuple[RateState, ...]:
    """RateState of each limit from the script's (used, oldest entry time) pairs, as memory.py reports them."""
    out = []
    for i, rc in enumerate(rates):
        used, oldest = int(flat[2 * i]), flat[2 * i + 1]
        reset = 0.0
        if oldest and (rc.kind == "tpm" or (rc.kind == "rpm" and used >= rc.limit)):
            reset = float(oldest) + MINUTE - now
        out.append(RateState(rc, max(0, rc.limit - used), max(0.0, reset)))
    return tuple(out)
