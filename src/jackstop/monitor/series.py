"""A key's recent activity in fixed memory: per-minute sums for the last hour and per-hour sums
(with each hour's busiest five minutes) for the last week.

Time is always passed in; nothing here reads a clock, so a replayed timeline and live traffic
go through exactly the same arithmetic. The baseline of an hour is the 95th percentile of the
last week's hours (idle hours count as zero): the key's own busy hours, so the daily and weekly
rhythm never pages, and an attack has to beat the key's normal peak, not its average.
"""

from __future__ import annotations

from array import array

MINUTES = 60
HOURS = 168  # one week
COST, TOKENS, REQUESTS, ERRORS, NEW_NETWORKS = range(5)
METRICS = 5


def quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class Series:
    __slots__ = ("_min_stamp", "_min_val", "_hour_sum", "_five", "_minute", "_hour", "_cur_total", "_cur_peak",
                 "_h_stamp", "_h_total", "_h_peak", "first_hour", "ref_total", "ref_peak", "hours_seen")

    def __init__(self) -> None:
        self._min_stamp = array("q", [-1]) * MINUTES
        self._min_val = array("d", [0.0]) * (MINUTES * METRICS)
        self._hour_sum = [0.0] * METRICS  # running sum of the last 60 minutes
        # Running sum of the last 5 minutes, read on every observation (the peak below, the spend
        # detector); summed afresh from the minutes each time the minute moves.
        self._five = [0.0] * METRICS
        self._minute = -1
        self._hour = -1
        self._cur_total = [0.0] * METRICS
        self._cur_peak = [0.0] * METRICS
        self._h_stamp = array("q", [-1]) * HOURS
        self._h_total = array("d", [0.0]) * (HOURS * METRICS)
        self._h_peak = array("d", [0.0]) * (HOURS * METRICS)
        self.first_hour = -1
        self.ref_total: list[float] | None = None  # per metric: baseline hourly total
        self.ref_peak: list[float] | None = None  # per metric: baseline busiest five minutes
        self.hours_seen = 0

    # -- time ---------------------------------------------------------------------------------
    def _advance(self, minute: int) -> None:
        """Move the current minute forward, expiring minutes that fall out of the hour."""
        last = self._minute
        if last < 0:
            self._minute = minute
            self._hour = minute // 60
            self.first_hour = self._hour
            return
        steps = min(minute - last, MINUTES)
        stamp, val, hsum = self._min_stamp, self._min_val, self._hour_sum
        for m in range(minute - steps + 1, minute + 1):
            slot = m % MINUTES
            if stamp[slot] >= 0:
                base = slot * METRICS
                for i in range(METRICS):
                    hsum[i] -= val[base + i]
                    val[base + i] = 0.0
                stamp[slot] = -1
        if minute - last >= MINUTES:
            self._hour_sum = [0.0] * METRICS
        self._minute = minute
        self._five = [self._sum(5, i) for i in range(METRICS)]
        hour = minute // 60
        if hour != self._hour:
            self._close_hour(hour)

    def _close_hour(self, hour: int) -> None:
        slot = self._hour % HOURS
        self._h_stamp[slot] = self._hour
        base = slot * METRICS
        for i in range(METRICS):
            self._h_total[base + i] = self._cur_total[i]
            self._h_peak[base + i] = self._cur_peak[i]
        self._cur_total = [0.0] * METRICS
        self._cur_peak = [0.0] * METRICS
        self._hour = hour
        self._rebaseline()

    def _rebaseline(self) -> None:
        hour = self._hour
        start = max(self.first_hour, hour - HOURS)
        n = hour - start  # complete hours of history in the last week
        self.hours_seen = hour - self.first_hour
        if n <= 0:
            self.ref_total = self.ref_peak = None
            return
        totals: list[list[float]] = [[] for _ in range(METRICS)]
        peaks: list[list[float]] = [[] for _ in range(METRICS)]
        for h in range(start, hour):
            slot = h % HOURS
            live = self._h_stamp[slot] == h
            base = slot * METRICS
            for i in range(METRICS):
                totals[i].append(self._h_total[base + i] if live else 0.0)
                peaks[i].append(self._h_peak[base + i] if live else 0.0)
        self.ref_total = [quantile(v, 0.95) for v in totals]
        self.ref_peak = [quantile(v, 0.95) for v in peaks]

    # -- data ---------------------------------------------------------------------------------
    def add(self, ts: float, values: tuple[float, ...]) -> None:
        minute = int(ts // 60)
        if minute > self._minute:
            self._advance(minute)
        elif minute <= self._minute - MINUTES:
            minute = self._minute  # too late for its own minute: count it now
        slot = minute % MINUTES
        if self._min_stamp[slot] != minute:
            self._min_stamp[slot] = minute
        base = slot * METRICS
        val, hsum, cur, five = self._min_val, self._hour_sum, self._cur_total, self._five
        recent = minute > self._minute - 5
        for i, v in enumerate(values):
            if v:
                val[base + i] += v
                hsum[i] += v
                cur[i] += v
                if recent:
                    five[i] += v
        peak = self._cur_peak
        for i in (COST, TOKENS):
            if values[i] and five[i] > peak[i]:
                peak[i] = five[i]

    def window(self, minutes: int, metric: int) -> float:
        """Sum of `metric` over the last `minutes` (1-60) minutes, the current one included."""
        if minutes == 5:
            return self._five[metric]
        if minutes >= MINUTES:
            return self._hour_sum[metric]
        return self._sum(minutes, metric)

    def _sum(self, minutes: int, metric: int) -> float:
        total = 0.0
        now = self._minute
        stamp, val = self._min_stamp, self._min_val
        for m in range(now - minutes + 1, now + 1):
            slot = m % MINUTES
            if stamp[slot] == m:
                total += val[slot * METRICS + metric]
        return total

    def hour_sum(self, metric: int) -> float:
        return self._hour_sum[metric]

    def hour_total(self, hour: int, metric: int) -> float:
        """The sum of `metric` in a closed hour (epoch hours) of the last week; 0 if idle or forgotten."""
        slot = hour % HOURS
        return self._h_total[slot * METRICS + metric] if self._h_stamp[slot] == hour else 0.0

    def active_hour_of_day_recently(self, ts: float) -> bool:
        """Whether the key had requests in this hour of the day on any of the last 7 days."""
        hour = int(ts // 3600)
        for back in range(24, HOURS + 1, 24):
            h = hour - back
            slot = h % HOURS
            if self._h_stamp[slot] == h and self._h_total[slot * METRICS + REQUESTS] > 0:
                return True
        return False
