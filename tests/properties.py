"""How many examples the big property tests run: JACKSTOP_PROPERTY_EXAMPLES.

Each property is written with its thorough count. A run tries at most DEFAULT of them (enough
for every property's own coverage checks, a quarter of the suite's time); hypothesis draws new
random examples on every run, so runs add up. JACKSTOP_PROPERTY_EXAMPLES=N sets another cap;
JACKSTOP_PROPERTY_EXAMPLES=full runs every property at its thorough count (before a release).
"""

from __future__ import annotations

import os

DEFAULT = 500


def examples(thorough: int) -> int:
    """The number of examples to run for a property written with `thorough`."""
    setting = os.environ.get("JACKSTOP_PROPERTY_EXAMPLES", "").strip().lower()
    if setting == "full":
        return thorough
    cap = int(setting) if setting.isdigit() and int(setting) > 0 else DEFAULT
    return min(thorough, cap)
