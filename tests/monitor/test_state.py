"""A key's addresses keep their spend per sub-window only for the last `keep` sub-windows. Old ones
are looked for only when the oldest kept has aged out, not on every request; what is kept must be
what looking on every request keeps, late rows included."""

from __future__ import annotations

import random

from jackstop.monitor.state import Addresses


def test_addresses_keep_what_forgetting_on_every_request_keeps_late_rows_included():
    rnd = random.Random(3)
    a, keep, newest = Addresses(), 12, 0
    model: dict[int, float] = {}  # the key's spend per sub-window, forgetting on every request
    per_ip: dict[str, dict[int, list[float]]] = {}
    for i in range(20_000):
        newest += rnd.random() < 0.01  # a new sub-window now and then
        bucket = newest - rnd.randint(1, 2 * keep) if rnd.random() < 0.1 else newest  # one row in ten is late
        ip = f"10.0.0.{rnd.randint(1, 8)}"
        a.add(ip, 1000.0 + i, 5.0, bucket, keep, 3600.0)
        model[bucket] = model.get(bucket, 0.0) + 5.0
        mine = per_ip.setdefault(ip, {})
        mine[bucket] = [mine.get(bucket, [0.0, 0.0])[0] + 5.0, mine.get(bucket, [0.0, 0.0])[1] + 1]
        for d in (model, mine):
            for old in [k for k in d if k <= bucket - keep]:
                del d[old]
        assert a.buckets == model, i
        assert a.uses[ip].buckets == per_ip[ip], i
