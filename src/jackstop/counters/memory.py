"""Counters in the gateway process: exact for one node.

Every method runs to completion without awaiting, so on the single event-loop thread each
admission is atomic by construction. Budget spend survives a restart because a counter that
is first touched for a window that began before this process started is seeded from the
ledger (`seed(check) -> nano-USD`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from jackstop.counters.base import (
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
from jackstop.counters.minute import MINUTE, MinuteLog
from jackstop.windows import BUCKET_SECONDS, bucket_of

FORGET_AT = 100_000  # budgets held before those of ended windows are forgotten (see _forget_ended)


@dataclass
class _Budget:
    spent: int = 0  # calendar / total windows
    buckets: dict[int, int] = field(default_factory=dict)  # rolling windows: bucket start -> spent
    reserved: int = 0
    leases: dict[str, tuple[float, int]] = field(default_factory=dict)  # request id -> (deadline, amount)
    # At most the earliest deadline in `leases` (a settled lease may leave it lower): until then no
    # lease can have ended, so admissions skip the walk over every lease in flight.
    earliest: float = float("inf")
    end: float | None = None  # the window's end (None: rolling or total windows never end)

    def total(self, check: BudgetCheck, now: float) -> int:
        if not check.rolling:
            return self.spent
        first = bucket_of(now - check.rolling)
        for b in [b for b in self.buckets if b < first]:
            del self.buckets[b]
        return sum(self.buckets.values())

    def add(self, check: BudgetCheck, now: float, amount: int) -> None:
        if check.rolling:
            b = bucket_of(now)
            self.buckets[b] = self.buckets.get(b, 0) + amount
        else:
            self.spent += amount


class MemoryCounters(Counters):
    def __init__(self, seed: Callable[[BudgetCheck], int] | None = None) -> None:
        self._seed = seed
        self._started = time.time()
        self._budgets: dict[str, _Budget] = {}
        self._forget_at = FORGET_AT
        self._rpm: dict[str, MinuteLog] = {}  # a count of 1 per request
        self._tpm: dict[str, MinuteLog] = {}  # the tokens of each request: its estimate until it settles
        self._inflight: dict[str, dict[str, float]] = {}  # counter -> request id -> lease deadline

    # -- helpers ------------------------------------------------------------------------------
    def _budget(self, check: BudgetCheck, now: float) -> _Budget:
        b = self._budgets.get(check.counter)
        if b is None:
            b = self._budgets[check.counter] = _Budget(end=check.end)
            began_before_us = check.rolling or check.window == "total" or check.start < self._started
            if self._seed is not None and began_before_us:
                seeded = self._seed(check)
                if seeded:
                    b.add(check, now if not check.rolling else self._started, seeded)
            if len(self._budgets) > self._forget_at:
                self._forget_ended(now)
        self._expire_leases(b, check, now)
        return b

    def _forget_ended(self, now: float) -> None:
        """Forget budgets of windows that have ended with nothing reserved: no admission asks for them
        again. A live window is never forgotten (it would come back at zero, unseeded, and let its
        cap be overshot); while they are all live the next look waits until there are twice as many."""
        ended = [k for k, v in self._budgets.items() if v.end is not None and v.end <= now and not v.leases]
        for k in ended:
            del self._budgets[k]
        self._forget_at = max(FORGET_AT, 2 * len(self._budgets))

    def _expire_leases(self, b: _Budget, check: BudgetCheck, now: float) -> None:
        if not b.leases or now < b.earliest:
            return
        earliest = float("inf")
        for rid, (deadline, amount) in list(b.leases.items()):
            if deadline <= now:  # never settled: count the worst case
                del b.leases[rid]
                b.reserved -= amount
                b.add(check, now, amount)
            elif deadline < earliest:
                earliest = deadline
        b.earliest = earliest

    def _rate_state(self, rc: RateCheck, now: float) -> RateState:
        if rc.kind == "rpm":
            log = self._rpm.get(rc.counter)
            used = log.total if log else 0  # each request counts 1
            reset = (log.first() + MINUTE - now) if log and used >= rc.limit else 0.0
            return RateState(rc, max(0, rc.limit - used), max(0.0, reset))
        if rc.kind == "tpm":
            t = self._tpm.get(rc.counter)
            used = t.total if t else 0
            reset = (t.first() + MINUTE - now) if t else 0.0
            return RateState(rc, max(0, rc.limit - used), max(0.0, reset))
        inflight = self._inflight.get(rc.counter, {})
        return RateState(rc, max(0, rc.limit - len(inflight)), 0.0)

    # -- the contract ----------------------------------------------------------------------------
    async def admit(self, req: AdmitRequest) -> Admitted | Refused:
        now = req.now
        # 1. rate limits: check every one before changing any
        for rc in req.rates:
            if rc.kind == "rpm":
                log = self._rpm.get(rc.counter)
                if log is None:
                    log = self._rpm[rc.counter] = MinuteLog()
                log.purge(now)
                if log.total >= rc.limit:
                    return Refused("rpm_limit", None, rc, log.first() + MINUTE - now,
                                   rates=tuple(self._rate_state(r, now) for r in req.rates))
            elif rc.kind == "tpm":
                t = self._tpm.get(rc.counter)
                if t is None:
                    t = self._tpm[rc.counter] = MinuteLog()
                t.purge(now)
                if req.tokens > rc.limit:
                    return Refused("tpm_limit", None, rc, None, rates=tuple(self._rate_state(r, now) for r in req.rates))
                if t.total + req.tokens > rc.limit:
                    need, freed, wait = t.total + req.tokens - rc.limit, 0, MINUTE
                    for ts, tokens in t:
                        freed += tokens
                        if freed >= need:
                            wait = ts + MINUTE - now
                            break
                    return Refused("tpm_limit", None, rc, max(wait, 0.001),
                                   rates=tuple(self._rate_state(r, now) for r in req.rates))
            elif rc.kind == "concurrency":
                inflight = self._inflight.setdefault(rc.counter, {})
                for rid in [r for r, dl in inflight.items() if dl <= now]:
                    del inflight[rid]
                if len(inflight) >= rc.limit:
                    return Refused("concurrency_limit", None, rc, 1.0,
                                   rates=tuple(self._rate_state(r, now) for r in req.rates))
        # 2. budgets
        budgets = [(bc, self._budget(bc, now)) for bc in req.budgets]
        for bc, b in budgets:
            spent = b.total(bc, now)
            if spent + b.reserved + req.cost > bc.cap:
                if bc.end is not None:
                    retry = bc.end - now
                elif bc.rolling:
                    retry = float(BUCKET_SECONDS)
                else:
                    retry = None
                return Refused("budget_exceeded", bc, None, retry, spent=spent, reserved=b.reserved)
        # 3. all checks passed: reserve everything
        deadline = now + req.lease
        for _bc, b in budgets:
            b.reserved += req.cost
            b.leases[req.request_id] = (deadline, req.cost)
            if deadline < b.earliest:
                b.earliest = deadline
        tpm = []
        for rc in req.rates:
            if rc.kind == "rpm":
                self._rpm[rc.counter].add(now, 1)
            elif rc.kind == "tpm":
                t = self._tpm[rc.counter]
                tpm.append((t, t.add(now, req.tokens)))
            elif rc.kind == "concurrency":
                self._inflight[rc.counter][req.request_id] = deadline
        ticket = Ticket(req, state=(budgets, tpm))
        return Admitted(ticket, tuple(self._rate_state(r, now) for r in req.rates))

    async def settle(self, ticket: Ticket, cost: int, tokens: int, now: float) -> list[Settled]:
        if ticket.settled:
            return []
        ticket.settled = True
        req = ticket.request
        budgets, tpm = ticket.state
        out = []
        for bc, b in budgets:
            lease = b.leases.pop(req.request_id, None)
            before = b.total(bc, now)
            if lease is None:
                continue  # its lease ran out and it was already counted at the worst case
            b.reserved -= lease[1]
            b.add(bc, now, cost)
            out.append(Settled(bc, before, before + cost))
        for t, number in tpm:
            t.correct(number, tokens)
        for rc in req.rates:
            if rc.kind == "concurrency":
                self._inflight.get(rc.counter, {}).pop(req.request_id, None)
        return out

    async def spent(self, checks: list[BudgetCheck], now: float) -> list[tuple[int, int]]:
        return [(b.total(c, now), b.reserved) for c in checks for b in [self._budget(c, now)]]
