"""Retry delays: exponential, capped, with jitter so that many instances do not retry in step."""

from __future__ import annotations

import random


def retry_delay(attempts: int, initial: float, multiplier: float, cap: float,
                retry_after: float | None = None, rand: random.Random | None = None) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1 for the first).

    "Equal jitter": half the exponential delay is kept, the other half is random, so the delay
    still grows with each failure. A receiver's Retry-After is honoured up to the cap.
    """
    base = min(cap, initial * multiplier ** max(0, attempts - 1))
    r = (rand or random).random()
    delay = base / 2 + base / 2 * r
    if retry_after is not None:
        delay = max(delay, min(cap, retry_after))
    return delay
