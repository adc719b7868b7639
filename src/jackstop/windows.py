"""Budget windows: calendar periods in the configured time zone, rolling periods, or all time.

A calendar window (day, week from Monday, month) has an id such as "day:2026-11-28" and ends at
the next period's start; spend counted in it resets when a new id begins. A rolling window
(24h, 7d) is counted in hourly buckets: the oldest, partly expired bucket still counts whole,
which can only make the check stricter, never let spend past the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

BUCKET_SECONDS = 3600
ROLLING = {"24h": 86400, "7d": 7 * 86400}


@dataclass(frozen=True, slots=True)
class Window:
    id: str  # part of the counter key
    start: float  # UNIX seconds; for rolling windows, now - length
    end: float | None  # when this window's spend stops counting (None: never, for "total")
    rolling: int = 0  # length in seconds for rolling windows, else 0


def window(kind: str, now: float, tz: ZoneInfo) -> Window:
    if kind == "total":
        return Window("total", 0.0, None)
    if kind in ROLLING:
        length = ROLLING[kind]
        return Window(kind, now - length, None, rolling=length)
    local = datetime.fromtimestamp(now, tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "day":
        start, end = day, day + timedelta(days=1)
        wid = f"day:{start:%Y-%m-%d}"
    elif kind == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
        wid = f"week:{start:%Y-%m-%d}"
    elif kind == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        wid = f"month:{start:%Y-%m}"
    else:
        raise ValueError(f"unknown window {kind!r}")
    # Normalise across DST changes: re-localise the naive wall-clock boundaries.
    start = start.replace(tzinfo=None).replace(tzinfo=tz)
    end = end.replace(tzinfo=None).replace(tzinfo=tz)
    return Window(wid, start.timestamp(), end.timestamp())


def bucket_of(ts: float) -> int:
    return int(ts // BUCKET_SECONDS) * BUCKET_SECONDS


def live_buckets(now: float, length: int) -> int:
    """The first bucket start that still counts for a rolling window of `length` seconds."""
    return bucket_of(now - length)
