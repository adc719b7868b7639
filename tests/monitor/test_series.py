"""Series keeps the last five minutes' sums running (read on every observation) instead of summing
the minutes each time; they must match what summing the minutes gives, whatever the timeline."""

from __future__ import annotations

import random

import pytest

from jackstop.monitor.series import COST, METRICS, TOKENS, Series

T0 = 1_790_035_200.0


def test_the_running_five_minute_sums_match_the_minutes_and_so_does_the_peak():
    rnd = random.Random(11)
    s, ts, peak = Series(), T0, [0.0] * METRICS
    for step in range(30_000):
        gap = rnd.choice([0.2] * 50 + [7.0, 45.0, 130.0, 400.0, 4000.0])  # bursts, idle minutes, idle hours
        ts += rnd.random() * gap
        late = rnd.random() < 0.05  # a row for an earlier minute: inside the five minutes, the hour, or older
        at = ts - rnd.choice([30.0, 200.0, 1200.0, 5000.0]) if late else ts
        values = tuple(float(rnd.randint(0, 3) * rnd.randint(1, 900)) for _ in range(METRICS))
        hour = s._hour
        s.add(at, values)
        if s._hour != hour:
            peak = [0.0] * METRICS  # a new hour: the peak starts again
        for m in range(METRICS):
            assert s.window(5, m) == pytest.approx(s._sum(5, m), rel=1e-9, abs=1e-6), (step, m)
        for m in (COST, TOKENS):
            if values[m]:
                peak[m] = max(peak[m], s._sum(5, m))
            assert s._cur_peak[m] == pytest.approx(peak[m], rel=1e-9, abs=1e-6), (step, m)
