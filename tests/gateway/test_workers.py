"""`jackstop serve --workers 2`: two processes on one port, caps still exact, the ledger complete.

The same shape as test_caps: 200 concurrent requests against a key capped at about 10 of them, each
costing as much as it possibly can. On the embedded tier the workers share the supervisor's
in-process counters over a unix socket; on the scale-out tier they share Redis.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator

import pytest

from jackstop.control.policy import parse_budget
from jackstop.pricing.money import format_usd
from tests.gateway.conftest import GatewayProc, start_gateway, tier_env
from tests.gateway.test_caps import billed, fire, worst_case
from tests.gateway.util import ledger_rows


@pytest.fixture(scope="module", params=["sqlite", "scaleout"])
def gateway2(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mock) -> Iterator[GatewayProc]:
    g = start_gateway(tmp_path_factory.mktemp("gw2"), extra_env=tier_env(request, request.param),
                      serve_args=("--workers", "2"), ready_timeout=90)  # each worker starts a whole gateway
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    try:
        yield g
    finally:
        g.stop()


def _worker_pids(g: GatewayProc) -> set[int]:
    """The gateway's worker processes (children of the supervisor)."""
    assert g.proc is not None
    pids = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == g.proc.pid:
                pids.add(int(d))
    return pids


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_two_workers_never_overshoot_a_key_cap(gateway2, fresh_mock, stream):
    assert len(_worker_pids(gateway2)) >= 2  # spawn's resource tracker may be a third child
    cap = worst_case(stream) * 10
    budget = f"{format_usd(cap)}/day"
    key = gateway2.create_key("oai", policy={"budgets": [budget]})
    name = gateway2.control.find_key_by_token(key).name
    statuses = asyncio.run(fire(gateway2.url, key, 200, stream, disconnect_every=3 if stream else 0))
    served = statuses.count(200)
    assert served >= 10 and statuses.count(402) == 200 - served
    rows = ledger_rows(gateway2.control.store, name, 200, timeout=30)
    assert len(rows) == 200  # every request, from either worker, has exactly one ledger row
    assert len({r.request_id for r in rows}) == 200
    settled = sum(r.cost_nusd for r in rows)
    assert len(fresh_mock.requests) == served  # a refused request reaches no provider
    assert settled <= parse_budget(budget).amount_nusd
    assert billed(fresh_mock) <= settled  # the ledger never under-counts what the provider billed
    assert all(r.status == 402 and r.rule == "budget_exceeded" and r.cost_nusd == 0 for r in rows if r.rule)


@pytest.mark.slow
def test_both_workers_serve_and_a_revoked_key_is_refused_by_both(gateway2, fresh_mock):
    key = gateway2.create_key("oai")
    statuses = asyncio.run(fire(gateway2.url, key, 40, False))
    assert statuses == [200] * 40
    gateway2.control.set_key_status(gateway2.control.find_key_by_token(key).name, "revoked", "test", "test")
    statuses = asyncio.run(fire(gateway2.url, key, 40, False))  # 40 connections reach both workers
    assert statuses == [401] * 40
    assert re.search(r"listening on .*\(2 workers\)", gateway2.logs())


@pytest.mark.slow
def test_workers_stop_when_their_supervisor_is_killed(gateway2):
    """Without the supervisor's counters no cap can be held: its workers must not keep the port.
    (Last in this module: it ends the module's gateway.)"""
    import signal
    import time

    def running(pid: int) -> bool:
        try:
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    workers = _worker_pids(gateway2)
    assert len(workers) >= 2
    os.kill(gateway2.proc.pid, signal.SIGKILL)
    gateway2.proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(running(p) for p in workers):
        time.sleep(0.1)
    assert [p for p in workers if running(p)] == []
