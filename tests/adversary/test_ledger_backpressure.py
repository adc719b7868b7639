"""The ledger writer never drops a row: a batch the store refuses is held and retried until the
store takes it, and once `server.ledger_max_backlog` rows are waiting, new requests are refused
(503 `ledger_backlog`, retry-after, in the caller's dialect) instead of being forwarded unrecorded.

One test drives a real gateway on PostgreSQL whose ledger table disappears and comes back; one
drives the writer itself with a store that fails on demand (the SQLite tier shares the writer).
"""

from __future__ import annotations

import threading

import httpx2 as httpx
import psycopg
import pytest

from jackstop.gateway.ledger import BACKLOG_RULE, LedgerWriter
from jackstop.mockprovider import MockProvider
from jackstop.store import LedgerRow
from tests.adversary.conftest_durability import ledger, wait_for
from tests.gateway.conftest import mock, module_postgres, start_gateway, tier_env  # noqa: F401

BOUND = 5


def chat(url: str, key: str, i: int) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", timeout=30, headers={"authorization": f"Bearer {key}"},
                      json={"model": "gpt-4o-mini", "max_tokens": 32,
                            "messages": [{"role": "user", "content": f"request {i}"}]})


def test_store_outage_holds_rows_refuses_new_work_and_writes_them_back(request, tmp_path,
                                                                        mock: MockProvider):  # noqa: F811
    env = tier_env(request, "scaleout")
    g = start_gateway(tmp_path, extra_env=env, config_text=f"[server]\nledger_max_backlog = {BOUND}\n")
    try:
        g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
        key = g.create_key("oai", name="bp", policy={"budgets": ["5.00/day"]})
        mock.reset()
        assert chat(g.url, key, 0).status_code == 200
        wait_for("the first row", lambda: len(ledger(g, "bp")) == 1)
        with psycopg.connect(env["JACKSTOP_STORE_URL"], autocommit=True) as db:
            db.execute("ALTER TABLE ledger RENAME TO ledger_away")  # every ledger write now fails
            served, refusal = 1, None
            for i in range(1, 60):
                r = chat(g.url, key, i)
                if r.status_code != 200:
                    refusal = r
                    break
                served += 1
            assert refusal is not None, "the gateway kept forwarding with an unbounded ledger backlog"
            assert refusal.status_code == 503
            assert refusal.headers["x-jackstop-error"] == BACKLOG_RULE
            assert int(refusal.headers["retry-after"]) > 0
            assert refusal.json()["error"]["code"] == BACKLOG_RULE  # OpenAI's error shape
            assert served - 1 >= BOUND - 1  # the bound, not a guess, stopped it
            assert len(mock.requests.snapshot()) == served
            db.execute("ALTER TABLE ledger_away RENAME TO ledger")  # the store is back
        wait_for("the held rows", lambda: len([r for r in ledger(g, "bp") if r.rule is None]) == served)
        rows = ledger(g, "bp")
        forwarded = [r for r in rows if r.rule is None]
        assert len(forwarded) == len({r.request_id for r in forwarded}) == served  # each exactly once
        assert [r for r in rows if r.rule == BACKLOG_RULE]  # the refusal is on record too
        wait_for("new work to be admitted", lambda: chat(g.url, key, 99).status_code == 200)
    finally:
        g.stop()


class FlakyStore:
    """A store whose ledger writes fail until `healthy` is set."""

    def __init__(self) -> None:
        self.healthy = threading.Event()
        self.rows: list[LedgerRow] = []
        self.failures = 0

    def insert_ledger(self, rows: list[LedgerRow]) -> None:
        if not self.healthy.is_set():
            self.failures += 1
            raise OSError("disk I/O error")
        self.rows.extend(rows)


def row(i: int, rule: str | None = None) -> LedgerRow:
    return LedgerRow(ts=float(i), request_id=f"r{i}", endpoint="chat.completions", status=200, rule=rule)


def test_writer_keeps_every_row_through_failures_and_bounds_refusals():
    store = FlakyStore()
    written: list[str] = []
    w = LedgerWriter(store, interval=0.01, max_backlog=BOUND)  # type: ignore[arg-type]
    w.on_written.append(lambda rows: written.extend(r.request_id for r in rows))
    try:
        for i in range(BOUND):
            w.put(row(i))
        wait_for("several failed attempts", lambda: store.failures >= 6)  # more than the old five tries
        assert w.full and w.backlog == BOUND and store.rows == []
        for i in range(100, 100 + 3 * BOUND):  # refusals while full: kept up to twice the bound, then counted
            w.put(row(i, BACKLOG_RULE))
        assert w.backlog == 2 * BOUND
        for i in range(200, 203):  # any refusal that cost nothing, e.g. a flood of made-up keys
            w.put(row(i, "auth_unknown"))
        spent = row(300)
        spent.cost_nusd = 5
        w.put(spent)  # a row with a cost is always kept
        assert w.backlog == 2 * BOUND + 1
        store.healthy.set()
        assert w.flush(timeout=30)
        ids = [r.request_id for r in store.rows]
        assert ids[:BOUND] == [f"r{i}" for i in range(BOUND)]  # in order, each once
        assert len(ids) == len(set(ids)) == 2 * BOUND + 1 + 2
        assert "r300" in ids
        summary = {r.rule: r.error for r in store.rows if r.endpoint == "*"}
        assert f"{2 * BOUND} requests" in summary[BACKLOG_RULE] and "3 requests" in summary["auth_unknown"]
        assert not w.full
        assert written[:BOUND] == [f"r{i}" for i in range(BOUND)]  # the journal hears of committed rows only
    finally:
        w.close()
