"""Monitor benchmark: replay throughput (ledger rows per second), the measured scenarios (detection
time, dollars before suspension, false critical events), and the gateway's added latency with all
detectors on against all detectors off, in the same run.

    python bench/monitor.py [--sizes tiny small medium] [--requests 3000] [--skip-gateway]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from _common import free_port, wait_http  # noqa: E402


def replay_throughput() -> None:
    import orjson

    from jackstop.monitor import load_monitor_settings, scenarios
    from jackstop.monitor.replay import Replay
    from jackstop.pricing import Catalog

    sc = scenarios.build("attack-distributed", size="medium", days=7)
    lines = [orjson.dumps({k: v for k, v in r.items() if v is not None}) for r in sc.records]
    settings = load_monitor_settings({"response": "alert"})  # keep every line flowing through the detectors
    catalog = Catalog.load()
    best = 0.0
    for _ in range(3):
        replay = Replay(settings, catalog=catalog)
        t = time.perf_counter()
        events = sum(1 for _ in replay.run(lines))
        best = max(best, len(lines) / (time.perf_counter() - t))
    print(f"replay throughput: {best:,.0f} ledger rows/s ({len(lines):,} JSON lines of a medium app's week with "
          f"an attack, {events} events; parse + price + detectors + responses; best of 3)")


def scenario_table(sizes: list[str], days: float) -> None:
    from jackstop.monitor import load_monitor_settings, scenarios
    from jackstop.monitor.evaluate import evaluate
    from jackstop.pricing import Catalog

    settings, catalog = load_monitor_settings({}), Catalog.load()
    print(f"\nscenarios ({days:g} days of history each, default thresholds)")
    print(f"{'size':7}{'scenario':20}{'requests':>9}  {'1st critical':>12}  {'suspended':>10}  {'spent':>9}  "
          f"{'unchecked':>11}  {'false crit':>10}  {'warnings':>8}")
    for size in sizes:
        for name in scenarios.NAMES:
            r = evaluate(scenarios.build(name, size=size, days=days), settings, catalog)
            det = r.detected_after_s if r.attack else r.source_blocked_after_s
            fmt = lambda v: "-" if v is None else f"{v:.0f} s" if v < 120 else f"{v / 60:.1f} min"  # noqa: E731
            usd = lambda v: "" if v is None else f"${v:,.2f}"  # noqa: E731
            print(f"{size:7}{name:20}{r.requests:>9,}  {fmt(det):>12}  {fmt(r.suspended_after_s):>10}  "
                  f"{usd(r.spent_during_attack_usd):>9}  {usd(r.attack_unchecked_usd):>11}  {r.false_critical:>10}  "
                  f"{r.warnings:>8}")


def gateway_latency(requests: int) -> None:
    import httpx2

    from jackstop.mockprovider import MockProvider, generate_key

    results: dict[str, list[float]] = {}
    with MockProvider(keys={"openai": generate_key("openai")}) as mock:
        for label, enabled in (("detectors off", False), ("detectors on", True), ("detectors off", False),
                               ("detectors on", True)):
            tmp = pathlib.Path(tempfile.mkdtemp(prefix="jackstop-bench-mon-"))
            cfg = tmp / "jackstop.toml"
            cfg.write_text(f"[log]\nlevel = \"error\"\n[providers]\napproved_hosts = [\"127.0.0.1\"]\n"
                           f"[monitor]\nenabled = {str(enabled).lower()}\n")
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
            env.update({"JACKSTOP_HOME": str(tmp / "home"), "JACKSTOP_CONFIG": str(cfg), "JACKSTOP_PORT": str(port)})
            from jackstop import config
            from jackstop.control import Control
            from jackstop.home import Home

            control = Control.open(config.load(environ=env), Home.from_env(env), create=True)
            control.set_secret("oai", mock.keys["openai"], "bench")
            control.add_provider("oai", "openai", "local:oai", mock.base_url + "/v1", "bench")
            token = control.create_key("bench", "oai", "bench").token
            control.store.close()
            proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_monitor_gateway.py")], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_http(f"http://127.0.0.1:{port}/healthz")
                lat: list[float] = []
                body = {"model": "gpt-4o-mini", "max_tokens": 50,
                        "messages": [{"role": "user", "content": "Summarise this order status. " * 20}]}

                def worker(n: int) -> None:
                    with httpx2.Client(base_url=f"http://127.0.0.1:{port}",
                                       headers={"authorization": f"Bearer {token}"}) as c:
                        for _ in range(n):
                            t = time.perf_counter()
                            r = c.post("/v1/chat/completions", json=body)
                            lat.append((time.perf_counter() - t) * 1000)
                            assert r.status_code == 200, r.text

                for n in (50, requests // 8):  # warm-up, then the measured run
                    lat.clear()
                    threads = [threading.Thread(target=worker, args=(n,)) for _ in range(8)]
                    for th in threads:
                        th.start()
                    for th in threads:
                        th.join()
                results.setdefault(label, []).extend(lat)
            finally:
                proc.terminate()
                proc.wait(10)
    print(f"\ngateway latency through the mock provider, 8 concurrent clients, {requests} requests x 2 rounds "
          f"per setting (interleaved)")
    base = None
    for label in ("detectors off", "detectors on"):
        lat = sorted(results[label])
        p50, p99, mean = lat[len(lat) // 2], lat[int(len(lat) * 0.99)], statistics.fmean(lat)
        print(f"  {label:14} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   mean {mean:6.2f} ms")
        if base is None:
            base = (p50, p99, mean)
        else:
            print(f"  added by the detectors: p50 {p50 - base[0]:+.2f} ms, p99 {p99 - base[1]:+.2f} ms, "
                  f"mean {mean - base[2]:+.2f} ms ({mean / base[2]:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", default=["tiny", "small", "medium"])
    ap.add_argument("--days", type=float, default=14)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--skip-gateway", action="store_true")
    args = ap.parse_args()
    replay_throughput()
    scenario_table(args.sizes, args.days)
    if not args.skip_gateway:
        gateway_latency(args.requests)


if __name__ == "__main__":
    main()
