"""In-process counters shared by the workers of one `jackstop serve --workers N`, without a server.

The supervisor process owns one MemoryCounters and answers the workers over a unix socket in the
jackstop home (mode 0700). Every admission is decided in that one event loop, one message at a time,
so caps and limits stay exact across workers exactly as they are inside one process.

Why not shared memory: measured (bench/admission_ipc.py, numbers in bench/profiles/NOTES.md), a
locked update of a shared array costs less per admission than this socket round trip, but the
counters are not flat numbers (rolling buckets, rpm timestamps, tpm entries, leases, in-flight sets),
and a worker killed while holding a cross-process semaphore leaves every other worker blocked. Here a
dead worker only leaves reservations, which its leases settle at the worst case, as a crash does.

Wire format: one orjson array per line. Worker -> supervisor: [id, "admit", request],
[id, "settle", ticket, cost, tokens, now], [id, "spent", checks, now]. Supervisor -> worker:
[id, result]. Messages are batched per read and per write in both directions, so concurrent
requests share system calls.
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


def _budget(d: dict) -> BudgetCheck:
    return BudgetCheck(**{**d, "alerts": tuple(d["alerts"])})


def _request(d: dict) -> AdmitRequest:
    return AdmitRequest(request_id=d["request_id"], now=d["now"], cost=d["cost"], tokens=d["tokens"],
                        budgets=[_budget(b) for b in d["budgets"]], rates=[RateCheck(**r) for r in d["rates"]],
                        lease=d["lease"])


def _rates(items: list) -> tuple[RateState, ...]:
    return tuple(RateState(RateCheck(**s["check"]), s["remaining"], s["reset"]) for s in items)


# -- the supervisor's side -----------------------------------------------------------------------

class _ServerProtocol(asyncio.Protocol):
    def __init__(self, server: AdmissionServer) -> None:
        self.server = server
        self.buf = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        if lines:
            out = [self.server.handle(line) for line in lines]
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
        self._server = await asyncio.get_running_loop().create_unix_server(lambda: _ServerProtocol(self), self.path)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def handle(self, line: bytes) -> bytes:
        msg = orjson.loads(line)
        mid, op = msg[0], msg[1]
        try:
            result = self._do(op, msg)
        except Exception as exc:  # answer the worker (it fails closed) rather than drop the line
            log.exception("admission process: %s failed", op)
            result = {"error": f"{exc.__class__.__name__}: {exc}"}
        return orjson.dumps([mid, result])

    def _do(self, op: str, msg: list) -> Any:
        c = self.counters
        if op == "admit":
            r = _run(c.admit(_request(msg[2])))
            if isinstance(r, Refused):
                return {"refused": r}
            tid = next(self._ids)
            self._tickets[tid] = r.ticket
            self._prune(r.ticket.request.now)
            return {"ticket": tid, "rates": r.rates}
        if op == "settle":
            ticket = self._tickets.pop(msg[2], None)
            if ticket is None:
                return []
            return _run(c.settle(ticket, msg[3], msg[4], msg[5]))
        if op == "spent":
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
    """The worker's view: the Counters contract, each call one message to the supervisor."""

    def __init__(self, url: str) -> None:
        self.path = url.removeprefix(SCHEME)
        self._transport: Any = None
        self._waiting: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._pending: list[bytes] = []

    async def start(self) -> None:
        try:
            self._transport, _ = await asyncio.get_running_loop().create_unix_connection(
                lambda: _ClientProtocol(self), self.path)
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

    async def _call(self, *msg: Any) -> Any:
        if self._transport is None:
            raise CountersError("the admission process is not reachable; restart `jackstop serve`")
        mid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[mid] = fut
        # Requests made in the same loop iteration go out in one write.
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(orjson.dumps([mid, *msg]))
        result = await fut
        if isinstance(result, dict) and "error" in result:
            raise CountersError(f"the admission process failed: {result['error']}")
        return result

    def _flush(self) -> None:
        data, self._pending = self._pending, []
        if self._transport is not None:
            self._transport.write(b"\n".join(data) + b"\n")

    async def admit(self, req: AdmitRequest) -> Admitted | Refused:
        r = await self._call("admit", req)
        if "refused" in r:
            f = r["refused"]
            return Refused(f["rule"], _budget(f["budget"]) if f["budget"] else None,
                           RateCheck(**f["rate"]) if f["rate"] else None, f["retry_after"], f["spent"],
                           f["reserved"], _rates(f["rates"]))
        return Admitted(Ticket(req, state=r["ticket"]), _rates(r["rates"]))

    async def settle(self, ticket: Ticket, cost: int, tokens: int, now: float) -> list[Settled]:
        if ticket.settled:
            return []
        ticket.settled = True
        out = await self._call("settle", ticket.state, cost, tokens, now)
        return [Settled(_budget(s["check"]), s["before"], s["after"]) for s in out]

    async def spent(self, checks: list[BudgetCheck], now: float) -> list[tuple[int, int]]:
        return [tuple(x) for x in await self._call("spent", checks, now)]
