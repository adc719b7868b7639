"""Gateway overhead: the same load straight at a fast upstream, through nginx, through a bare Python
pass-through and through jackstop, all in the same run.

Upstream: nginx (Debian) returning a canned chat completion or SSE stream, pinned to cpu1 with the
load generator (wrk, one thread). Every proxy under test (nginx as a plain reverse proxy, the bare
pass-through of bench/_passthrough.py, jackstop) runs pinned to cpu0; jackstop with 2 workers gets
cpu0 and cpu1 (it then shares cpu1 with wrk and the upstream, as a client on the same machine does).
jackstop runs the full pipeline: a key with a budget and rpm/tpm limits, the ledger and reservation
journal, the monitor on; on the embedded tier (SQLite, in-process counters) and the scale-out tier
(PostgreSQL + Redis from JACKSTOP_TEST_POSTGRES / JACKSTOP_TEST_REDIS, skipped when unset).

CPU per request is the proxy's own CPU time (user + system from /proc, summed over its process
tree: workers and the admission process included) divided by the requests wrk completed. wrk's CPU
is not counted: it runs on cpu1 in its own process. For the workers goal the summary says how much
of the machine wrk and the upstream took during the 2-worker run (they share cpu1 with the second
worker) and the throughput per core the gateway was left.

    python bench/overhead.py            # the whole matrix, 3 x 5 s per point (~15 min)
    python bench/overhead.py --quick    # 1 x 2 s per point (a few minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import resource
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


def _stat(pid: int) -> list[str] | None:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and every live descendant (workers, the admission process)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit() and (f := _stat(int(d))) is not None:
            children.setdefault(int(f[1]), []).append(int(d))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        f = _stat(p)
        if f is not None:
            total += int(f[11]) + int(f[12])
        todo += children.get(p, [])
    return total / os.sysconf("SC_CLK_TCK")


def nginx_proxy_conf(tmp: pathlib.Path, port: int, upstream_port: int) -> pathlib.Path:
    conf = tmp / "nginx-proxy.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx-proxy.pid;
error_log {tmp}/nginx-proxy-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  client_body_buffer_size 64k;
  upstream up {{ server 127.0.0.1:{upstream_port}; keepalive 256; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off;
      proxy_pass http://up;
    }}
  }}
}}
""")
    return conf


def run_wrk(url: str, script: pathlib.Path, conns: int, duration: float) -> dict[str, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{max(1, round(duration))}s", "--latency", "-s",
           str(script), url]
    return parse_wrk(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def settled_cpu(pid: int, step: float = 0.2, limit: float = 5.0) -> float:
    """cpu_seconds once the process has done the work the load left behind (the ledger writer's last
    batch, the monitor's backlog): charged to the target that caused it, and kept out of the next
    target's measurement on the same core. Idle means under 5% of a core for one step."""
    last = cpu_seconds(pid)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(step)
        now = cpu_seconds(pid)
        if now - last < 0.05 * step:
            return now
        last = now
    return last


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # children reaped so far: here, each wrk run
    return ru.ru_utime + ru.ru_stime


def measure(pid: int | None, url: str, script: pathlib.Path, conns: int, duration: float,
            upstream_pid: int) -> dict[str, float]:
    """One wrk run at a target. Besides the target's own CPU, what the client and the upstream took
    of the machine meanwhile (as cores: CPU seconds over the run's wall time), since on this 2-core
    machine they share cpu1 with a second worker."""
    c0 = settled_cpu(pid) if pid else 0.0
    w0, u0, t0 = _children_cpu(), cpu_seconds(upstream_pid), time.monotonic()
    r = run_wrk(url, script, conns, duration)
    wall = time.monotonic() - t0
    r["wrk_cores"] = (_children_cpu() - w0) / wall
    r["upstream_cores"] = (cpu_seconds(upstream_pid) - u0) / wall
    if pid:
        r["cpu_us"] = (settled_cpu(pid) - c0) / max(r["requests"], 1) * 1e6
    return r


class Gateway:
    """One jackstop home with a plain and a streaming provider, a key with a budget and rate limits on
    each, and `jackstop serve` running on it."""

    def __init__(self, tmp: pathlib.Path, name: str, up_port: int, extra_env: dict[str, str], workers: int,
                 cpus: str, config: str | None = None, upstream_client: str = "auto") -> None:
        self.name, self.workers = name, workers
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
        env.update({"JACKSTOP_HOME": str(tmp / name / "home"), "JACKSTOP_LOG_LEVEL": "warning",
                    "JACKSTOP_UPSTREAM_CLIENT": upstream_client, **extra_env})
        (tmp / name).mkdir()
        cfg_text = pathlib.Path(config).read_text() if config else ""
        if "[providers]" not in cfg_text:  # the upstream listens on 127.0.0.1: approve it (secret custody)
            cfg_text = '[providers]\napproved_hosts = ["127.0.0.1"]\n' + cfg_text
        (tmp / name / "jackstop.toml").write_text(cfg_text)
        env["JACKSTOP_CONFIG"] = str(tmp / name / "jackstop.toml")
        self.env = env
        self.cli("init")
        self.cli("secrets", "set", "bench", input="sk-bench-" + "x" * 40)
        self.keys = {}
        for kind, base in (("plain", f"http://127.0.0.1:{up_port}/v1"),
                           ("stream", f"http://127.0.0.1:{up_port}/stream/v1")):
            self.cli("providers", "add", kind, "--kind", "openai", "--secret", "local:bench", "--base-url", base)
            out = self.cli("keys", "create", f"k-{kind}", "--provider", kind, "--json", "--budget", "1000000/day",
                           "--rpm", "10000000", "--tpm", "10000000000")
            self.keys[kind] = json.loads(out)["key"]
        more = ["--workers", str(workers)] if workers > 1 else []
        self.proc = subprocess.Popen(["taskset", "-c", cpus, *JACKSTOP, "serve", "--port", str(self.port), *more],
                                     env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(tmp / name / "gateway.log", "w"))
        self.url = f"http://127.0.0.1:{self.port}"
        wait_http(self.url + "/healthz")

    def cli(self, *args: str, input: str | None = None) -> str:
        r = subprocess.run([*JACKSTOP, *args], env=self.env, capture_output=True, text=True, input=input)
        if r.returncode != 0:
            raise SystemExit(f"jackstop {args[0]} failed for {self.name}: {r.stderr.strip()}")
        return r.stdout

    def served(self) -> int | str:
        r = subprocess.run([*JACKSTOP, "usage", "--json", "--since", "1h"], env=self.env, capture_output=True,
                           text=True)
        if r.returncode != 0:
            return f"(jackstop usage failed: {r.stderr.strip()[-200:]})"
        return sum(row["served"] for row in json.loads(r.stdout)["usage"])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


JACKSTOP = [sys.executable, "-m", "jackstop"]


def scaleout_env(probe: bool = False) -> dict[str, str] | None:
    pg, redis = os.environ.get("JACKSTOP_TEST_POSTGRES"), os.environ.get("JACKSTOP_TEST_REDIS")
    if not pg or not redis:
        return None
    if probe:
        return {}
    import uuid

    import psycopg

    name = f"jackstop_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return {"JACKSTOP_STORE_URL": pg.rpartition("/")[0] + "/" + name, "JACKSTOP_COUNTERS_URL": redis,
            "JACKSTOP_COUNTERS_PREFIX": f"jsbench:{uuid.uuid4().hex[:8]}:"}


def drop_scaleout(env: dict[str, str]) -> None:
    import psycopg

    pg = os.environ["JACKSTOP_TEST_POSTGRES"]
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{env["JACKSTOP_STORE_URL"].rpartition("/")[2]}" WITH (FORCE)')


def start_upstream(tmp: pathlib.Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    p = subprocess.Popen(["taskset", "-c", "1", shutil.which("nginx") or "/usr/sbin/nginx", "-c",
                          str(nginx_conf(tmp, port))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/v1/chat/completions", method="POST")
    return p, port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 run x 2 s per point: the whole matrix in a few minutes")
    ap.add_argument("--duration", type=float, help="seconds per measurement (default 5, quick 2)")
    ap.add_argument("--repeat", type=int, help="runs per point; the median run is reported (default 3, quick 1)")
    ap.add_argument("--connections", default="1,16,64")
    ap.add_argument("--modes", default="json,stream")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--tiers", default="embedded,scaleout")
    ap.add_argument("--upstream-client", default="auto", choices=["auto", "inloop", "pyreqwest", "aiohttp"],
                    help="the gateway's (the bare pass-through always uses pyreqwest, as the issue's baseline)")
    ap.add_argument("--config", help="a jackstop.toml for the gateway (e.g. to turn the monitor off)")
    ap.add_argument("--before", metavar="CHECKOUT", help="also measure another checkout's gateway (1 worker), "
                                                         "e.g. a worktree of main, for before/after in one run")
    args = ap.parse_args()
    quick = args.quick or bool(os.environ.get("JACKSTOP_BENCH_QUICK"))  # `make bench QUICK=1`
    duration = args.duration or (2.0 if quick else 5.0)
    repeat = args.repeat or (1 if quick else 3)
    if not ensure_debian_tools({"nginx": "nginx-light", "wrk": "wrk"}):
        return 0
    if (os.cpu_count() or 1) < 2:
        print("needs two cores (proxies on one, load and upstream on the other)")
        return 0
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jackstop-bench-"))
    procs: list[subprocess.Popen] = []
    gateways: list[Gateway] = []
    scaleouts: list[dict[str, str]] = []
    try:
        upstream, up_port = start_upstream(tmp)
        procs.append(upstream)
        # The baselines, pinned to cpu0 like jackstop.
        ngx_port = free_port()
        procs.append(subprocess.Popen(["taskset", "-c", "0", shutil.which("nginx") or "/usr/sbin/nginx", "-c",
                                       str(nginx_proxy_conf(tmp, ngx_port, up_port))],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        bare_port = free_port()
        bare = subprocess.Popen(["taskset", "-c", "0", sys.executable, str(ROOT / "bench" / "_passthrough.py"),
                                 str(bare_port), f"http://127.0.0.1:{up_port}"])
        procs.append(bare)
        wait_http(f"http://127.0.0.1:{ngx_port}/v1/chat/completions", method="POST")
        wait_http(f"http://127.0.0.1:{bare_port}/v1/chat/completions", method="POST")
        targets: list[tuple[str, int | None, str, dict[str, str] | None]] = [
            ("nginx proxy", procs[1].pid, f"http://127.0.0.1:{ngx_port}", None),
            ("bare python", bare.pid, f"http://127.0.0.1:{bare_port}", None)]
        for tier in args.tiers.split(","):
            extra: dict[str, str] | None = {}
            if tier == "scaleout" and scaleout_env(probe=True) is None:
                print("scale-out tier skipped: set JACKSTOP_TEST_POSTGRES and JACKSTOP_TEST_REDIS")
                continue
            for w in [int(x) for x in args.workers.split(",")]:
                if tier == "scaleout":  # each gateway its own database and counters
                    extra = scaleout_env()
                    scaleouts.append(extra)
                g = Gateway(tmp, f"{tier}-{w}w", up_port, extra, w, "0" if w == 1 else "0,1", args.config,
                            args.upstream_client)
                gateways.append(g)
                targets.append((f"jackstop {tier} {w}w", g.proc.pid, g.url, g.keys))
            if args.before:  # another checkout's code, one worker, measured in the same run
                before_env = {**extra, "PYTHONPATH": str(pathlib.Path(args.before).resolve() / "src")}
                if tier == "scaleout":  # its own database and counters
                    own = scaleout_env()
                    scaleouts.append(own)
                    before_env.update(own)
                g = Gateway(tmp, f"{tier}-before-1w", up_port, before_env, 1, "0", args.config, args.upstream_client)
                gateways.append(g)
                targets.append((f"jackstop {tier}-before 1w", g.proc.pid, g.url, g.keys))
        scripts = {}
        for mode in args.modes.split(","):
            body = request_body(mode == "stream")
            scripts[mode] = {"direct": wrk_script(tmp, f"d-{mode}", body, None)}
            for g in gateways:
                scripts[mode][g.name] = wrk_script(tmp, f"g-{g.name}-{mode}", body,
                                                   g.keys["stream" if mode == "stream" else "plain"])
        def path_and_script(label: str, mode: str) -> tuple[str, pathlib.Path]:
            if label.startswith("jackstop"):  # the gateway routes by key: one path for both modes
                return "/v1/chat/completions", scripts[mode][label.split(" ", 1)[1].replace(" ", "-")]
            return ("/stream" if mode == "stream" else "") + "/v1/chat/completions", scripts[mode]["direct"]

        for mode in scripts:  # warm up (connection pools, caches)
            for label, _pid, url, _k in targets:
                path, script = path_and_script(label, mode)
                run_wrk(url + path, script, 16, 1)

        print(f"jackstop gateway overhead (upstream client {args.upstream_client}; proxies pinned to cpu0, 2 workers "
              f"to cpu0-1; nginx upstream and wrk on cpu1; median of {repeat} x {duration:g}s per point; "
              f"~{len(request_body(False))} B request; CPU = the proxy's process tree from /proc, wrk's not counted)")
        header = (f"{'mode':<7}{'conns':>5}  {'target':<24}{'rps':>8}{'p50 ms':>8}{'p99 ms':>8}{'+p50 µs':>9}"
                  f"{'+p99 µs':>9}{'cpu/req':>9}{'×bare':>7}{'×nginx':>7}{'err':>5}")
        results = []
        for mode in scripts:
            up_path = "/stream/v1/chat/completions" if mode == "stream" else "/v1/chat/completions"
            for conns in [int(c) for c in args.connections.split(",")]:
                print(header)
                print("-" * len(header), flush=True)
                runs: dict[str, list[dict]] = {}
                for _ in range(repeat):  # every target in turn, so drift hits them all
                    runs.setdefault("direct", []).append(
                        run_wrk(f"http://127.0.0.1:{up_port}{up_path}", scripts[mode]["direct"], conns, duration))
                    for label, pid, url, _k in targets:
                        path, script = path_and_script(label, mode)
                        runs.setdefault(label, []).append(measure(pid, url + path, script, conns, duration, upstream.pid))
                med = {}
                for label, rs in runs.items():
                    m = dict(sorted(rs, key=lambda x: x.get("cpu_us", x["p50"]))[len(rs) // 2])
                    for f in ("p50", "p99", "rps"):
                        m[f] = sorted(r[f] for r in rs)[len(rs) // 2]
                    med[label] = m
                d = med["direct"]
                if d["non2xx"] or d["socket_errors"]:
                    raise SystemExit(f"the direct upstream answered errors ({d}); fix the benchmark set-up")
                for label, m in med.items():
                    cpu = m.get("cpu_us")
                    xb = cpu / med["bare python"]["cpu_us"] if cpu else float("nan")
                    xn = cpu / med["nginx proxy"]["cpu_us"] if cpu and med["nginx proxy"].get("cpu_us") else float("nan")
                    errs = m["non2xx"] + (1 if m["socket_errors"] else 0)
                    print(f"{mode:<7}{conns:>5}  {label:<24}{m['rps']:>8.0f}{m['p50']:>8.3f}{m['p99']:>8.3f}"
                          f"{(m['p50'] - d['p50']) * 1000:>9.0f}{(m['p99'] - d['p99']) * 1000:>9.0f}"
                          f"{(f'{cpu:.0f}µs' if cpu else '-'):>9}{xb:>7.2f}{xn:>7.1f}{errs:>5}", flush=True)
                    results.append({"mode": mode, "connections": conns, "target": label, **m})
                print()
        # Metering really happened: every request a gateway served has a ledger row.
        time.sleep(1.0)
        for g in gateways:
            print(f"ledger rows for served requests, {g.name}: {g.served()}")
        print()
        _summary(results)
        (ROOT / "bench" / "out").mkdir(exist_ok=True)
        (ROOT / "bench" / "out" / "overhead.json").write_text(json.dumps(results, indent=2))
        return 0
    finally:
        for g in gateways:
            g.stop()
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        for env in scaleouts:
            drop_scaleout(env)
        if os.environ.get("JACKSTOP_BENCH_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _client_share(one: dict, two: dict) -> str:
    """How the client's CPU is accounted in the workers goal: wrk and the upstream are not charged to
    the gateway, but in the 2-worker run they sit on the second worker's core, so the gateway has
    2 - (wrk + upstream) cores, not 2. Throughput per core the gateway had, 2 workers against 1."""
    had = 2.0 - two["wrk_cores"] - two["upstream_cores"]
    return (f"client on the same machine: in the 2-worker run wrk used {two['wrk_cores']:.2f} and the "
            f"upstream nginx {two['upstream_cores']:.2f} of a core (not charged to the gateway), leaving it "
            f"{had:.2f} cores, of which it used {two['cpu_us'] * two['rps'] / 1e6:.2f}; "
            f"req/s per core left: {two['rps'] / had:.0f} with 2 workers against "
            f"{one['rps']:.0f} with 1 ({two['rps'] / had / one['rps']:.2f}×)")


def _summary(results: list[dict]) -> None:
    def get(mode: str, conns: int, target: str) -> dict | None:
        return next((r for r in results if r["mode"] == mode and r["connections"] == conns
                     and r["target"] == target), None)

    for mode in ("json", "stream"):
        goal = 150 if mode == "json" else 200
        for tier in ("embedded", "scaleout"):
            r = get(mode, 16, f"jackstop {tier} 1w")
            if r:
                print(f"goal: CPU/request at 16 connections, {mode}, {tier}, 1 worker <= {goal}µs: {r['cpu_us']:.0f}µs "
                      f"({r['cpu_us'] / get(mode, 16, 'bare python')['cpu_us']:.2f}× the bare pass-through)")
        e, s = get(mode, 16, "jackstop embedded 1w"), get(mode, 16, "jackstop scaleout 1w")
        if e and s:
            print(f"goal: scale-out CPU/request <= 1.3× embedded ({mode}, 16 conns): {s['cpu_us'] / e['cpu_us']:.2f}×")
        for tier in ("embedded", "scaleout"):
            one, two = get(mode, 64, f"jackstop {tier} 1w"), get(mode, 64, f"jackstop {tier} 2w")
            if one and two:
                print(f"goal: 2 workers >= 1.7× 1 worker at 64 connections ({mode}, {tier}): "
                      f"{two['rps']:.0f} / {one['rps']:.0f} req/s = {two['rps'] / one['rps']:.2f}×")
                print("  " + _client_share(one, two))
        for tier in ("embedded", "scaleout"):
            b, a = get(mode, 16, f"jackstop {tier}-before 1w"), get(mode, 16, f"jackstop {tier} 1w")
            if a and b:
                print(f"before -> after ({mode}, {tier}, 16 conns): CPU/request {b['cpu_us']:.0f} -> {a['cpu_us']:.0f}µs, "
                      f"p50 {b['p50']:.2f} -> {a['p50']:.2f} ms, p99 {b['p99']:.2f} -> {a['p99']:.2f} ms")
        for conns in (1, 16):
            r, d = get(mode, conns, "jackstop embedded 1w"), get(mode, conns, "direct")
            if r and d:
                a50, a99 = r["p50"] - d["p50"], r["p99"] - d["p99"]
                print(f"goal: added p99 <= 3× added p50 ({mode}, {conns} conns, embedded): "
                      f"{a99 * 1000:.0f}µs / {a50 * 1000:.0f}µs = {a99 / a50 if a50 > 0 else float('nan'):.1f}×")


if __name__ == "__main__":
    raise SystemExit(main())
