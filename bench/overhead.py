"""Gateway overhead: the same load straight at a fast upstream and through jackstop, same run.

Upstream: nginx (Debian) returning a canned chat completion, or a canned SSE stream, pinned to
the second core with the load generator (wrk). The gateway is pinned to the first core, with
authentication and metering on (SQLite store, ledger written). For 1, 16 and 64 connections,
non-streaming and streaming, it prints requests/s and p50/p99 latency for both paths, the
added latency, and the gateway's CPU time per request (from /proc, user + system).

    python bench/overhead.py [--duration 5] [--upstream-client pyreqwest|aiohttp]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from _common import ensure_debian_tools, free_port, wait_http  # noqa: E402

CHAT_JSON = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there, how can I help?"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 250, "completion_tokens": 8, "total_tokens": 258},
})


def sse_body() -> str:
    events = []
    for i, word in enumerate(["Hello", " there", ",", " how", " can", " I", " help", "?"]):
        events.append({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "delta": {"content": word} | ({"role": "assistant"} if i == 0 else {}),
                                    "finish_reason": None}], "usage": None})
    events.append({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None})
    events.append({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                   "choices": [], "usage": {"prompt_tokens": 250, "completion_tokens": 8, "total_tokens": 258}})
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


def _nginx_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def nginx_conf(tmp: pathlib.Path, port: int) -> pathlib.Path:
    # Canned answers inline (`return`), so nginx's unprivileged workers need no file access.
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  client_body_buffer_size 64k;
  server {{
    listen 127.0.0.1:{port};
    location = /v1/chat/completions {{ default_type application/json; return 200 {_nginx_string(CHAT_JSON)}; }}
    location = /stream/v1/chat/completions {{ default_type text/event-stream; return 200 {_nginx_string(sse_body())}; }}
  }}
}}
""")
    return conf


def request_body(stream: bool) -> str:
    # ~1 KB chat request, as the issue specifies
    body = {"model": "gpt-4o-mini", "max_tokens": 200, "messages": [
        {"role": "system", "content": "You are a helpful assistant. " * 10},
        {"role": "user", "content": "Tell me something interesting about the history of computing. " * 12}]}
    if stream:
        body["stream"] = True
    return json.dumps(body)


def wrk_script(tmp: pathlib.Path, name: str, body: str, key: str | None) -> pathlib.Path:
    (tmp / f"{name}.json").write_text(body)
    lines = ['wrk.method = "POST"', f'wrk.body = io.open("{tmp}/{name}.json"):read("*a")',
             'wrk.headers["Content-Type"] = "application/json"']
    if key:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {key}"')
    p = tmp / f"{name}.lua"
    p.write_text("\n".join(lines) + "\n")
    return p


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_wrk(out: str) -> dict[str, float]:
    def lat(pct: str) -> float:
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": lat("50"), "p99": lat("99"), "requests": total,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(1) if errors else ""}


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def run_wrk(url: str, script: pathlib.Path, conns: int, duration: float) -> dict[str, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{max(1, round(duration))}s", "--latency", "-s", str(script), url]
    return parse_wrk(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    ap.add_argument("--upstream-client", default="pyreqwest", choices=["pyreqwest", "aiohttp"])
    ap.add_argument("--connections", default="1,16,64")
    ap.add_argument("--repeat", type=int, default=3, help="runs per point; the median run is reported")
    ap.add_argument("--config", help="a jackstop.toml for the gateway (e.g. to turn the monitor off)")
    args = ap.parse_args()
    if not ensure_debian_tools({"nginx": "nginx-light", "wrk": "wrk"}):
        return 0
    if (os.cpu_count() or 1) < 2:
        print("needs two cores (gateway on one, load and upstream on the other)")
        return 0
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jackstop-bench-"))
    up_port, gw_port = free_port(), free_port()
    nginx = subprocess.Popen(["taskset", "-c", "1", shutil.which("nginx") or "/usr/sbin/nginx", "-c",
                              str(nginx_conf(tmp, up_port))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
    env.update({"JACKSTOP_HOME": str(tmp / "home"), "JACKSTOP_LOG_LEVEL": "warning",
                "JACKSTOP_UPSTREAM_CLIENT": args.upstream_client})
    # The upstream (nginx) listens on 127.0.0.1: approve it as a provider host (secret custody).
    cfg_text = pathlib.Path(args.config).read_text() if args.config else ""
    if "[providers]" not in cfg_text:
        cfg_text = '[providers]\napproved_hosts = ["127.0.0.1"]\n' + cfg_text
    (tmp / "jackstop.toml").write_text(cfg_text)
    env["JACKSTOP_CONFIG"] = str(tmp / "jackstop.toml")
    jackstop = [sys.executable, "-m", "jackstop"]
    gw = None
    try:
        subprocess.run(jackstop + ["init"], env=env, check=True, capture_output=True)
        subprocess.run(jackstop + ["secrets", "set", "bench"], env=env, check=True, capture_output=True,
                       input="sk-bench-" + "x" * 40, text=True)
        keys = {}
        for name, base in (("plain", f"http://127.0.0.1:{up_port}/v1"), ("stream", f"http://127.0.0.1:{up_port}/stream/v1")):
            subprocess.run(jackstop + ["providers", "add", name, "--kind", "openai", "--secret", "local:bench",
                                       "--base-url", base], env=env, check=True, capture_output=True)
            out = subprocess.run(jackstop + ["keys", "create", f"k-{name}", "--provider", name, "--json"], env=env,
                                 check=True, capture_output=True, text=True)
            keys[name] = json.loads(out.stdout)["key"]
        gw = subprocess.Popen(["taskset", "-c", "0", *jackstop, "serve", "--port", str(gw_port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(tmp / "gateway.log", "w"))
        wait_http(f"http://127.0.0.1:{gw_port}/healthz")
        wait_http(f"http://127.0.0.1:{up_port}/v1/chat/completions", method="POST")
        # Warm up both paths (connection pools, caches).
        for stream in (False, True):
            up_path = "/stream/v1/chat/completions" if stream else "/v1/chat/completions"
            run_wrk(f"http://127.0.0.1:{up_port}{up_path}", wrk_script(tmp, "w", request_body(stream), None), 16, 1)
            run_wrk(f"http://127.0.0.1:{gw_port}/v1/chat/completions",
                    wrk_script(tmp, "wg", request_body(stream), keys["stream" if stream else "plain"]), 16, 1)

        print(f"jackstop gateway overhead  (upstream client: {args.upstream_client}; gateway pinned to cpu0; "
              f"nginx and wrk on cpu1; median of {args.repeat} x {args.duration:g}s per point; ~{len(request_body(False))} B request)")
        header = (f"{'mode':<10}{'conns':>5} | {'direct rps':>10} {'p50 ms':>7} {'p99 ms':>7} | "
                  f"{'gateway rps':>11} {'p50 ms':>7} {'p99 ms':>7} | {'added p50':>9} {'cpu/req':>9} {'errors':>6}")
        print(header)
        print("-" * len(header))
        results = []
        for stream in (False, True):
            mode = "stream" if stream else "json"
            up_path = "/stream/v1/chat/completions" if stream else "/v1/chat/completions"
            direct_script = wrk_script(tmp, f"d-{mode}", request_body(stream), None)
            gw_script = wrk_script(tmp, f"g-{mode}", request_body(stream), keys["stream" if stream else "plain"])
            for conns in [int(c) for c in args.connections.split(",")]:
                runs = []
                for _ in range(args.repeat):  # direct and gateway alternate, so drift hits both
                    d = run_wrk(f"http://127.0.0.1:{up_port}{up_path}", direct_script, conns, args.duration)
                    c0 = cpu_seconds(gw.pid)
                    g = run_wrk(f"http://127.0.0.1:{gw_port}/v1/chat/completions", gw_script, conns, args.duration)
                    g["cpu_us"] = (cpu_seconds(gw.pid) - c0) / max(g["requests"], 1) * 1e6
                    runs.append((d, g))
                d = sorted((r[0] for r in runs), key=lambda x: x["p50"])[len(runs) // 2]
                g = sorted((r[1] for r in runs), key=lambda x: x["cpu_us"])[len(runs) // 2]
                g["p50"] = sorted(r[1]["p50"] for r in runs)[len(runs) // 2]
                cpu_us = g["cpu_us"]
                added = g["p50"] - d["p50"]
                errs = g["non2xx"] + (1 if g["socket_errors"] else 0)
                if d["non2xx"] or d["socket_errors"]:
                    raise SystemExit(f"the direct upstream answered errors ({d}); fix the benchmark set-up")
                print(f"{mode:<10}{conns:>5} | {d['rps']:>10.0f} {d['p50']:>7.3f} {d['p99']:>7.3f} | "
                      f"{g['rps']:>11.0f} {g['p50']:>7.3f} {g['p99']:>7.3f} | {added * 1000:>7.0f}µs {cpu_us:>7.0f}µs "
                      f"{errs:>6}", flush=True)
                results.append({"mode": mode, "connections": conns, "direct": d, "gateway": g,
                                "added_p50_ms": added, "gateway_cpu_us_per_request": cpu_us})
        # Metering really happened: every gateway request has a ledger row.
        time.sleep(0.5)
        usage = json.loads(subprocess.run(jackstop + ["usage", "--json", "--since", "1h"], env=env, check=True,
                                          capture_output=True, text=True).stdout)
        served = sum(r["served"] for r in usage["usage"])
        sent = sum(r["gateway"]["requests"] for r in results)  # median runs only
        print(f"\nledger rows for served requests: {served} (wrk counted {sent} in the median runs alone; the rest are the other runs and warm-up)")
        at16 = [r for r in results if r["connections"] == 16]
        at1 = [r for r in results if r["connections"] == 1]
        for r in at16:
            print(f"target: <= 300µs gateway CPU/request at 16 connections ({r['mode']}): "
                  f"{r['gateway_cpu_us_per_request']:.0f}µs")
        for r in at1:
            print(f"target: added p50 < 1 ms at 1 connection ({r['mode']}): {r['added_p50_ms'] * 1000:.0f}µs")
        (ROOT / "bench" / "out").mkdir(exist_ok=True)
        (ROOT / "bench" / "out" / "overhead.json").write_text(json.dumps(results, indent=2))
        return 0
    finally:
        if gw is not None:
            gw.terminate()
            gw.wait(timeout=15)
        nginx.terminate()
        nginx.wait(timeout=10)
        if os.environ.get("JACKSTOP_BENCH_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
