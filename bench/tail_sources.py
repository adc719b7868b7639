"""Where the gateway's tail latency comes from: which work the event loop was waiting for.

One gateway (1 worker, pinned to cpu0 as in bench/overhead.py) serves wrk at 1, then 16 connections,
JSON, for 75 s each: over a minute, so the rate limits' one-minute windows are full, as in a gateway
that has been up a while (a shorter run hid 15-220 ms collector pauses that only a full window made).
A probe loaded into it (bench/_tail_probe) asks the loop to run a callback every millisecond and
records each time it ran more than 1.5 ms late (a stall), along with when the ledger writer and the
monitor worked on a batch and when the garbage collector ran. Each stall is attributed to the
first of those that overlaps it (gc, then ledger, then monitor; overlap is not proof of cause);
the rest is "other" (the machine, the request path itself). The probe writes its records only
after wrk has finished, so that writing them does not stall the loop it measures. Printed: wrk's
p50 and p99, the share of loop time lost to stalls by source (at 16 connections the loop is never
idle and most "stalls" are just its queue), the batches' lengths and each collector generation's.

    python bench/tail_sources.py [--seconds 75] [--connections 1,16] [--mode json|stream] [--checkout PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from overhead import Gateway, request_body, run_wrk, start_upstream, wrk_script  # noqa: E402

from _common import ensure_debian_tools  # noqa: E402

PROBE = pathlib.Path(__file__).resolve().parent / "_tail_probe"
SLACK = 0.0005  # a batch this close to a stall counts as overlapping it


def quantile(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * q))] if v else 0.0


def attribute(data: dict, since: float, until: float) -> dict[str, list[float]]:
    spans = {k: [(a, b) for a, b, *_ in data[k] if b >= since and a <= until] for k in ("gc", "ledger", "monitor")}
    out: dict[str, list[float]] = {"gc": [], "ledger": [], "monitor": [], "other": []}
    for due, late in data["stalls"]:
        if due < since or due > until:
            continue
        for source in ("gc", "ledger", "monitor"):
            if any(a - SLACK <= due + late and b + SLACK >= due for a, b in spans[source]):
                out[source].append(late)
                break
        else:
            out["other"].append(late)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0 if os.environ.get("JACKSTOP_BENCH_QUICK") else 75.0)
    ap.add_argument("--connections", default="1,16", help="comma-separated; one gateway for each")
    ap.add_argument("--mode", default="json", choices=["json", "stream"])
    ap.add_argument("--checkout", help="another checkout's gateway (e.g. a worktree of main), to compare")
    args = ap.parse_args()
    if not ensure_debian_tools({"nginx": "nginx-light", "wrk": "wrk"}):
        return 0
    src = pathlib.Path(args.checkout or pathlib.Path(__file__).resolve().parent.parent).resolve() / "src"
    for connections in (int(c) for c in args.connections.split(",")):
        report(src, args.mode, connections, args.seconds)
    return 0


def report(src: pathlib.Path, mode: str, connections: int, seconds: float) -> None:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jackstop-tail-"))
    out = tmp / "probe.json"
    upstream, up_port = start_upstream(tmp)
    g = Gateway(tmp, "gw", up_port, {"PYTHONPATH": f"{PROBE}:{src}", "JACKSTOP_TAIL_PROBE": str(out)}, 1, "0")
    try:
        script = wrk_script(tmp, "gw", request_body(mode == "stream"), g.keys["stream" if mode == "stream" else "plain"])
        url = g.url + "/v1/chat/completions"
        run_wrk(url, script, connections, 2)  # warm up
        start = time.perf_counter()
        r = run_wrk(url, script, connections, seconds)
        end = time.perf_counter()  # wrk runs whole seconds, and its start comes after `start`
        (tmp / "probe.json.go").touch()  # now the probe writes its records
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        data = json.loads(out.read_text())
    finally:
        g.stop()
        upstream.terminate()
    stalls = attribute(data, start, end)
    lost = {k: sum(v) for k, v in stalls.items()}
    total = sum(lost.values())
    print(f"tail sources of {src.parent} ({mode}, {connections} connection(s), {seconds:g} s, 1 worker on cpu0): "
          f"{r['rps']:.0f} req/s, p50 {r['p50']:.3f} ms, p99 {r['p99']:.3f} ms (p99/p50 {r['p99'] / r['p50']:.1f}x)")
    print(f"event-loop stalls over 1.5 ms: {sum(len(v) for v in stalls.values())}, "
          f"{total * 1e3:.0f} ms lost ({total / (end - start):.1%} of the run)")
    for source in ("monitor", "ledger", "gc", "other"):
        v = stalls[source]
        share = lost[source] / total if total else 0.0
        print(f"  {source:<8}{len(v):>6} stalls  {share:6.1%} of the stalled time  "
              f"p50 {quantile(v, 0.5) * 1e3:5.2f} ms  max {max(v, default=0) * 1e3:6.2f} ms")
    for source in ("ledger", "monitor"):
        d = [(b - a) * 1e3 for a, b, *_ in data[source] if start <= b and a <= end]
        print(f"  {source} batches: {len(d)}, length p50 {quantile(d, 0.5):.2f} ms, p99 {quantile(d, 0.99):.2f} ms")
    for generation in (0, 1, 2):
        d = [(b - a) * 1e3 for a, b, g in data["gc"] if g == generation and start <= b and a <= end]
        print(f"  gc generation {generation}: {len(d)} collections, p50 {quantile(d, 0.5):.2f} ms, "
              f"longest {max(d, default=0):.2f} ms", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
