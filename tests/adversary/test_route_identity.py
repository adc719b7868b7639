"""A thief with a $1.00 virtual key crafts encoded paths so that the gateway checks one route
while the provider runs another (issue 9, item 1).

Every attack goes through a real `jackstop serve` to the mock provider, which routes on the
path the way a real HTTP server decodes it. Each ends either refused in the caller's dialect
(naming the rule) with nothing forwarded, or forwarded with the provider running exactly the
route the gateway classified and billing no more than the gateway reserved; the key's total
bill stays under its cap.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyreqwest.http import Url

from jackstop.mockprovider.routing import decode_path
from jackstop.providers.paths import PathError, split_path
from tests.adversary.conftest_routes import (  # noqa: F401 - fixtures
    CAP_NUSD,
    MOCK_ENDPOINT,
    auth_headers,
    bill_nusd,
    capped_gateway,
    capped_key,
    ledger_row,
    mock,
    raw_request,
    rule_in_dialect,
    total_bill,
)

PRO = "gemini-2.5-pro"
# What a thief sends to an endpoint the gateway does not price: ask for as much output as possible.
BODIES = {
    "openai": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    "anthropic": {"model": "claude-haiku-4-5", "max_tokens": 64000, "messages": [{"role": "user", "content": "hi"}]},
    "gemini": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
               "generationConfig": {"maxOutputTokens": 65536, "candidateCount": 4}},
}

# (family, method, raw request target): encoded reserved characters in every family and route.
ATTACKS = [
    *[("gemini", "POST", f"/{v}/models/{target}") for v in ("v1beta", "v1") for target in (
        f"{PRO}%253AgenerateContent%3F:countTokens",  # the issue's payload
        f"{PRO}%3AgenerateContent",
        f"{PRO}%253AgenerateContent",
        f"{PRO}%3agenerateContent:countTokens",
        f"{PRO}:countTokens%3F:generateContent",
        f"{PRO}:countTokens%23:generateContent",
        f"{PRO}%2F..%2F..%2F{v}%2Fmodels%2F{PRO}:countTokens",
        f"{PRO}:countTokens/..%2F{PRO}:generateContent",
        f"{PRO}:countTokens/../{PRO}:generateContent",
        f"{PRO}%00:countTokens",
        f"{PRO}%0d%0a:countTokens",
        f"{PRO}%25:countTokens",
        f"{PRO}:generateContent:countTokens",
        f"{PRO}%5c..%5c:countTokens",
        f"%2e%2e:countTokens",
    )],
    ("gemini", "GET", "/v1beta/models%3F"),
    ("gemini", "GET", "/v1beta/models%2F" + PRO + ":generateContent"),
    ("gemini", "GET", "/v1/models%23"),
    ("openai", "POST", "/v1/chat%2Fcompletions"),
    ("openai", "POST", "/v1/embeddings/..%2Fchat/completions"),
    ("openai", "POST", "/v1/embeddings/../chat/completions"),
    ("openai", "POST", "/v1/chat/completions%3F"),
    ("openai", "POST", "/v1/chat/completions%00"),
    ("openai", "POST", "/v1/chat/completions%252F"),
    ("openai", "GET", "/v1/models%2F..%2Fchat%2Fcompletions"),
    ("anthropic", "POST", "/v1/messages%2Fcount_tokens"),
    ("anthropic", "POST", "/v1/messages/count_tokens%3F"),
    ("anthropic", "POST", "/v1/messages/count_tokens/.."),
    ("anthropic", "POST", "/v1/messages/count_tokens/%2e%2e"),
    ("anthropic", "POST", "/v1/messages/count_tokens%23"),
    ("anthropic", "GET", "/v1/models%3F"),
]
# Encodings that change nothing a server routes on: forwarded, canonically, and bounded.
EQUIVALENT = [
    ("openai", "POST", "/v1/%63hat/completions"),
    ("anthropic", "POST", "/v1/%6Dessages/count_tokens"),
    ("gemini", "POST", f"/v1beta/models/{PRO}:count%54okens"),
    ("gemini", "POST", "/v1beta/models/gemini%2D2.5%2Dflash-lite:generateContent"),
]
REFUSAL_RULES = {"path_encoding", "query_param", "unknown_route"}


def _send(gateway, family: str, key: str, method: str, target: str, body: dict | None = None):
    headers = {**auth_headers(family, key), "x-mock-usage": "output=max"}
    payload = orjson.dumps(body if body is not None else BODIES[family]) if method == "POST" else b""
    return raw_request(gateway.port, method, target.encode(), headers, payload)


def _check_outcome(gateway, mock, family: str, resp, before: int, *, dialects: tuple[str, ...] = ()) -> int:
    """Refused in dialect with nothing forwarded, or forwarded as classified and billed <= reserved.
    Returns what the provider billed. `dialects`: others the refusal may be in (a `?key=` on any
    route makes the gateway answer as Gemini, whose credential that is)."""
    records = mock.requests.snapshot()[before:]
    rule = resp.headers.get("x-jackstop-error")
    if rule is not None and resp.headers.get("x-jackstop-upstream-status") is None:
        assert rule in {rule_in_dialect(d, resp.body) for d in (family, *dialects)}, resp.body
        assert records == [], f"refused ({rule}) yet forwarded: {[r.raw_path for r in records]}"
        return 0
    assert len(records) == 1, (resp.status, resp.body[:300])
    rec = records[0]
    row = ledger_row(gateway, resp.headers["x-jackstop-request-id"])
    assert rec.family == family and rec.endpoint == MOCK_ENDPOINT[(family, row.endpoint)], \
        f"gateway classified {row.endpoint}, provider ran {rec.endpoint} for {rec.raw_path}"
    assert rec.model == row.model
    billed = bill_nusd(rec)
    assert billed <= row.reserved_nusd, f"{rec.raw_path}: billed {billed} > reserved {row.reserved_nusd}"
    return billed


def test_the_issue_payload_made_the_provider_run_generate_content_on_the_old_path(mock):
    """Why this matters: the pre-fix gateway matched the decoded path, saw countTokens (unpriced),
    and forwarded that decoded path; the provider decoded it again and ran generateContent."""
    raw = f"/v1beta/models/{PRO}%253AgenerateContent%3F:countTokens"
    old_path = unquote(raw)  # uvicorn's scope["path"], which the old gateway matched and forwarded
    old_match = re.match(r"^/(v1|v1beta)/models/([^/:]+):([A-Za-z]+)$", old_path)
    assert old_match is not None and old_match.group(3) == "countTokens"  # not priced, not reserved
    forwarded = Url(mock.base_url + old_path)  # the upstream client's reading of that URL
    target = forwarded.path + ("?" + forwarded.query_string if forwarded.query_string else "")
    before = len(mock.requests)
    resp = raw_request(mock.port, "POST", target.encode(),
                       {"x-goog-api-key": mock.keys["gemini"], "x-mock-usage": "output=max"},
                       orjson.dumps(BODIES["gemini"]))
    assert resp.status == 200
    rec = mock.requests.snapshot()[before]
    assert (rec.endpoint, rec.model) == ("gemini.generate", PRO)
    assert bill_nusd(rec) > CAP_NUSD  # one request, several times a $1.00 cap
    # A front end that decodes twice runs generateContent from a raw %253A as well.
    assert decode_path(f"/v1beta/models/{PRO}%253AgenerateContent") == f"/v1beta/models/{PRO}:generateContent"
    # The gateway now reads the raw path, and refuses it.
    with pytest.raises(PathError):
        split_path(raw.encode())


@pytest.mark.parametrize("family,method,target", ATTACKS, ids=[f"{m} {t}" for _f, m, t in ATTACKS])
def test_an_encoded_route_is_refused_in_the_callers_dialect(capped_gateway, mock, family, method, target):
    key = capped_key(capped_gateway, family)
    before = len(mock.requests)
    resp = _send(capped_gateway, family, key, method, target)
    assert resp.status in (400, 404), (resp.status, resp.body[:300])
    assert resp.headers["x-jackstop-error"] in REFUSAL_RULES
    _check_outcome(capped_gateway, mock, family, resp, before)
    if resp.status == 400:
        assert resp.headers["x-jackstop-error"] in ("path_encoding", "query_param")


@pytest.mark.parametrize("family,method,target", EQUIVALENT, ids=[f"{m} {t}" for _f, m, t in EQUIVALENT])
def test_an_equivalent_encoding_runs_the_route_the_gateway_checked(capped_gateway, mock, family, method, target):
    key = capped_key(capped_gateway, family)
    before = len(mock.requests)
    resp = _send(capped_gateway, family, key, method, target)
    assert resp.status == 200, resp.body[:300]
    _check_outcome(capped_gateway, mock, family, resp, before)
    forwarded = mock.requests.snapshot()[before]
    assert "%" not in forwarded.raw_path  # rebuilt from the parsed parts


def test_every_attack_together_bills_a_capped_key_at_most_its_cap(capped_gateway, mock):
    keys = {f: capped_key(capped_gateway, f) for f in ("openai", "anthropic", "gemini")}
    before = len(mock.requests)
    billed = 0
    for _ in range(3):
        for family, method, target in ATTACKS + EQUIVALENT:
            sent_before = len(mock.requests)
            resp = _send(capped_gateway, family, keys[family], method, target)
            billed += _check_outcome(capped_gateway, mock, family, resp, sent_before)
    assert billed == total_bill(mock.requests.snapshot()[before:])
    assert billed <= CAP_NUSD


# -- end to end property: random encodings through the real gateway ----------------------------------

_SNIPPETS = [":", "/", "?", "#", "%", "%3A", "%3a", "%2F", "%3F", "%23", "%25", "%253A", "%252F", "%00", "%0A",
             ".", "..", "%2e", "%2E%2E", "\\", "%5C", ";", "@", "+", "~", "countTokens", ":generateContent",
             ":streamGenerateContent", "count_tokens", "/.."]
_E2E_TEMPLATES = {
    "openai": [("POST", ["v1", "chat", "completions"]), ("GET", ["v1", "models"])],
    "anthropic": [("POST", ["v1", "messages", "count_tokens"]), ("POST", ["v1", "messages"]), ("GET", ["v1", "models"])],
    "gemini": [("POST", [v, "models", f"gemini-2.5-flash-lite:{a}"]) for v in ("v1", "v1beta")
               for a in ("countTokens", "generateContent")] + [("GET", ["v1beta", "models"])],
}
_E2E_BODIES = {
    "openai": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 32},
    "anthropic": {"model": "claude-haiku-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]},
    "gemini": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 32}},
}


def _encode_char(c: str, how: int) -> str:
    if how == 1:
        return f"%{ord(c):02X}"
    if how == 2:
        return f"%25{ord(c):02X}"
    return c


@st.composite
def mutated_target(draw, family: str) -> tuple[str, str]:
    method, segments = draw(st.sampled_from(_E2E_TEMPLATES[family]))
    out = []
    for seg in segments:
        chars = [_encode_char(c, draw(st.sampled_from([0, 0, 0, 0, 1, 2]))) for c in seg]
        for _ in range(draw(st.integers(0, 2))):
            chars.insert(draw(st.integers(0, len(chars))), draw(st.sampled_from(_SNIPPETS)))
        out.append("".join(chars))
    query = draw(st.sampled_from(["", "?alt=sse", "?beta=true", "?key=x", "?%61lt=sse", "?alt=sse&alt=json"]))
    return method, "/" + "/".join(out) + query


@pytest.mark.parametrize("family", ["openai", "anthropic", "gemini"])
def test_random_encodings_end_to_end_forward_only_the_classified_route(capped_gateway, mock, family):
    key = capped_key(capped_gateway, family)
    start = len(mock.requests)
    outcomes: list[str] = []

    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(case=mutated_target(family))
    def run(case: tuple[str, str]) -> None:
        method, target = case
        before = len(mock.requests)
        try:
            resp = _send(capped_gateway, family, key, method, target, _E2E_BODIES[family] if method == "POST" else None)
        except (ConnectionError, OSError) as exc:  # the HTTP parser refused the request line itself
            assert len(mock.requests) == before, exc
            outcomes.append("parser")
            return
        if resp.status == 400 and resp.headers.get("x-jackstop-error") is None:
            assert len(mock.requests) == before  # uvicorn's own 400 for a malformed request line
            outcomes.append("parser")
            return
        _check_outcome(capped_gateway, mock, family, resp, before, dialects=("openai", "anthropic", "gemini"))
        outcomes.append(resp.headers.get("x-jackstop-error") or "forwarded")

    run()
    assert "forwarded" in outcomes and "path_encoding" in outcomes, outcomes
    assert total_bill(mock.requests.snapshot()[start:]) <= CAP_NUSD


def test_a_batch_embedding_naming_another_model_than_its_path_is_refused(capped_gateway, mock):
    key = capped_key(capped_gateway, "gemini")
    before = len(mock.requests)
    body = {"requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}},
                         {"model": f"models/{PRO}", "content": {"parts": [{"text": "b"}]}}]}
    resp = _send(capped_gateway, "gemini", key, "POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents",
                 body)
    assert resp.status == 400 and resp.headers["x-jackstop-error"] == "model_mismatch"
    assert rule_in_dialect("gemini", resp.body) == "model_mismatch"
    assert len(mock.requests) == before
    body["requests"][1]["model"] = "models/gemini-embedding-001"
    resp = _send(capped_gateway, "gemini", key, "POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents",
                 body)
    assert resp.status == 200, resp.body
    _check_outcome(capped_gateway, mock, "gemini", resp, before)
