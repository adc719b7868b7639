"""Tests whose requests and assertions must fall in one UTC day (the gateway's default time zone for
day budgets) wait, when the suite runs close to midnight, until they cannot cross it. CI runs at any
hour, and once failed a test that ran at 00:00."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from jackstop.windows import Window, window


def utc_day(now: float) -> Window:
    return window("day", now, ZoneInfo("UTC"))


def clear_of_midnight(ahead: float = 180.0, behind: float = 0.0) -> float:
    """Now, once the UTC day has at least `ahead` seconds left and `behind` seconds gone; sleeps
    until then if needed (at most `ahead + behind` seconds). Returns the time it is then."""
    now = time.time()
    day = utc_day(now)
    if day.end - now < ahead:  # too close to midnight: wait into the next day
        time.sleep(max(0.0, day.end - now))
        now = day.end
        day = utc_day(now + 1)
    if now - day.start < behind:
        time.sleep(max(0.0, day.start + behind - time.time()))
    return time.time()
