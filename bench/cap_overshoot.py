"""Cap overshoot under a storm, and what admission control costs in latency.

500 concurrent requests (non-streaming, then streaming with a third of the clients leaving
mid-stream) at a key whose daily cap fits about 10 of them; the mock provider answers each
with the most output allowed. Prints the cap, what the gateway settled, what the provider
billed, and the overshoot (billed above the cap: must be 0.00). Then the added latency of
admission control: the same requests, one at a time, with a budget on the key and without.

    python bench/cap_overshoot.py [--requests 500] [--counters redis://127.0.0.1:6379/0 --store postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from _common import free_port, wait_http  # noqa: E402

from jackstop.config import LimitSettings  # noqa: E402
from jackstop.gateway.bounds import bound_request  # noqa: E402
from jackstop.mockprovider import MockProvider, generate_key  # noqa: E402
from jackstop.pricing import Catalog, cost_nusd, usage_from_openai_chat, worst_case_nusd  # noqa: E402
from jackstop.pricing.money import format_usd  # noqa: E402
from jackstop.providers.base import Route  # noqa: E402

MODEL = "gpt-4o-mini"
PRICE = Catalog.load().lookup("openai", MODEL)


def body(i: int, stream: bool) -> dict:
    b = {"model": MODEL, "max_tokens": 1000,
         "messages": [{"role": "user", "content": f"request {i:04d}: a long story, please."}]}
    if stream:
        b["stream"] = True
        b["stream_options"] = {"include_usage": True}
    return b


def worst(stream: bool) -> int:
    b = body(0, stream)
    bound = bound_request(Route("openai", "chat.completions", "/chat/completions"), "openai", b,
                          len(json.dumps(b).encode()), 4096, LimitSettings())
    return worst_case_nusd(PRICE, bound.input_tokens, bound.output_tokens)


def provider_billed(mock: MockProvider, since: int) -> int:
    total = 0
    for rec in mock.requests.snapshot()[since:]:
        if rec.usage is not None:
            total += cost_nusd(usage_from_openai_chat({"prompt_tokens": rec.usage.input_tokens,
                                                       "completion_tokens": rec.usage.output_tokens}), PRICE)
    return total


async def storm(url: str, key: str, n: int, stream: bool) -> dict[int, int]:
    counts: dict[int, int] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=300)) as s:
        async def one(i: int) -> None:
            h = {"authorization": f"Bearer {key}", "x-mock-usage": "output=max"}
            if stream:
                h["x-mock-fault"] = "drip=0.002"
            async with s.post(url + "/v1/chat/completions", json=body(i, stream), headers=h) as r:
                counts[r.status] = counts.get(r.status, 0) + 1
                if stream and r.status == 200 and i % 3 == 0:
                    await r.content.readany()
                    r.close()  # leaves mid-stream
                    return
                await r.read()

        await asyncio.gather(*[one(i) for i in range(n)])
    return counts


async def latencies(url: str, keys: dict[str, str], rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in keys}
    async with aiohttp.ClientSession() as s:
        for i in range(rounds):
            for label, key in keys.items():  # alternate, so drift hits both alike
                t = time.perf_counter()
                async with s.post(url + "/v1/chat/completions", json=body(i, False),
                                  headers={"authorization": f"Bearer {key}"}) as r:
                    await r.read()
                    assert r.status == 200, await r.text()
                out[label].append((time.perf_counter() - t) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=400, help="sequential requests per key for the latency figure")
    ap.add_argument("--store", default="", help="store URL (default: SQLite in a temporary home)")
    ap.add_argument("--counters", default="memory://")
    args = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jackstop-capbench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
    env.update({"JACKSTOP_HOME": str(tmp / "home"), "JACKSTOP_LOG_LEVEL": "warning",
                "JACKSTOP_COUNTERS_URL": args.counters,
                "JACKSTOP_FORWARD_HEADERS": "x-mock-fault,x-mock-usage"})  # the mock's per-request controls
    if args.store:
        env["JACKSTOP_STORE_URL"] = args.store
    # The mock provider listens on 127.0.0.1: approve it as a provider host (secret custody).
    (tmp / "jackstop.toml").write_text('[providers]\napproved_hosts = ["127.0.0.1"]\n')
    env["JACKSTOP_CONFIG"] = str(tmp / "jackstop.toml")
    jackstop = [sys.executable, "-m", "jackstop"]
    keys = {f: generate_key(f) for f in ("openai", "anthropic", "gemini")}
    port = free_port()
    with MockProvider(keys=keys) as mock:
        subprocess.run(jackstop + ["init"], env=env, check=True, capture_output=True)
        subprocess.run(jackstop + ["secrets", "set", "mock"], env=env, input=keys["openai"], text=True, check=True,
                       capture_output=True)
        subprocess.run(jackstop + ["providers", "add", "mock", "--kind", "openai", "--secret", "local:mock",
                                   "--base-url", mock.base_url + "/v1"], env=env, check=True, capture_output=True)

        def create(name: str, *extra: str) -> str:
            out = subprocess.run(jackstop + ["keys", "create", name, "--provider", "mock", "--json", *extra], env=env,
                                 check=True, capture_output=True, text=True)
            return json.loads(out.stdout)["key"]

        caps = {s: worst(s) * 10 for s in (False, True)}
        k_json = create("storm-json", "--budget", f"{format_usd(caps[False])}/day")
        k_stream = create("storm-stream", "--budget", f"{format_usd(caps[True])}/day")
        k_budget = create("lat-budget", "--budget", "1000/day", "--rpm", "100000", "--tpm", "100000000")
        k_plain = create("lat-plain")
        gw = subprocess.Popen(jackstop + ["serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(tmp / "gateway.log", "w"))
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/healthz")
            print(f"cap overshoot: {args.requests} concurrent requests per run, output=max, counters {args.counters}")
            print(f"{'run':<10} {'cap':>12} {'served':>7} {'refused':>8} {'settled':>12} {'provider billed':>16} "
                  f"{'overshoot':>10}")
            worst_overshoot = 0
            for stream, key in ((False, k_json), (True, k_stream)):
                before = len(mock.requests)
                counts = asyncio.run(storm(url, key, args.requests, stream))
                time.sleep(0.5)  # let the ledger writer commit
                usage = json.loads(subprocess.run(jackstop + ["usage", "--json", "--key",
                                                              "storm-stream" if stream else "storm-json"],
                                                  env=env, check=True, capture_output=True, text=True).stdout)
                settled = sum(r["cost_nusd"] for r in usage["usage"])
                billed = provider_billed(mock, before)
                over = max(0, billed - caps[stream], settled - caps[stream])
                worst_overshoot = max(worst_overshoot, over)
                print(f"{'stream' if stream else 'json':<10} {'$' + format_usd(caps[stream]):>12} "
                      f"{counts.get(200, 0):>7} {counts.get(402, 0):>8} {'$' + format_usd(settled):>12} "
                      f"{'$' + format_usd(billed):>16} {'$' + f'{over / 1e9:.2f}':>10}")
            print(f"overshoot: ${worst_overshoot / 1e9:.2f} (must be 0.00)")
            lat = asyncio.run(latencies(url, {"budget": k_budget, "plain": k_plain}, args.rounds))
            p50 = {k: statistics.median(v) for k, v in lat.items()}
            p99 = {k: sorted(v)[int(len(v) * 0.99) - 1] for k, v in lat.items()}
            print(f"\nadmission control latency ({args.rounds} sequential requests each, alternating):")
            print(f"  key without budget or limits: p50 {p50['plain'] * 1000:.0f}µs  p99 {p99['plain'] * 1000:.0f}µs")
            print(f"  key with budget, rpm and tpm: p50 {p50['budget'] * 1000:.0f}µs  p99 {p99['budget'] * 1000:.0f}µs")
            print(f"  added by admission control:   p50 {(p50['budget'] - p50['plain']) * 1000:+.0f}µs "
                  f"(ratio {p50['budget'] / p50['plain']:.3f})")
            return 0 if worst_overshoot == 0 else 1
        finally:
            gw.terminate()
            gw.wait(timeout=15)


if __name__ == "__main__":
    raise SystemExit(main())
