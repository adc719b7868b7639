"""What the detectors remember about one key and about one source address, in bounded memory."""

from __future__ import annotations

import math
from collections import OrderedDict, deque

from jackstop.monitor.series import Series

MAX_NETWORKS = 512
MAX_MODELS = 64
MAX_AGENTS = 64
MAX_DEDUPE = 256
MAX_ADDRESSES = 256


class AddressUse:
    __slots__ = ("first", "decayed", "stamp", "buckets", "oldest", "fresh_network")

    def __init__(self, ts: float, fresh_network: bool = False) -> None:
        self.first = ts
        self.fresh_network = fresh_network  # its first request came from a network new to the key
        self.decayed = 0.0  # spend, halved every `half_life`: the address's weight in the key's history
        self.stamp = ts
        self.buckets: dict[int, list[float]] = {}  # sub-window index -> [spend, requests]
        self.oldest = math.inf  # the oldest sub-window in `buckets`


class Addresses:
    """Per key: each egress address's spend, decayed and per sub-window, and the key's totals."""

    __slots__ = ("uses", "decayed", "stamp", "buckets", "oldest")

    def __init__(self) -> None:
        self.uses: OrderedDict[str, AddressUse] = OrderedDict()
        self.decayed = 0.0
        self.stamp = 0.0
        self.buckets: dict[int, float] = {}
        self.oldest = math.inf  # the oldest sub-window in `buckets`

    def add(self, ip: str, ts: float, cost: float, bucket: int, keep: int, half_life: float,
            new_network: bool = False) -> AddressUse:
        use = self.uses.get(ip)
        if use is None:
            use = self.uses[ip] = AddressUse(ts, new_network)
            if len(self.uses) > MAX_ADDRESSES:
                self.uses.popitem(last=False)
        else:
            self.uses.move_to_end(ip)
        use.decayed = use.decayed * _decay(ts - use.stamp, half_life) + cost
        use.stamp = ts
        self.decayed = self.decayed * _decay(ts - self.stamp, half_life) + cost
        self.stamp = ts
        b = use.buckets.get(bucket)
        if b is None:
            b = use.buckets[bucket] = [0.0, 0.0]
            use.oldest = min(use.oldest, bucket)
        b[0] += cost
        b[1] += 1
        self.buckets[bucket] = self.buckets.get(bucket, 0.0) + cost
        self.oldest = min(self.oldest, bucket)
        # Sub-windows `keep` or more behind this one are forgotten; looked for only when the oldest
        # kept is one of them, not on every request.
        if use.oldest <= bucket - keep:
            use.oldest = _forget(use.buckets, bucket - keep)
        if self.oldest <= bucket - keep:
            self.oldest = _forget(self.buckets, bucket - keep)
        return use

    def share(self, use: AddressUse, ts: float, half_life: float) -> float:
        total = self.decayed * _decay(ts - self.stamp, half_life)
        return use.decayed * _decay(ts - use.stamp, half_life) / total if total > 0 else 0.0


def _forget(buckets: dict, upto: int) -> float:
    """Drop the sub-windows up to `upto`; returns the oldest left."""
    for old in [k for k in buckets if k <= upto]:
        del buckets[old]
    return min(buckets, default=math.inf)


def _decay(seconds: float, half_life: float) -> float:
    return math.pow(0.5, max(0.0, seconds) / half_life) if half_life > 0 else 0.0




class ModelUse:
    __slots__ = ("count", "first", "last", "price", "recent")

    def __init__(self, ts: float, price: float | None) -> None:
        self.count = 0
        self.first = ts
        self.last = ts
        self.price = price
        self.recent: deque[float] | None = None  # watched: a much pricier model the key never used


class KeyState:
    __slots__ = ("name", "project", "first_seen", "series", "networks", "new_nets", "models", "agents",
                 "listing", "listings_total", "max_model_fanout", "warnings", "dedupe", "usual_price",
                 "addresses", "spent_nusd", "anomalies")

    def __init__(self, name: str, project: str | None, ts: float) -> None:
        self.name = name
        self.project = project
        self.first_seen = ts
        self.series = Series()
        self.networks: OrderedDict[str, float] = OrderedDict()  # network -> last seen
        self.new_nets: deque[tuple[float, str]] = deque(maxlen=64)
        self.models: dict[str, ModelUse] = {}
        self.agents: OrderedDict[str, float] = OrderedDict()
        self.listing: deque[float] = deque(maxlen=64)
        self.listings_total = 0
        self.max_model_fanout = 1
        self.warnings: dict[str, float] = {}  # detector -> time of its last warning or worse
        self.dedupe: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()
        self.usual_price: float | None = None
        self.addresses = Addresses()
        self.spent_nusd = 0  # every served request's cost since the key was first seen
        self.anomalies: dict[str, tuple[float, int, float]] = {}  # detector -> (first ts, spent then, last ts)

    def age(self, ts: float) -> float:
        return ts - self.first_seen

    def remember_network(self, net: str, ts: float) -> bool:
        """Record a network; True when it was never seen for this key."""
        nets = self.networks
        if net in nets:
            nets[net] = ts
            nets.move_to_end(net)
            return False
        nets[net] = ts
        if len(nets) > MAX_NETWORKS:
            nets.popitem(last=False)
        return True

    def remember_agent(self, fam: str, ts: float) -> bool:
        agents = self.agents
        if fam in agents:
            agents[fam] = ts
            agents.move_to_end(fam)
            return False
        agents[fam] = ts
        if len(agents) > MAX_AGENTS:
            agents.popitem(last=False)
        return True

    def model_use(self, model: str, ts: float, price: float | None) -> tuple[ModelUse, bool]:
        use = self.models.get(model)
        if use is not None:
            return use, False
        if len(self.models) >= MAX_MODELS:  # forget the least recently used model
            oldest = min(self.models, key=lambda m: self.models[m].last)
            del self.models[oldest]
        use = self.models[model] = ModelUse(ts, price)
        return use, True

    def refresh_usual_price(self) -> None:
        """The dearest price among models the key really uses (3+ requests), else among all it used."""
        usual = [u for u in self.models.values() if u.price and u.recent is None]
        priced = [u.price for u in usual if u.count >= 3] or [u.price for u in usual]
        self.usual_price = max(priced) if priced else None

    def should_emit(self, detector: str, subject: str, rank: int, ts: float, renotify: float) -> bool:
        """Once per detector and subject per renotify period, unless the severity rises."""
        k = (detector, subject)
        prev = self.dedupe.get(k)
        if prev is not None and rank <= prev[1] and ts - prev[0] < renotify:
            return False
        self.dedupe[k] = (ts, rank)
        self.dedupe.move_to_end(k)
        if len(self.dedupe) > MAX_DEDUPE:
            self.dedupe.popitem(last=False)
        return True


class Sources:
    """Authentication failures per source address (bounded: the least recently failing are dropped)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.failures: OrderedDict[str, deque[float]] = OrderedDict()
        self.capacity = capacity

    def fail(self, ip: str, ts: float, threshold: int) -> deque[float]:
        dq = self.failures.get(ip)
        if dq is None:
            dq = self.failures[ip] = deque(maxlen=threshold)
            if len(self.failures) > self.capacity:
                self.failures.popitem(last=False)
        else:
            self.failures.move_to_end(ip)
        dq.append(ts)
        return dq

    def forget(self, ip: str) -> None:
        self.failures.pop(ip, None)
