"""The ledger writer's cadence: short batches while rows arrive, the long interval when idle, and
the retry backoff above both while the store fails. Short batches under load are what keeps the
writer's turns on the GIL short (the gateway's tail latency, bench/profiles/NOTES.md seventh round);
the intervals are read off the writer rather than timed, so the test does not depend on the machine."""

from __future__ import annotations

from collections.abc import Sequence

from jackstop.gateway.ledger import LedgerWriter
from jackstop.store import LedgerRow


class Store:
    def __init__(self) -> None:
        self.batches: list[int] = []
        self.failing = False

    def insert_ledger(self, rows: Sequence[LedgerRow]) -> None:
        if self.failing:
            raise OSError("disk I/O error")
        self.batches.append(len(rows))


def row(i: int) -> LedgerRow:
    return LedgerRow(ts=float(i), request_id=f"r{i}", endpoint="chat.completions", status=200)


def test_batches_come_quicker_while_rows_arrive_and_slow_down_when_idle() -> None:
    store = Store()
    w = LedgerWriter(store, interval=0.1, busy_interval=0.02)  # type: ignore[arg-type]
    w.close()  # the thread is stopped: the test drives the drains itself
    assert w._backoff() == 0.1  # idle since start
    w.put(row(1))
    w.put(row(2))
    assert w._drain() and store.batches == [2]
    assert w._backoff() == 0.02  # rows came: the next batch is taken soon, and stays small
    assert w._drain() and store.batches == [2]
    assert w._backoff() == 0.1  # nothing came: back to the idle interval

    store.failing = True
    w.put(row(3))
    assert not w._drain()
    assert w._backoff() == 0.2  # a failing store is retried with backoff, not at the busy pace
    store.failing = False
    assert w._drain() and store.batches == [2, 1] and w.backlog == 0


def test_the_busy_interval_is_never_longer_than_the_idle_one() -> None:
    w = LedgerWriter(Store(), interval=0.01, busy_interval=0.05)  # type: ignore[arg-type]
    w.close()
    w.put(row(1))
    w._drain()
    assert w._backoff() == 0.01
