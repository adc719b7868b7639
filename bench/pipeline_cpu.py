"""jackstop's own pipeline, without the HTTP server or client: CPU per request, in process.

The gateway's ASGI app (auth, access rules, the worst-case bound, admission against a key with a
budget and rpm/tpm limits, the reservation journal, the ledger writer thread, the monitor thread)
answers requests from 16 concurrent tasks; the upstream is a canned in-memory response. CPU is
this process's time (every thread) per request. On a shared, loaded machine this is far steadier
than the end-to-end figures of bench/overhead.py, so it is the number to compare before and after
a change to the pipeline:

    python bench/pipeline_cpu.py [--n 4000]
    PYTHONPATH=/path/to/other/checkout/src python bench/pipeline_cpu.py    # the same for another checkout
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from overhead import CHAT_JSON, request_body, sse_body  # noqa: E402


BODIES = {False: CHAT_JSON.encode(), True: sse_body().encode()}


class FakeResponse:
    def __init__(self, stream: bool) -> None:
        self.status = 200
        self.headers = [("content-type", "text/event-stream" if stream else "application/json")]
        self._body = BODIES[stream]

    async def read(self) -> bytes:
        return self._body

    async def chunks(self):  # noqa: ANN201
        for part in self._body.split(b"\n\n"):
            if part:
                yield part + b"\n\n"


class FakeUpstream:
    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    @contextlib.asynccontextmanager
    async def request(self, method, url, headers, body, stream):  # noqa: ANN001, ANN201
        yield FakeResponse(stream)


async def one(app, key: str, body: bytes) -> int:  # noqa: ANN001
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
             "query_string": b"", "http_version": "1.1", "scheme": "http", "client": ("127.0.0.1", 40000),
             "server": ("127.0.0.1", 8787), "root_path": "",
             "jackstop.arrived": time.perf_counter(),  # as guard.py stamps it: requests share looks at the feed
             "headers": [(b"host", b"127.0.0.1:8787"), (b"authorization", b"Bearer " + key.encode()),
                         (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    sent = False
    status = 0

    async def receive():  # noqa: ANN202
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()

    async def send(msg):  # noqa: ANN001, ANN202
        nonlocal status
        if msg["type"] == "http.response.start":
            status = msg["status"]

    await app(scope, receive, send)
    return status


async def run(n: int, modes: tuple[str, ...] = ("json", "stream")) -> dict[str, float]:
    from jackstop import config
    from jackstop.gateway.app import Gateway
    from jackstop.control import Control
    from jackstop.home import Home

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jackstop-pipeline-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
    env["JACKSTOP_HOME"] = str(tmp / "home")
    env["JACKSTOP_LOG_LEVEL"] = "warning"
    (tmp / "jackstop.toml").write_text('[providers]\napproved_hosts = ["127.0.0.1"]\n')
    env["JACKSTOP_CONFIG"] = str(tmp / "jackstop.toml")
    settings = config.load(environ=env)
    home = Home.from_env(env)
    control = Control.open(settings, home, create=True)
    control.set_secret("bench", "sk-bench-" + "x" * 40, "bench")
    control.add_provider("plain", "openai", "local:bench", "http://127.0.0.1:9/v1", "bench")
    key = control.create_key("k", "plain", "bench",
                             policy={"budgets": ["1000000/day"], "rpm": 10_000_000, "tpm": 10_000_000_000}).token
    gw = Gateway(settings, home)
    gw.upstream = gw.proxy.upstream = FakeUpstream()
    await gw.startup()
    out = {}
    try:
        for mode in modes:
            body = request_body(mode == "stream").encode()
            for _ in range(200):  # warm up
                await one(gw, key, body)
            gw.ledger.flush()
            sem = asyncio.Semaphore(16)

            async def limited() -> int:
                async with sem:
                    return await one(gw, key, body)

            c0, t0 = time.process_time(), time.perf_counter()
            statuses = await asyncio.gather(*[limited() for _ in range(n)])
            gw.ledger.flush()
            if gw.monitor is not None:
                while gw.monitor._queue:  # the monitor's share of the work counts too
                    await asyncio.sleep(0.005)
            out[mode] = (time.process_time() - c0) / n * 1e6
            assert statuses.count(200) == n, {s: statuses.count(s) for s in set(statuses)}
    finally:
        await gw.shutdown()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3, help="runs; the lowest is reported (least disturbed)")
    ap.add_argument("--modes", default="json,stream")
    args = ap.parse_args()
    import jackstop

    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for mode, us in asyncio.run(run(args.n, tuple(args.modes.split(",")))).items():
            best[mode] = min(best.get(mode, float("inf")), us)
    print(f"jackstop pipeline CPU per request, in process, 16 concurrent, fake upstream "
          f"({pathlib.Path(jackstop.__file__).parent.parent}; best of {args.repeat} x {args.n}):")
    for mode, us in best.items():
        print(f"  {mode:<7}{us:7.0f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
