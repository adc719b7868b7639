"""In-process counters shared by the workers of one `jackstop serve --workers N`, without a server.

The supervisor process owns one MemoryCounters and answers the workers over a unix socket in the
jackstop home (mode 0700). Every admission is decided in that one event loop, one message at a time,
so caps and limits stay exact across workers exactly as they are inside one process.

Why not shared memory: measured (bench/admission_ipc.py, numbers in bench/profiles/NOTES.md), a
locked update of a shared array costs less per admission than this socket round trip, but the
counters are not flat numbers (rolling buckets, rpm timestamps, tpm entries, leases, in-flight sets),
and a worker killed while holding a cross-process semaphore leaves every other worker blocked. Here a
dead worker only leaves reservations, which its leases settle at the worst case, as a crash does.

Wire format: one orjson array per line. Worker -> supervisor: [0, "p", plan, budgets, rates] once
per distinct set of checks, then [id, "a", plan, request id, now, cost, tokens, lease] per admission,
[id, "s", ticket, cost, tokens, now] per settlement; supervisor -> worker: [id, result]. Messages
are batched per read and per write in both directions, so concurrent requests share system calls.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import orjson

from jackstop.counters.base import (
    Admitted,
    AdmitRequest,
    BudgetCheck,
    Counters,
    CountersError,
    RateCheck,
    RateState,
    Refused,
    Settled,
    Ticket,
)
from jackstop.counters.memory import MemoryCounters

log = logging.getLogger("jackstop.counters")

SCHEME = "admission+unix://"


def _budget(d: list) -> BudgetCheck:
    return BudgetCheck(*d[:8], tuple(d[8]))


def _budget_row(b: BudgetCheck) -> list:
    return [b.counter, b.cap, b.rolling, b.start, b.end, b.scope, b.name, b.window, b.alerts]


def _rate_row(r: RateCheck) -> list:
    return [r.counter, r.kind, r.limit, r.scope, r.name]


# -- the supervisor's side -----------------------------------------------------------------------

class _ServerProtocol(asyncio.Protocol):
    """One worker's connection. Its plans (the budget and rate checks of a key, sent once, then named
    by number) live with the connection."""

    def __init__(self, server: AdmissionServer) -> None:
        self.server = server
        self.buf = b""
        self.transport: Any = None
        self.plans: dict[int, tuple[list[BudgetCheck], list[RateCheck]]] = {}

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        out = [r for r in (self.server.handle(self, line) for line in lines) if r is not None]
        if out:
            self.transport.write(b"\n".join(out) + b"\n")


class AdmissionServer:
    """MemoryCounters behind a unix socket; `handle` runs each message to completion (no await), so
    admissions from every worker are serialised in one place."""

    def __init__(self, path: str, seed: Callable[[BudgetCheck], int] | None = None) -> None:
        self.path = path
        self.counters = MemoryCounters(seed=seed)
        self._tickets: dict[int, Ticket] = {}
        self._ids = itertools.count(1)
        self._server: Any = None
        self._last_prune = time.time()

    async def start(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)
        old_umask = os.umask(0o077)  # the socket is born 0600: no moment when another user may connect
        try:
            self._server = await asyncio.get_running_loop().create_unix_server(lambda: _ServerProtocol(self),
                                                                               self.path)
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def handle(self, conn: _ServerProtocol, line: bytes) -> bytes | None:
        msg = orjson.loads(line)
        mid, op = msg[0], msg[1]
        try:
            result = self._do(conn, op, msg)
        except Exception as exc:  # answer the worker (it fails closed) rather than drop the line
            log.exception("admission process: %s failed", op)
            result = {"error": f"{exc.__class__.__name__}: {exc}"}
        return None if mid == 0 else orjson.dumps([mid, result])

    def _do(self, conn: _ServerProtocol, op: str, msg: list) -> Any:
        c = self.counters
        if op == "a":  # [id, "a", plan, request id, now, cost, tokens, lease]
            budgets, rates = conn.plans[msg[2]]
            r = _run(c.admit(AdmitRequest(msg[3], msg[4], msg[5], msg[6], budgets, rates, msg[7])))
            states = [(s.remaining, s.reset) for s in r.rates]
            if isinstance(r, Refused):
                return ["r", r.rule, budgets.index(r.budget) if r.budget is not None else None,
                        rates.index(r.rate) if r.rate is not None else None, r.retry_after, r.spent, r.reserved,
                        states]
            tid = next(self._ids)
            self._tickets[tid] = r.ticket
            self._prune(msg[4])
            return [tid, states]
        if op == "s":  # [id, "s", ticket, cost, tokens, now]
            ticket = self._tickets.pop(msg[2], None)
            if ticket is None:
                return []
            budgets = ticket.request.budgets
            return [(budgets.index(s.check), s.before, s.after) for s in _run(c.settle(ticket, msg[3], msg[4], msg[5]))]
        if op == "p":  # [0, "p", plan, budgets, rates]: define a plan
            conn.plans[msg[2]] = ([_budget(b) for b in msg[3]], [RateCheck(*r) for r in msg[4]])
            return None
        if op == "forget":  # [0, "forget"]: the worker starts its plans afresh
            conn.plans.clear()
            return None
        if op == "spent":  # [id, "spent", budgets, now]
            return _run(c.spent([_budget(b) for b in msg[2]], msg[3]))
        raise ValueError(f"unknown operation {op!r}")

    def _prune(self, now: float) -> None:
        # Tickets of workers that died before settling: their leases already count them at the worst case.
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        for tid in [t for t, k in self._tickets.items() if k.request.now + k.request.lease < now]:
            del self._tickets[tid]


def _run(coro: Any) -> Any:
    """Run a MemoryCounters coroutine that never awaits, to completion, synchronously."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("memory counters awaited; they must not")


# -- the worker's side ---------------------------------------------------------------------------

class _ClientProtocol(asyncio.Protocol):
    def __init__(self, client: SharedCounters) -> None:
        self.client = client
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        waiting = self.client._waiting
        for line in lines:
            mid, result = orjson.loads(line)
            fut = waiting.pop(mid, None)
            if fut is not None and not fut.done():
                fut.set_result(result)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._lost()


class SharedCounters(Counters):
    """The worker's view: the Counters contract, each call one message to the supervisor. A key's checks
    go over once as a numbered plan; each admission then names the plan."""

    MAX_PLANS = 10_000

    def __init__(self, url: str) -> None:
        self.path = url.removeprefix(SCHEME)
        self._transport: Any = None
        self._loop: Any = None
        self._waiting: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._pending: list[bytes] = []
        self._plans: dict[tuple, int] = {}
        self._plan_ids = itertools.count(1)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self._transport, _ = await self._loop.create_unix_connection(lambda: _ClientProtocol(self), self.path)
        except OSError as exc:
            raise CountersError(f"cannot reach the admission process at {self.path} ({exc.strerror}); "
                                f"restart `jackstop serve`") from None

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _lost(self) -> None:
        self._transport = None
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(CountersError("the admission process went away; restart `jackstop serve`"))
        self._waiting.clear()

    def _send(self, msg: list) -> None:
        # Messages of the same loop iteration go out in one write.
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(orjson.dumps(msg))

    async def _call(self, *msg: Any) -> Any:
        if self._transport is None:
            raise CountersError("the admission process is not reachable; restart `jackstop serve`")
        mid = next(self._ids)
        fut = self._waiting[mid] = self._loop.create_future()
        self._send([mid, *msg])
        result = await fut
        if isinstance(result, dict):
            raise CountersError(f"the admission process failed: {result['error']}")
        return result

    def _flush(self) -> None:
        data, self._pending = self._pending, []
        if self._transport is not None:
            self._transport.write(b"\n".join(data) + b"\n")

    def _plan(self, req: AdmitRequest) -> int:
        key = (*req.budgets, None, *req.rates)
        pid = self._plans.get(key)
        if pid is None:
            if len(self._plans) >= self.MAX_PLANS:  # windows roll over: start afresh now and then
                self._plans.clear()
                self._send([0, "forget"])
            pid = self._plans[key] = next(self._plan_ids)
            self._send([0, "p", pid, [_budget_row(b) for b in req.budgets], [_rate_row(r) for r in req.rates]])
        return pid

    async def admit(self, req: AdmitRequest) -> Admitted | Refused:
        if self._transport is None:
            raise CountersError("the admission process is not reachable; restart `jackstop serve`")
        r = await self._call("a", self._plan(req), req.request_id, req.now, req.cost, req.tokens, req.lease)
        # as the in-process counters report them: every limit, or none (a budget refusal)
        states = tuple(RateState(rc, rem, reset) for rc, (rem, reset) in zip(req.rates, r[-1]))
        if r[0] == "r":
            _, rule, bi, ri, retry, spent, reserved, _ = r
            return Refused(rule, req.budgets[bi] if bi is not None else None, req.rates[ri] if ri is not None else None,
                           retry, spent, reserved, states)
        return Admitted(Ticket(req, state=r[0]), states)

    async def settle(self, ticket: Ticket, cost: int, tokens: int, now: float) -> list[Settled]:
        if ticket.settled:
            return []
        ticket.settled = True
        out = await self._call("s", ticket.state, cost, tokens, now)
        budgets = ticket.request.budgets
        return [Settled(budgets[i], before, after) for i, before, after in out]

    async def spent(self, checks: list[BudgetCheck], now: float) -> list[tuple[int, int]]:
        return [tuple(x) for x in await self._call("spent", [_budget_row(b) for b in checks], now)]
