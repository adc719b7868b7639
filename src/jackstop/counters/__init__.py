"""Fast shared state: budget spend and reservations, rate-limit windows, in-flight requests.

`memory://` keeps it in the gateway process (one node); `redis://` in Redis, with every
admission one atomic Lua script, so any number of gateways share caps and limits exactly.
"""

from __future__ import annotations

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


def open_counters(url: str, *, seed=None, prefix: str = "jackstop:") -> Counters:  # noqa: ANN001
    """`seed` is a callable(BudgetCheck) -> nano-USD that starts a counter from the ledger."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from jackstop import extras

        extras.redis()
        from jackstop.counters.redis import RedisCounters

        return RedisCounters(url, seed=seed, prefix=prefix)
    if url.startswith("admission+unix://"):  # a worker of `jackstop serve --workers N` (counters/shared.py)
        from jackstop.counters.shared import SharedCounters

        return SharedCounters(url)
    from jackstop.counters.memory import MemoryCounters

    return MemoryCounters(seed=seed)


__all__ = ["AdmitRequest", "Admitted", "BudgetCheck", "Counters", "CountersError", "RateCheck", "RateState", "Refused",
           "Settled", "Ticket", "open_counters"]
