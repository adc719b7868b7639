"""The quiet thief's trade-off curve: catch time and dollars lost against false pages, for the
`[monitor.addresses]` thresholds: critical_ratio (new_network_ratio kept at 0.6 of it) against
total_ratio and sustained_subwindows; the rest at their defaults.

Each scenario is replayed once with responses off (alert only), recording what the address_spend
detector saw after every request from a novel address; each threshold pair is then applied to
that record. Attacks: attack-quiet (the app's own model, client and network, 3x volume) and
attack-slow (one new host, 2x volume). Benign: normal, launch (5x for a day), scale-out (3x with
new instances in the app's own network taking their share), move (announced),
move-unannounced, developer. A false page is a benign scenario (or an attack's time before it
started) in which the thresholds would have fired.

    .venv/bin/python bench/quiet_thief_tradeoff.py [--size tiny small medium] [--seeds 7 11]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from jackstop.monitor import scenarios
from jackstop.monitor.detectors import addresses
from jackstop.monitor.evaluate import evaluate
from jackstop.monitor.settings import load_monitor_settings
from jackstop.pricing import Catalog
from jackstop.table import render

ATTACKS = ("attack-quiet", "attack-slow")
BENIGN = ("normal", "launch", "scale-out", "move", "move-unannounced", "developer")
RATIOS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
TOTALS = (1.2, 1.5, 2.0)
SUSTAINED = (2, 3, 4)


@dataclass
class Trace:
    name: str
    size: str
    seed: int
    attack_start: float | None
    points: list[tuple[float, int, addresses.Assessment]] = field(default_factory=list)  # (ts, key spent nUSD, a)


def record(name: str, size: str, seed: int, days: float, catalog: Catalog) -> Trace:
    sc = scenarios.build(name, size=size, days=days, seed=seed)
    trace = Trace(name, size, seed, sc.attack_start)
    original = addresses.assess

    def spy(ctx, st, obs, *rest):  # type: ignore[no-untyped-def]
        a = original(ctx, st, obs, *rest)
        if a is not None and st.name == sc.key:
            trace.points.append((obs.ts, st.spent_nusd, a))
        return a

    addresses.assess = spy
    try:
        evaluate(sc, load_monitor_settings({"response": "alert"}), catalog)
    finally:
        addresses.assess = original
    return trace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", nargs="+", default=["tiny", "small", "medium"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[7, 11])
    ap.add_argument("--days", type=float, default=14.0)
    args = ap.parse_args()
    catalog = Catalog.load()
    traces = [record(n, s, seed, args.days, catalog) for seed in args.seeds for s in args.size
              for n in (*ATTACKS, *BENIGN)]
    base = load_monitor_settings({}).addresses
    rows = []
    grid = [(s, t, r) for s in SUSTAINED for t in TOTALS for r in RATIOS]
    for sustained, total, ratio in grid:
        cfg = base.model_copy(update={"critical_ratio": ratio, "new_network_ratio": 0.6 * ratio,
                                      "total_ratio": total, "sustained_subwindows": sustained})
        catch: dict[str, list[float | None]] = {a: [] for a in ATTACKS}
        lost: dict[str, list[float]] = {a: [] for a in ATTACKS}
        false_pages = 0
        for t in traces:
            fired = [(ts, spent) for ts, spent, a in t.points if addresses.severity(cfg, a) == "critical"]
            if t.attack_start is None:
                false_pages += bool(fired)
                continue
            false_pages += any(ts < t.attack_start for ts, _ in fired)
            after = [(ts, spent) for ts, spent in fired if ts >= t.attack_start]
            start_spent = next((spent for ts, spent, _ in t.points if ts >= t.attack_start), None)
            catch[t.name].append(after[0][0] - t.attack_start if after else None)
            if after and start_spent is not None:
                lost[t.name].append((after[0][1] - start_spent) / 1e9)
        row: list[object] = [sustained, total, ratio]
        for a in ATTACKS:
            got = [c for c in catch[a] if c is not None]
            row += [f"{len(got)}/{len(catch[a])}",
                    f"{max(got) / 60:.0f} min" if got else "-",
                    f"${max(lost[a]):,.2f}" if lost[a] else "-"]
        row.append(false_pages)
        mark = " <- default" if (sustained, total, ratio) == (base.sustained_subwindows, base.total_ratio,
                                                            base.critical_ratio) else ""
        row.append(mark)
        rows.append(row)
    benign_runs = len([t for t in traces if t.attack_start is None])
    print(f"sizes {' '.join(args.size)}, seeds {' '.join(map(str, args.seeds))}; "
          f"{benign_runs} benign runs plus {len(traces) - benign_runs} attack runs (their time before the attack)")
    print(render(["sustained", "total ratio", "critical ratio", "quiet caught", "quiet worst catch", "quiet worst $ lost",
                  "slow caught", "slow worst catch", "slow worst $ lost", "false pages", ""], rows))


if __name__ == "__main__":
    main()
