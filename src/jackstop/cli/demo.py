"""`jackstop demo`: watch jackstop catch an LLMjacking attack, in under a minute.

A front end of its own (it runs the whole server, jackstop.server, in-process), beside the CLI.

Everything runs in this process on loopback: a simulated OpenAI-compatible provider, the jackstop
gateway (uvicorn in a thread) and its monitor. Two weeks of a small app's normal traffic are
written to the ledger in compressed time (the scenario generator's timeline, ending now), so the
monitor starts with a learned baseline; then the app sends a few real requests, and an attacker
who found the key does what the public LLMjacking reports describe: lists the models, probes the
dear ones, and resells the key through proxies on many addresses with high concurrency, asking
for the most expensive model. Sources are distinct loopback addresses (127.x.0.1), one network each.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

APP_KEY = "shop-assistant"
DEAREST = "gpt-5.4-pro"
PROMPT = "You are Mira, a character in an endless adventure. Stay in character. " * 300  # ~20 KB role-play prompt


def _say(t0: float, text: str) -> None:
    print(f"[{time.monotonic() - t0:5.1f}s] {text}", flush=True)


def _history(control: Any, app_agent: str, days: float) -> tuple[int, int]:
    """Write `days` of the app's traffic (the scenario generator's timeline shifted to end now)."""
    import random

    from jackstop.monitor.scenarios import SIZES, normal_traffic
    from jackstop.store import LedgerRow

    app = replace(SIZES["small"], key=APP_KEY, provider="openai", models=(("gpt-4o-mini", 1.0),),
                  ips=("127.0.0.1",), agents=(app_agent,), input_tokens=1200, output_tokens=250)
    end = time.time() - 60
    start = end - days * 86400
    from jackstop.pricing import Catalog, Usage, cost_nusd

    price = Catalog.load().lookup("openai", "gpt-4o-mini")
    rows, spent = [], 0
    for i, r in enumerate(normal_traffic(app, start, end, random.Random(42))):
        cost = cost_nusd(Usage(input_tokens=r["input_tokens"], output_tokens=r["output_tokens"]), price) \
            if r["status"] == 200 else 0
        spent += cost
        rows.append(LedgerRow(ts=r["ts"], request_id=f"hist{i}", endpoint=r["endpoint"], status=r["status"],
                              key_name=APP_KEY, provider="mock-openai", provider_kind="openai", model=r["model"],
                              source_ip=r["ip"], user_agent=r["user_agent"], input_tokens=r["input_tokens"],
                              output_tokens=r["output_tokens"], cost_nusd=cost))
    control.store.insert_ledger(rows)
    return len(rows), spent


def run_demo(fast: bool = False) -> int:
    import httpx2
    import openai

    from jackstop import config
    from jackstop.control import Control
    from jackstop.server import make_server
    from jackstop.home import Home
    from jackstop.mockprovider import MockProvider, UsagePolicy, generate_key
    from jackstop.monitor import load_monitor_settings
    from jackstop.monitor.live import Monitor

    import logging

    logging.getLogger("jackstop").setLevel(logging.ERROR)  # the demo prints what matters itself
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="jackstop-demo-")
    agent = f"OpenAI/Python {openai.__version__}"
    print("jackstop demo: an LLMjacking attack against a small app's key, replayed on loopback.\n")
    with MockProvider(keys={"openai": generate_key("openai")}, usage=UsagePolicy(output_tokens="max")) as mock:
        env = {"JACKSTOP_HOME": os.path.join(tmp, "home")}
        settings = config.load(environ=env)
        settings = settings.model_copy(update={"server": settings.server.model_copy(update={"port": _free_port()}),
                                               "monitor": {"exempt_sources": []},
                                               # the simulated provider's host, approved as an operator would
                                               "providers": config.ProviderSettings(approved_hosts=("127.0.0.1",))})
        home = Home.from_env(env)
        control = Control.open(settings, home, create=True)
        control.set_secret("mock-openai", mock.keys["openai"], "demo")
        control.add_provider("mock-openai", "openai", "local:mock-openai", mock.base_url + "/v1", "demo")
        issued = control.create_key(APP_KEY, "mock-openai", "demo",
                                    policy={"budgets": [{"amount": "25.00", "window": "day"}]})
        token = issued.token
        _say(t0, f"simulated provider at {mock.base_url}; key {APP_KEY} created with a $25/day budget")
        days = 8 if fast else 14
        n, spent = _history(control, agent, days)
        _say(t0, f"{days} days of the app's normal traffic written to the ledger (compressed time): "
                 f"{n:,} requests, ${spent / 1e9:,.2f} (about ${spent / 1e9 / days * 30:,.0f} a month)")

        server, gateway = make_server(settings, home)
        monitor = getattr(gateway, "monitor", None)
        own_monitor = monitor is None
        if own_monitor:  # the gateway does not start one itself: attach it as the gateway would
            monitor = Monitor(load_monitor_settings(settings.monitor), store=gateway.store, control=gateway.control,
                              catalog=gateway.catalog)
            gateway.ledger.subscribers.append(monitor.observe)
            gateway.proxy.monitor = monitor
            monitor.start()
        thread = threading.Thread(target=server.run, name="jackstop-demo-gateway", daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{settings.server.port}"
        _wait_ready(base)
        monitor.wait_idle(30)
        st = monitor.engine.keys.get(APP_KEY)
        usual = st.series.ref_total[0] / 1e9 if st and st.series.ref_total else 0.0
        _say(t0, f"gateway at {base}/v1; the monitor learned the key's baseline (busiest hour ${usual:,.2f})")

        def client(source: str) -> Any:
            return openai.OpenAI(base_url=base + "/v1", api_key=token, max_retries=0,
                                 http_client=httpx2.Client(transport=httpx2.HTTPTransport(local_address=source)))

        app = client("127.0.0.1")
        for _ in range(5):
            app.chat.completions.create(model="gpt-4o-mini", max_tokens=200,
                                        messages=[{"role": "user", "content": "Where is my order #1234?"}])
        _say(t0, "the app serves 5 customers as usual: no event")

        seen: set[int] = set()
        attack_t = time.monotonic()
        printed = {"crit": None, "susp": None}

        def show_events() -> None:
            for ev in list(monitor.events):
                if id(ev) in seen or ev.key not in (APP_KEY, None):
                    continue
                seen.add(id(ev))
                if ev.severity == "info":
                    continue
                at = time.monotonic() - attack_t
                _say(t0, f"  monitor: {ev.severity.upper():8} {ev.detector}: {ev.reason}"
                     + (f"  -> {ev.action.upper()}" if ev.action in ("suspend", "throttle", "block_source") else ""))
                if ev.severity == "critical" and printed["crit"] is None:
                    printed["crit"] = at
                if ev.action == "suspend" and printed["susp"] is None:
                    printed["susp"] = at

        _say(t0, "ATTACK: the key leaks; a key checker on 127.1.0.1 lists the models and probes the dear ones")
        checker = client("127.1.0.1")
        outcomes = {"served": 0, "refused": 0}
        costs: list[int] = []
        try:
            checker.models.list()
            for model in ("gpt-4o", "gpt-4.1", "o3", DEAREST):
                checker.chat.completions.create(model=model, max_tokens=5,
                                                messages=[{"role": "user", "content": "How many states are there in "
                                                                                       "the United States?"}])
                monitor.wait_idle(5)
                show_events()
        except openai.APIStatusError as exc:
            _say(t0, f"  checker refused: {exc.status_code} {exc.response.headers.get('x-jackstop-error')}")
        show_events()
        proxies = 12
        attempts = 120 if fast else 400
        _say(t0, f"the key goes behind a reverse proxy: {proxies} hosts, 16 at a time, {DEAREST} with "
                 f"long role-play prompts ({attempts} requests)")

        def resold(i: int) -> None:
            c = clients[i % proxies]
            try:
                c.chat.completions.create(model=DEAREST, max_tokens=1000, messages=[{"role": "user", "content": PROMPT}])
                outcomes["served"] += 1
            except openai.APIStatusError:
                outcomes["refused"] += 1

        clients = [client(f"127.{10 + i}.0.1") for i in range(proxies)]
        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(resold, i) for i in range(attempts)]
            while not all(f.done() for f in futures):
                show_events()
                time.sleep(0.05)
        monitor.wait_idle(10)
        show_events()
        try:
            app.chat.completions.create(model="gpt-4o-mini", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
            _say(t0, "the app's next request was served (the key is not suspended)")
        except openai.APIStatusError as exc:
            _say(t0, f"the app's next request: {exc.status_code} {exc.response.headers.get('x-jackstop-error')} "
                     f"(the key stays suspended until a person resumes it: jackstop keys resume {APP_KEY})")
        gateway.ledger.flush()
        rows = [r for r in gateway.store.ledger(key_name=APP_KEY, since=time.time() - 600)
                if r.source_ip != "127.0.0.1"]
        spent_attack = sum(r.cost_nusd for r in rows)
        per_request = _price_per_request(gateway.catalog)
        total_requests = 1 + 8 + attempts
        unchecked = per_request * attempts
        per_day = 40 * 60 * 24 * per_request  # a resale proxy's steady 40 requests a minute
        print()
        print("Result")
        print(f"  first critical event: {_fmt(printed['crit'])} after the attacker's first request")
        print(f"  key suspended:        {_fmt(printed['susp'])} after the attacker's first request")
        print(f"  attacker requests:    {total_requests} sent, {outcomes['served']} of the resold ones served, "
              f"{outcomes['refused']} refused")
        print(f"  spent by the attacker through jackstop: ${spent_attack / 1e9:,.2f}")
        print(f"  the same traffic with no gateway:       ${unchecked / 1e9:,.2f} "
              f"({attempts} x ${per_request / 1e9:,.2f} for {DEAREST})")
        print(f"  a day of resale at 40 requests/minute:  ${per_day / 1e9:,.0f} with no gateway; the key's "
              f"$25/day budget caps it, the monitor stopped it at the first requests")
        print(f"  incident report: jackstop incident {APP_KEY} (with JACKSTOP_HOME={env['JACKSTOP_HOME']})")
        server.should_exit = True
        thread.join(10)
        if own_monitor:
            monitor.stop()
        control.store.close()
    print(f"\ndone in {time.monotonic() - t0:.1f} s")
    return 0


def _price_per_request(catalog: Any) -> int:
    from jackstop.pricing import Usage, cost_nusd

    price = catalog.lookup("openai", DEAREST)
    # the mock counts ~4 bytes per prompt token and answers with max_tokens
    return cost_nusd(Usage(input_tokens=len(PROMPT.encode()) // 4 + 8, output_tokens=1000), price)


def _fmt(v: float | None) -> str:
    return "not reached" if v is None else f"{v:.1f} s"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(base: str) -> None:
    import httpx2

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx2.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the gateway did not start")


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="watch jackstop catch an LLMjacking attack (simulated, under a minute)")
    p.add_argument("--fast", action="store_true", help="fewer simulated days (for tests)")
    p.set_defaults(func=lambda args: run_demo(fast=args.fast))
