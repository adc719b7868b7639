"""The last minute of one rate limit's admissions, for the in-process counters.

One entry per admitted request, kept for a minute: at a few thousand requests a second that is
hundreds of thousands of entries per limit. They live in two arrays (timestamps, counts), which
the garbage collector never walks. Kept as Python objects (a deque of lists, then of tuples), every
full collection walked each of them: pauses of 15-220 ms every few seconds at 6,000 requests/s
(bench/tail_sources.py, 16 connections, 80 s).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

MINUTE = 60.0
COMPACT_AT = 4096  # entries that have left the window before the arrays are shifted down
MAX_COUNT = 2**62  # a count is clamped to this: far above any limit, and always fits the int64 array


class MinuteLog:
    """Entries in admission order; each has a number (from `add`) by which it can be corrected
    while it is still in the window. `total` is the sum of the counts in the window."""

    __slots__ = ("_ts", "_counts", "_head", "_base", "total")

    def __init__(self) -> None:
        self._ts = array("d")
        self._counts = array("q")
        self._head = 0  # index of the oldest entry still in the window
        self._base = 0  # entries dropped from the front of the arrays by compaction
        self.total = 0

    def __len__(self) -> int:
        return len(self._ts) - self._head

    def first(self) -> float:
        """The oldest entry's timestamp (the log must not be empty)."""
        return self._ts[self._head]

    def add(self, now: float, count: int) -> int:
        count = min(count, MAX_COUNT)
        self._counts.append(count)
        try:
            self._ts.append(now)
        except BaseException:
            self._counts.pop()  # the two arrays stay aligned
            raise
        self.total += count
        return self._base + len(self._ts) - 1

    def purge(self, now: float) -> None:
        """Forget entries a minute old or older."""
        ts, counts, h, n = self._ts, self._counts, self._head, len(self._ts)
        edge = now - MINUTE
        while h < n and ts[h] <= edge:
            self.total -= counts[h]
            h += 1
        if h >= COMPACT_AT and 2 * h >= n:  # most of the arrays are gone: shift the rest down (amortised O(1))
            del ts[:h]
            del counts[:h]
            self._base += h
            h = 0
        self._head = h

    def correct(self, number: int, count: int) -> None:
        """The entry `number` counts `count` from now on, if it is still in the window."""
        i = number - self._base
        if self._head <= i < len(self._counts):
            count = min(count, MAX_COUNT)  # e.g. a provider's usage past 2**63 tokens
            before = self._counts[i]
            self._counts[i] = count  # stored first: the total moves only with the entry
            self.total += count - before

    def __iter__(self) -> Iterator[tuple[float, int]]:
        """(timestamp, count) of each entry in the window, oldest first."""
        ts, counts = self._ts, self._counts
        for i in range(self._head, len(ts)):
            yield ts[i], counts[i]
