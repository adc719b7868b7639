"""A key's addresses keep their spend per sub-window only for the last `keep` sub-windows; old ones
are forgotten when a new sub-window opens (not looked for on every request)."""

from __future__ import annotations

import random

from jackstop.monitor.state import Addresses


def test_addresses_forget_old_sub_windows_and_keep_every_recent_one():
    rnd = random.Random(3)
    a, keep, bucket = Addresses(), 12, 0
    spent: dict[int, float] = {}
    last_seen: dict[str, int] = {}
    for i in range(20_000):
        bucket += rnd.random() < 0.01  # a new sub-window now and then
        ip = f"10.0.0.{rnd.randint(1, 8)}"
        a.add(ip, 1000.0 + i, 5.0, bucket, keep, 3600.0)
        spent[bucket] = spent.get(bucket, 0.0) + 5.0
        last_seen[ip] = bucket
        assert sorted(a.buckets) == [b for b in sorted(spent) if b > bucket - keep]
        assert all(a.buckets[b] == spent[b] for b in a.buckets)
        for addr, use in a.uses.items():
            assert all(b > last_seen[addr] - keep for b in use.buckets)
