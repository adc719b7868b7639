"""MinuteLog (the in-process counters' last minute of a rate limit) against the plain model it
replaced: a deque of [timestamp, count] lists. Random admissions, settlements and purges, long
enough that the arrays are compacted many times."""

from __future__ import annotations

import random
from collections import deque

from jackstop.counters.minute import COMPACT_AT, MAX_COUNT, MINUTE, MinuteLog


def test_it_counts_exactly_what_a_deque_of_entries_counts_across_compactions():
    rnd = random.Random(7)
    log, model, total = MinuteLog(), deque(), 0
    numbered: list[tuple[int, list]] = []  # (number, the model's entry) of admissions not settled yet
    now, compactions, base = 1_700_000_000.0, 0, 0
    for i in range(40_000):
        now += rnd.expovariate(1 / 0.01)  # ~100 admissions a second: ~6,000 in the window
        log.purge(now)
        while model and model[0][0] <= now - MINUTE:
            total -= model.popleft()[1]
        if log._base != base:
            compactions, base = compactions + 1, log._base
        count = rnd.randint(1, 500)
        entry = [now, count]
        model.append(entry)
        total += count
        numbered.append((log.add(now, count), entry))
        if rnd.random() < 0.9:  # settle one in flight, often out of order, sometimes late
            number, entry = numbered.pop(rnd.randrange(max(0, len(numbered) - 50), len(numbered))
                                         if rnd.random() < 0.97 else 0)
            actual = rnd.randint(0, 500)
            log.correct(number, actual)
            if entry[0] > now - MINUTE:  # still in the model's window (timestamps only grow)
                total += actual - entry[1]
                entry[1] = actual
        assert log.total == total and len(log) == len(model)
        if i % 5000 == 0:
            assert total == sum(c for _, c in model)
    assert list(log) == [tuple(e) for e in model]
    assert log.first() == model[0][0]
    assert compactions >= 3 and len(log._ts) < 2 * COMPACT_AT + 2 * len(model)  # the arrays do not grow without end


def test_a_correction_after_its_entry_left_the_window_changes_nothing():
    log = MinuteLog()
    old = log.add(0.0, 100)
    log.add(30.0, 5)
    log.purge(60.0)  # the first entry is a minute old: gone
    log.correct(old, 7)
    assert log.total == 5 and list(log) == [(30.0, 5)]


def test_a_count_too_big_for_the_array_is_clamped_and_the_total_stays_true():
    log = MinuteLog()
    first = log.add(0.0, 300)
    log.correct(first, 2**64)  # a provider's usage can say anything that parses as an integer
    huge = log.add(1.0, 2**63)
    assert log.total == 2 * MAX_COUNT and list(log) == [(0.0, MAX_COUNT), (1.0, MAX_COUNT)]
    log.correct(huge, 7)
    log.purge(60.5)  # the first entry leaves: it takes exactly what it counted
    assert log.total == 7 and list(log) == [(1.0, 7)]
