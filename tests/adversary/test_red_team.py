"""Red-team findings after issue 9: holes the first pass did not cover, each through a real
`jackstop serve` and the mock provider (which bills as the real provider documents).

Hole 1, hidden tool-use prompt tokens (Anthropic). When a request carries `tools`, Anthropic
adds a tool-use system prompt to the prompt (346 tokens on Claude 4.x, up to 530 on Claude 3
Opus) and each Anthropic-schema tool adds its own definition (bash 245, text editor 700,
computer use 735 plus a 499-token system prompt). None of those tokens are in the request
body, so a bound made of the body's bytes is low: a 300-byte request bills ~2,800 tokens.
"""

from __future__ import annotations

import threading
import time

import httpx2 as httpx
import orjson
import pytest

from jackstop.mockprovider import MockProvider
from tests.adversary.conftest_routes import (  # noqa: F401  (fixtures)
    PROVIDERS,
    auth_headers,
    bill_nusd,
    capped_gateway,
    capped_key,
    ledger_row,
    mock,
    raw_request,
    total_bill,
)

MODEL = "claude-mythos-5"
SCHEMA_TOOLS = [
    {"type": "computer_20250124", "name": "computer", "display_width_px": 1024, "display_height_px": 768},
    {"type": "bash_20250124", "name": "bash"},
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
]


def _tool_body(stream: bool = False, tool_choice: dict | None = None, tools: list | None = None) -> dict:
    body = {"model": MODEL, "max_tokens": 1, "tools": SCHEMA_TOOLS if tools is None else tools,
            "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    return body


@pytest.mark.parametrize("case", ["schema_tools", "one_custom_tool", "custom_tool_choice_any"])
def test_tool_use_prompt_tokens_are_inside_the_reservation(capped_gateway, mock: MockProvider, case: str):  # noqa: F811
    """Forwarded => what the provider bills is at most what was reserved, for tool requests."""
    g = capped_gateway
    key = capped_key(g, "anthropic")
    custom = [{"name": "f", "input_schema": {"type": "object"}}]
    body = {"schema_tools": _tool_body(),
            "one_custom_tool": _tool_body(tools=custom),
            "custom_tool_choice_any": _tool_body(tools=custom, tool_choice={"type": "any"})}[case]
    mock.requests.clear()
    r = httpx.post(g.url + "/v1/messages", json=body, timeout=30, headers=auth_headers("anthropic", key))
    assert r.status_code == 200, r.text
    [record] = [x for x in mock.requests.snapshot() if x.endpoint == "anthropic.messages"]
    row = ledger_row(g, r.headers["x-jackstop-request-id"])
    billed = bill_nusd(record)
    assert billed > 0
    assert billed <= row.reserved_nusd, (
        f"the provider billed {billed} nUSD ({record.usage}) for a request that reserved {row.reserved_nusd}")


def _held_stream(url: str, key: str, statuses: list) -> None:
    try:
        with httpx.stream("POST", url + "/v1/messages", json=_tool_body(stream=True), timeout=60,
                          headers={**auth_headers("anthropic", key), "x-mock-fault": "gated"}) as r:
            statuses.append(r.status_code)
            for _ in r.iter_raw():
                pass
    except httpx.TransportError:
        statuses.append("broken")


def test_concurrent_tool_requests_bill_at_most_the_cap(capped_gateway, mock: MockProvider):  # noqa: F811
    """The thief's version: many small tool requests at once on a $0.10 key, held open by the
    provider so every one is admitted on its (low) reservation before any settles."""
    g = capped_gateway
    cap = 100_000_000  # $0.10
    key = g.create_key(PROVIDERS["anthropic"], policy={"budgets": [{"amount": "0.10", "window": "total"}]})
    mock.reset()
    try:
        statuses: list = []
        clients = [threading.Thread(target=_held_stream, args=(g.url, key, statuses), daemon=True)
                   for _ in range(20)]
        for c in clients:
            c.start()
        deadline = time.monotonic() + 60
        while len(statuses) < len(clients) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(statuses) == len(clients), statuses
        mock.release(100_000)
        for c in clients:
            c.join(timeout=60)
        billed = total_bill([r for r in mock.requests.snapshot() if r.endpoint == "anthropic.messages"])
        assert statuses.count(200) >= 1
        assert billed <= cap, f"the provider billed ${billed / 1e9:.4f} on a $0.10 key ({statuses.count(200)} served)"
    finally:
        mock.reset()


# -- Hole 2: US-only inference (Anthropic `inference_geo`) -------------------------------------------
#
# `"inference_geo": "us"` on Claude Opus 4.6, Sonnet 4.6 and later models bills every token at
# 1.1x the standard rate (support.claude.com "Enable US-only inference": "billed at 1.1x
# standard API rates for Claude Opus 4.6, Claude Sonnet 4.6, and later models"). The gateway
# reserved and settled at the standard rate, so the cap slipped by 10% and one request could
# bill more than it reserved.

US_ONLY_FACTOR = 1.1


def _us_only_bill(record) -> int:
    """The provider's bill for a request that asked for US-only inference."""
    return int(bill_nusd(record) * US_ONLY_FACTOR + 0.999)


@pytest.mark.parametrize("extra", [{}, {"speed": "fast"}])
def test_us_only_inference_is_reserved_and_settled_at_its_price(capped_gateway, mock: MockProvider, extra):  # noqa: F811
    g = capped_gateway
    key = capped_key(g, "anthropic")
    model = "claude-opus-5-5" if extra else "claude-opus-4-8"
    body = {"model": model, "max_tokens": 4000, "inference_geo": "us",
            "messages": [{"role": "user", "content": "a long story"}], **extra}
    mock.requests.clear()
    r = httpx.post(g.url + "/v1/messages", json=body, timeout=30,
                   headers={**auth_headers("anthropic", key), "x-mock-usage": "output=max"})
    assert r.status_code == 200, r.text
    [record] = [x for x in mock.requests.snapshot() if x.endpoint == "anthropic.messages"]
    billed = _us_only_bill(record) * (2 if extra else 1)
    row = ledger_row(g, r.headers["x-jackstop-request-id"])
    assert billed <= row.reserved_nusd, f"billed {billed} nUSD, reserved {row.reserved_nusd}"
    assert row.cost_nusd >= billed - 2, f"the ledger settled {row.cost_nusd} nUSD for a {billed} nUSD bill"


def test_us_only_inference_on_a_model_without_its_price_is_refused(capped_gateway, mock: MockProvider):  # noqa: F811
    g = capped_gateway
    key = capped_key(g, "anthropic")
    mock.requests.clear()
    r = httpx.post(g.url + "/v1/messages", timeout=30, headers=auth_headers("anthropic", key),
                   json={"model": "claude-haiku-4-5", "max_tokens": 10, "inference_geo": "eu",
                         "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 403 and r.headers["x-jackstop-error"] == "mode_not_priced", r.text
    assert not [x for x in mock.requests.snapshot() if x.endpoint == "anthropic.messages"]


# -- Hole 3: server-side compaction (Anthropic `context_management` compact edit) --------------------
#
# With a compact_* edit and a prompt over its trigger (at least 50,000 tokens), Anthropic runs an
# extra summarising step inside the one request and bills it too; the top-level usage counts only
# the answering step, the summarising step is in `usage.iterations` (docs.claude.com "Compaction").
# The summary's length is not bounded by max_tokens, so the gateway cannot bound the request; and
# it settled from the top-level usage, so every compaction was missing from the ledger and the cap.

def _compaction_body() -> dict:
    big = "lorem ipsum dolor sit amet " * 8_000  # ~216 KB: ~54,000 tokens as the mock bills text
    return {"model": "claude-haiku-5-5", "max_tokens": 256,
            "context_management": {"edits": [{"type": "compact_20260112",
                                               "trigger": {"type": "input_tokens", "value": 50_000}}]},
            "messages": [{"role": "user", "content": big}]}


def test_compaction_is_refused_without_a_flat_reservation(capped_gateway, mock: MockProvider):  # noqa: F811
    g = capped_gateway
    key = capped_key(g, "anthropic")
    mock.requests.clear()
    r = httpx.post(g.url + "/v1/messages", json=_compaction_body(), timeout=30,
                   headers={**auth_headers("anthropic", key), "anthropic-beta": "compact-2026-01-12"})
    assert r.status_code == 403 and r.headers.get("x-jackstop-error") == "unbounded_cost", r.text[:300]
    assert r.json()["type"] == "error" and "compaction" in r.json()["error"]["message"]
    assert not [x for x in mock.requests.snapshot() if x.endpoint == "anthropic.messages"]


@pytest.mark.parametrize("stream", [False, True])
def test_compaction_is_settled_with_its_summarising_step(capped_gateway, mock: MockProvider, stream: bool):  # noqa: F811
    g = capped_gateway
    key = g.create_key(PROVIDERS["anthropic"], policy={"budgets": [{"amount": "1.00", "window": "total"}],
                                                       "unbounded_reserve": "0.50"})
    mock.requests.clear()
    r = httpx.post(g.url + "/v1/messages", json={**_compaction_body(), "stream": stream}, timeout=30,
                   headers={**auth_headers("anthropic", key), "anthropic-beta": "compact-2026-01-12"})
    assert r.status_code == 200, r.text[:300]
    [record] = [x for x in mock.requests.snapshot() if x.endpoint == "anthropic.messages"]
    billed = bill_nusd(record)
    row = ledger_row(g, r.headers["x-jackstop-request-id"])
    assert billed <= row.reserved_nusd
    assert row.cost_nusd >= billed, f"the ledger settled {row.cost_nusd} nUSD for a {billed} nUSD bill"


# -- Hardening: OpenAI service tiers other than the standard ones --------------------------------------
#
# The bound read only service_tier == "priority". The catalog prices a 3x "ultrafast" mode for
# gpt-6.2-sol; a request naming it was reserved at the standard rate. Any tier that is not billed
# at (or below) the standard rate is now reserved at its priced multiplier, or refused.

def test_a_paid_service_tier_is_reserved_at_its_price_or_refused(capped_gateway, mock: MockProvider):  # noqa: F811
    g = capped_gateway
    key = capped_key(g, "openai")
    base = {"model": "gpt-6.2-sol", "max_completion_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}
    rows = {}
    for tier in ("default", "ultrafast"):
        r = httpx.post(g.url + "/v1/chat/completions", json={**base, "service_tier": tier}, timeout=30,
                       headers=auth_headers("openai", key))
        assert r.status_code == 200, r.text
        rows[tier] = ledger_row(g, r.headers["x-jackstop-request-id"])
    assert rows["ultrafast"].reserved_nusd >= 3 * rows["default"].reserved_nusd - 3
    mock.requests.clear()
    r = httpx.post(g.url + "/v1/chat/completions", json={**base, "service_tier": "turbo"}, timeout=30,
                   headers=auth_headers("openai", key))
    assert r.status_code == 403 and r.headers["x-jackstop-error"] == "mode_not_priced", r.text
    assert r.json()["error"]["code"] == "mode_not_priced"
    assert not [x for x in mock.requests.snapshot() if x.endpoint == "openai.chat"]


# -- Hole 4: OpenAI Responses compaction ------------------------------------------------------------
#
# developers.openai.com "Compaction": `context_management: [{"type": "compaction",
# "compact_threshold": N}]` makes the server summarise the context in an extra step, and the
# returned `compaction` input item is encrypted prior context the provider expands on the next
# request. The gateway reserved neither: the first forwarded on a normal reservation, the second
# counted the encrypted blob's bytes, not the context it stands for.

def test_responses_server_side_compaction_is_refused_without_a_flat_reservation(capped_gateway, mock: MockProvider):  # noqa: F811
    g = capped_gateway
    key = capped_key(g, "openai")
    mock.requests.clear()
    r = httpx.post(g.url + "/v1/responses", timeout=30, headers=auth_headers("openai", key),
                   json={"model": "gpt-5.4", "input": "hi", "max_output_tokens": 100,
                         "context_management": [{"type": "compaction", "compact_threshold": 1000}]})
    assert r.status_code == 403 and r.headers["x-jackstop-error"] == "unbounded_cost", r.text
    assert "compaction" in r.json()["error"]["message"]
    assert not [x for x in mock.requests.snapshot() if x.endpoint == "openai.responses"]


def test_a_compaction_input_item_is_reserved_as_stored_context(capped_gateway, mock: MockProvider):  # noqa: F811
    g = capped_gateway
    key = capped_key(g, "openai")
    mock.requests.clear()
    r = httpx.post(g.url + "/v1/responses", timeout=30, headers=auth_headers("openai", key),
                   json={"model": "gpt-5.4", "max_output_tokens": 100, "input": [
                       {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAAB" + "x" * 64},
                       {"role": "user", "content": "continue"}]})
    forwarded = [x for x in mock.requests.snapshot() if x.endpoint == "openai.responses"]
    if r.status_code == 200:
        row = ledger_row(g, r.headers["x-jackstop-request-id"])
        assert total_bill(forwarded) <= row.reserved_nusd, (total_bill(forwarded), row.reserved_nusd)
    else:  # the whole context window does not fit a $1.00 key
        assert r.headers["x-jackstop-error"] == "budget_exceeded", r.text
        assert not forwarded


# -- What held: probes that found no hole (kept as regression tests) ----------------------------------

_CHAT = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}]}
_PROBES = {
    # numbers in other forms: refused, never read as a small bound
    "max_tokens_exponent": ("POST", b"/v1/chat/completions", {}, {**_CHAT, "max_completion_tokens": 1e6}),
    "max_tokens_float": ("POST", b"/v1/chat/completions", {}, {**_CHAT, "max_tokens": 1.0}),
    "max_tokens_string": ("POST", b"/v1/chat/completions", {}, {**_CHAT, "max_tokens": "100000"}),
    "max_tokens_bool": ("POST", b"/v1/chat/completions", {}, {**_CHAT, "max_tokens": True}),
    "max_tokens_negative": ("POST", b"/v1/chat/completions", {}, {**_CHAT, "max_tokens": -1}),
    "n_string": ("POST", b"/v1/chat/completions", {}, {**_CHAT, "n": "8"}),
    "gemini_count_string": ("POST", b"/v1beta/models/gemini-2.5-flash:generateContent", {},
                            {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"candidateCount": "8"}}),
    "gemini_max_string": ("POST", b"/v1beta/models/gemini-2.5-flash:generateContent", {},
                          {"contents": [{"parts": [{"text": "hi"}]}],
                           "generation_config": {"max_output_tokens": "900000"}}),
    # stream_options tricks: usage is injected whatever the client says
    "stream_usage_off": ("POST", b"/v1/chat/completions", {},
                         {**_CHAT, "stream": True, "stream_options": {"include_usage": False}}),
    "stream_options_string": ("POST", b"/v1/chat/completions", {}, {**_CHAT, "stream": True, "stream_options": "x"}),
    # method tricks
    "method_override": ("POST", b"/v1/models", {"x-http-method-override": "POST"}, _CHAT),
    "get_with_body": ("GET", b"/v1/chat/completions", {}, _CHAT),
}


@pytest.mark.parametrize("name", list(_PROBES))
def test_probes_that_held(capped_gateway, mock: MockProvider, name: str):  # noqa: F811
    method, target, extra, body = _PROBES[name]
    family = "gemini" if b"v1beta" in target else "openai"
    key = capped_key(capped_gateway, family)
    mock.requests.clear()
    payload = orjson.dumps(body) if body is not None else b""
    r = raw_request(capped_gateway.port, method, target, {**auth_headers(family, key), **extra}, payload)
    forwarded = [x for x in mock.requests.snapshot() if x.family is not None]
    if r.status < 300:
        row = ledger_row(capped_gateway, r.headers["x-jackstop-request-id"])
        assert total_bill(forwarded) <= row.reserved_nusd
    else:
        assert r.status >= 400 and r.headers.get("x-jackstop-error"), (r.status, r.body[:200])
        assert not [x for x in forwarded if x.usage is not None]


# -- Hole 5: Anthropic advisor tool -------------------------------------------------------------------
#
# {"type": "advisor_20260301", "name": "advisor", "model": "claude-opus-4-6"} lets the executor
# consult another, dearer model mid-request: the advisor reads the whole transcript and writes
# 1,400-1,800 tokens, billed at the advisor model's rates (docs.claude.com "Advisor tool"). The
# gateway priced the request at the executor's rates only. The mock does not run an advisor; the
# test asserts the refusal a request the gateway cannot bound must get.

def test_the_advisor_tool_is_refused_without_a_flat_reservation(capped_gateway, mock: MockProvider):  # noqa: F811
    g = capped_gateway
    key = capped_key(g, "anthropic")
    mock.requests.clear()
    r = httpx.post(g.url + "/v1/messages", timeout=30,
                   headers={**auth_headers("anthropic", key), "anthropic-beta": "advisor-tool-2026-03-01"},
                   json={"model": "claude-haiku-4-5", "max_tokens": 64,
                         "tools": [{"type": "advisor_20260301", "name": "advisor", "model": "claude-opus-4-6"}],
                         "messages": [{"role": "user", "content": "plan a migration"}]})
    assert r.status_code == 403 and r.headers["x-jackstop-error"] == "unbounded_cost", r.text
    assert "advisor" in r.json()["error"]["message"]
    assert not [x for x in mock.requests.snapshot() if x.endpoint == "anthropic.messages"]
