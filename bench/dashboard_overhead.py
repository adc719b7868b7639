"""Dashboard overhead: gateway CPU per request at 16 connections, with and without the dashboard open.

Same set-up as bench/overhead.py (nginx upstream and wrk on cpu1, the gateway pinned to cpu0).
"Open" is headless Chromium (also on cpu1) logged in on the overview page, which polls for changes
every second and, under this load, reloads its live part and its chart on every poll: the worst
case for an open dashboard. Runs alternate (closed, open) so drift hits both; medians are printed
with their ratio. Goal: the open dashboard moves CPU per request by no more than 5 %.

    python bench/dashboard_overhead.py [--duration 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from _common import ensure_debian_tools, free_port, wait_http  # noqa: E402
from overhead import cpu_seconds, nginx_conf, request_body, run_wrk, wrk_script  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    ap.add_argument("--repeat", type=int, default=3, help="(closed, open) pairs; medians are reported")
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    if not ensure_debian_tools({"nginx": "nginx-light", "wrk": "wrk"}):
        return 0
    if not os.path.exists(CHROMIUM):
        print("needs Chromium (`make browser`)")
        return 0
    from playwright.sync_api import sync_playwright

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jackstop-bench-"))
    up_port, gw_port = free_port(), free_port()
    nginx = subprocess.Popen(["taskset", "-c", "1", shutil.which("nginx") or "/usr/sbin/nginx", "-c",
                              str(nginx_conf(tmp, up_port))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
    env.update({"JACKSTOP_HOME": str(tmp / "home"), "JACKSTOP_LOG_LEVEL": "warning"})
    (tmp / "jackstop.toml").write_text('[providers]\napproved_hosts = ["127.0.0.1"]\n')
    env["JACKSTOP_CONFIG"] = str(tmp / "jackstop.toml")
    jackstop = [sys.executable, "-m", "jackstop"]
    gw = None
    try:
        admin = json.loads(subprocess.run(jackstop + ["init", "--json"], env=env, check=True, capture_output=True,
                                          text=True).stdout)["admin_token"]
        subprocess.run(jackstop + ["secrets", "set", "bench"], env=env, check=True, capture_output=True,
                       input="sk-bench-" + "x" * 40, text=True)
        subprocess.run(jackstop + ["providers", "add", "plain", "--kind", "openai", "--secret", "local:bench",
                                   "--base-url", f"http://127.0.0.1:{up_port}/v1"], env=env, check=True,
                       capture_output=True)
        key = json.loads(subprocess.run(jackstop + ["keys", "create", "k-plain", "--provider", "plain", "--json"],
                                        env=env, check=True, capture_output=True, text=True).stdout)["key"]
        gw = subprocess.Popen(["taskset", "-c", "0", *jackstop, "serve", "--port", str(gw_port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(tmp / "gateway.log", "w"))
        base = f"http://127.0.0.1:{gw_port}"
        wait_http(base + "/healthz")
        script = wrk_script(tmp, "g", request_body(False), key)
        url = base + "/v1/chat/completions"
        run_wrk(url, script, args.connections, 1)  # warm up

        def measure() -> float:
            c0 = cpu_seconds(gw.pid)
            r = run_wrk(url, script, args.connections, args.duration)
            if r["non2xx"]:
                raise SystemExit(f"the gateway answered errors ({r}); fix the benchmark set-up")
            if r["socket_errors"]:
                print(f"  note: wrk socket errors ({r['socket_errors']}) on a busy machine", flush=True)
            return (cpu_seconds(gw.pid) - c0) / max(r["requests"], 1) * 1e6

        closed, opened, refreshes = [], [], []
        os.sched_setaffinity(0, {1})  # this process and what it starts next (Playwright, Chromium): cpu1
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox"] if os.geteuid() == 0 else [])
            for _ in range(args.repeat):
                closed.append(measure())
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                page = ctx.new_page()
                page.goto(base + "/ui/login")
                page.get_by_label("Admin token").fill(admin)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(base + "/ui/")
                seen = []
                page.on("request", lambda r: seen.append(r.url) if "/overview/live" in r.url else None)
                opened.append(measure())
                page.wait_for_timeout(100)
                refreshes.append(len(seen) / args.duration)
                ctx.close()
            browser.close()
        mid = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
        print(f"jackstop dashboard overhead  (json, {args.connections} connections; gateway on cpu0; nginx, wrk "
              f"and Chromium on cpu1; median of {args.repeat} x {args.duration:g}s)")
        print(f"gateway CPU/request, dashboard closed: {mid(closed):.0f}µs  (runs: "
              f"{', '.join(f'{x:.0f}' for x in closed)})")
        print(f"gateway CPU/request, dashboard open:   {mid(opened):.0f}µs  (runs: "
              f"{', '.join(f'{x:.0f}' for x in opened)}; {mid(refreshes):.1f} live refreshes/s)")
        print(f"ratio open/closed: {mid(opened) / mid(closed):.3f}  (goal: <= 1.05)")
    finally:
        if gw is not None:
            gw.terminate()
            gw.wait()
        nginx.terminate()
        nginx.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
