"""Crash during spend: kill -9 the gateway with 30 streams in flight, restart it, keep spending.

Both storage tiers, and the journal's `fsync` mode. A $1.00 cap fits 32 of these requests at
their worst case. 30 streams are held open by the mock (gated after their first event) when
the gateway is killed. Whatever the provider bills
for them, the restarted gateway must count them at their worst case: the ledger holds every
request the provider received (recovered rows at their worst case, rule gateway_crashed),
the counters include them, and the key is refused once the cap is reached, with the total the
provider billed at or under the cap.
"""

from __future__ import annotations

import json
import threading

import httpx2 as httpx
import pytest

from jackstop.gateway.journal import CRASHED
from jackstop.control.policy import parse_budget
from jackstop.mockprovider import MockProvider
from tests.adversary.conftest_durability import billed_nusd, kill9, ledger, restart, wait_for
from tests.gateway.conftest import mock, module_postgres, start_gateway, tier_env  # noqa: F401 (fixtures)

MODEL = "gpt-4o"
MAX_TOKENS = 3000
CAP = "1.00/total"
STREAMS = 30


def body(i: int, stream: bool) -> dict:
    b = {"model": MODEL, "max_tokens": MAX_TOKENS,
         "messages": [{"role": "user", "content": f"request {i}: a long story about {i}."}]}
    if stream:
        b |= {"stream": True, "stream_options": {"include_usage": True}}
    return b


def open_stream(url: str, key: str, i: int, first: threading.Barrier, outcome: list) -> None:
    """A client whose stream the mock holds open after its first event; the crash ends it."""
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body(i, True), timeout=60,
                          headers={"authorization": f"Bearer {key}", "x-mock-usage": "output=max",
                                   "x-mock-fault": "gated"}) as r:
            outcome.append(r.status_code)
            for _ in r.iter_raw():
                pass
    except httpx.TransportError:
        outcome.append("broken")


@pytest.fixture
def fresh(mock: MockProvider):  # noqa: F811
    mock.reset()
    yield mock
    mock.reset()  # let go of any stream still held


@pytest.mark.parametrize("tier", ["sqlite", "scaleout", "sqlite-fsync"])
def test_kill9_with_streams_in_flight_keeps_the_cap(request: pytest.FixtureRequest, tmp_path, fresh, tier: str):
    journal = "fsync" if tier.endswith("-fsync") else "write"
    g = start_gateway(tmp_path, extra_env=tier_env(request, tier.split("-")[0]),
                      config_text=f'[server]\nreservation_journal = "{journal}"\n')
    try:
        g.add_provider("oai", "openai", fresh.keys["openai"], fresh.base_url + "/v1")
        key = g.create_key("oai", name="crashy", policy={"budgets": [CAP]})
        cap = parse_budget(CAP).amount_nusd

        outcome: list = []
        clients = [threading.Thread(target=open_stream, args=(g.url, key, i, None, outcome), daemon=True)
                   for i in range(STREAMS)]
        for c in clients:
            c.start()
        wait_for("30 streams to reach the provider",
                 lambda: sum(1 for r in fresh.requests.snapshot() if r.events_sent >= 1) >= STREAMS)
        # ...and their response heads to reach the clients: a loaded machine can lag between the two.
        wait_for("30 clients to get their response head", lambda: len(outcome) >= STREAMS)
        kill9(g)
        for c in clients:
            c.join(timeout=60)
        assert outcome.count(200) == STREAMS

        restart(g)
        served_after, refusal = 0, None
        for i in range(STREAMS, STREAMS + 40):
            r = httpx.post(g.url + "/v1/chat/completions", json=body(i, False), timeout=60,
                           headers={"authorization": f"Bearer {key}", "x-mock-usage": "output=max"})
            if r.status_code != 200:
                refusal = r
                break
            served_after += 1
        assert refusal is not None, "the key was never refused after the restart"
        assert refusal.status_code == 402 and refusal.headers["x-jackstop-error"] == "budget_exceeded", refusal.text

        # The provider billed no more than the cap, counting every crashed stream in full.
        assert billed_nusd(fresh, "openai", MODEL) <= cap

        # No forwarded request is missing from the ledger after recovery.
        g.cli("ledger", "--json", check=False)  # nothing to assert: the CLI must not choke on recovered rows
        rows = ledger(g, "crashy")
        forwarded = [r for r in rows if r.rule in (None, CRASHED)]
        assert len(forwarded) == len(fresh.requests.snapshot()) == STREAMS + served_after
        crashed = [r for r in rows if r.rule == CRASHED]
        assert len(crashed) == STREAMS
        assert all(r.cost_nusd == r.reserved_nusd > 0 for r in crashed)

        # The restarted counters counted the crashed reservations at their worst case: only what
        # was left of the cap after them was admitted.
        worst = crashed[0].reserved_nusd
        assert served_after <= (cap - STREAMS * worst) // worst
        assert json.loads(refusal.text)["error"]["code"] == "budget_exceeded"
    finally:
        g.stop()


def test_normal_stop_leaves_no_reservation_behind(tmp_path, fresh):
    """The other side of recovery: a clean stop settles every reservation, so the next start
    recovers nothing and no request is counted twice."""
    g = start_gateway(tmp_path)
    try:
        g.add_provider("oai", "openai", fresh.keys["openai"], fresh.base_url + "/v1")
        key = g.create_key("oai", name="calm", policy={"budgets": [CAP]})
        for i in range(3):
            r = httpx.post(g.url + "/v1/chat/completions", json=body(i, i % 2 == 1), timeout=60,
                           headers={"authorization": f"Bearer {key}"})
            assert r.status_code == 200
        g.proc.terminate()
        g.proc.wait(timeout=30)
        assert list((g.home / "journal").glob("reservations-*.log")) == []
        restart(g)
        rows = ledger(g, "calm")
        assert len(rows) == 3 and not [r for r in rows if r.rule == CRASHED]
    finally:
        g.stop()
