"""The counters contract, shared by the in-process and Redis implementations.

Admission is all-or-nothing: a request is admitted only if, for every budget it counts
against, `spent + reserved + cost <= cap`, and every rate limit has room; then all of its
reservations are made together. `settle` turns the reservation into the actual cost. A
reservation never settled (its gateway died) is settled at its full worst case once its lease
ends: a crash can only over-count spend, never let it past a cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CountersError(RuntimeError):
    """The counters backend cannot answer (e.g. Redis unreachable); the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    counter: str  # stable id, e.g. "key:3f2a…:day:2026-11-28"
    cap: int  # nano-USD
    rolling: int = 0  # seconds for rolling windows (24h, 7d); 0 for calendar and total
    start: float = 0.0  # window start (calendar) for seeding from the ledger
    end: float | None = None  # window end (calendar); None for total and rolling
    scope: str = ""  # "key" | "project" | "provider" | "global" | "token"
    name: str = ""
    window: str = ""  # "day", "24h", "total", ...
    alerts: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class RateCheck:
    counter: str  # e.g. "key:3f2a…"
    kind: str  # "rpm" | "tpm" | "concurrency"
    limit: int
    scope: str = ""
    name: str = ""


@dataclass
class AdmitRequest:
    request_id: str
    now: float
    cost: int  # worst-case nano-USD to reserve
    tokens: int  # worst-case tokens, for tokens-per-minute limits
    budgets: list[BudgetCheck] = field(default_factory=list)
    rates: list[RateCheck] = field(default_factory=list)
    lease: float = 900.0  # seconds after which an unsettled reservation is settled at `cost`


@dataclass(frozen=True, slots=True)
class RateState:
    check: RateCheck
    remaining: int
    reset: float  # seconds until the window has room again


@dataclass
class Ticket:
    request: AdmitRequest
    state: Any = None  # implementation detail (entries to adjust at settle)
    settled: bool = False


@dataclass(frozen=True, slots=True)
class Admitted:
    ticket: Ticket
    rates: tuple[RateState, ...] = ()


@dataclass(frozen=True, slots=True)
class Refused:
    rule: str  # "budget_exceeded" | "rpm_limit" | "tpm_limit" | "concurrency_limit"
    budget: BudgetCheck | None
    rate: RateCheck | None
    retry_after: float | None  # seconds; None when waiting cannot help
    spent: int = 0
    reserved: int = 0
    rates: tuple[RateState, ...] = ()


@dataclass(frozen=True, slots=True)
class Settled:
    """Spend of one budget before and after a settlement, for threshold alerts."""

    check: BudgetCheck
    before: int
    after: int


class Counters:
    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def admit(self, req: AdmitRequest) -> Admitted | Refused:
        raise NotImplementedError

    async def settle(self, ticket: Ticket, cost: int, tokens: int, now: float) -> list[Settled]:
        """Replace the ticket's reservation by `cost` and its token reservation by `tokens`."""
        raise NotImplementedError

    async def spent(self, checks: list[BudgetCheck], now: float) -> list[tuple[int, int]]:
        """(spent, reserved) of each budget, for reports."""
        raise NotImplementedError

    async def epoch(self) -> int | None:
        """The shared change counter, when this backend carries one (Redis); else None."""
        return None

    def bump_epoch_sync(self) -> None:
        """Advance the shared change counter (called by administrative writers)."""

    # -- holds: the monitor's source blocks and key throttles, enforced by every instance ------
    def publish_hold(self, kind: str, name: str, until: float, value: str, now: float) -> None:
        """Share a hold (`kind` "block" or "throttle") on `name` until `until` with every instance.
        Holds ended at `now` are dropped. A single node has no one to tell: nothing to do."""

    def holds_since(self, version: int | None) -> tuple[int, dict[str, dict[str, tuple[float, str]]]] | None:
        """Every shared hold, {kind: {name: (until, value)}}, with the version read, when the holds
        changed since `version`; None when they did not, or nothing is shared."""
        return None
