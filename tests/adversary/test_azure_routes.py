"""A thief with a $1.00 Azure OpenAI virtual key attacks the Azure routes (issue 10).

Every attack goes through a real `jackstop serve` to the mock's Azure resource, which routes
on the decoded path as a real front end would. Each ends either refused in OpenAI's error
dialect (naming the rule) with nothing forwarded, or forwarded with the mock running exactly
the route and deployment the gateway classified and billing no more than it reserved.
"""

from __future__ import annotations

import orjson
import pytest

from jackstop.mockprovider import RecordedRequest
from jackstop.mockprovider.azure_openai_api import DEPLOYMENTS
from jackstop.pricing import Usage, cost_nusd
from tests.adversary.conftest_routes import (  # noqa: F401 - fixtures
    CAP,
    CATALOG,
    capped_gateway,
    ledger_row,
    mock,
    raw_request,
    rule_in_dialect,
)

V = "2024-10-21"
CHAT, EMBED, UNMAPPED = "gpt4o-mini-prod", "embed-small", "gpt5"
MOCK_ENDPOINT = {"chat.completions": "openai.chat", "embeddings": "openai.embeddings",
                 "completions": "openai.completions", "responses": "openai.responses"}
CHAT_BODY = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}

ATTACKS = [  # (raw target, the refusal rule)
    (f"/openai/deployments/{CHAT}/chat%2Fcompletions?api-version={V}", "path_encoding"),
    (f"/openai/deployments/{CHAT}%2Fchat/completions?api-version={V}", "path_encoding"),
    (f"/openai/deployments/{EMBED}/..%2F{UNMAPPED}/chat/completions?api-version={V}", "path_encoding"),
    (f"/openai/deployments/{EMBED}/embeddings/../../{CHAT}/chat/completions?api-version={V}", "path_encoding"),
    (f"/openai/deployments/{CHAT}/chat/completions%3Fapi-version={V}", "path_encoding"),
    (f"/openai/deployments/{CHAT}%00/chat/completions?api-version={V}", "path_encoding"),
    (f"/openai/v1/chat/completions%23", "path_encoding"),
    (f"/openai/deployments/{CHAT}/chat/completions", "query_param"),  # api-version is required
    (f"/openai/deployments/{CHAT}/chat/completions?api-version={V}&api-version=2025-04-01-preview", "query_param"),
    (f"/openai/deployments/{CHAT}/chat/completions?api-version=2024-10-21%26foo%3D1", "query_param"),
    (f"/openai/deployments/{CHAT}/chat/completions?api-version=latest", "query_param"),
    (f"/openai/deployments/{CHAT}/chat/completions?api-version={V}%0A", "query_param"),  # `$` matched before \n
    ("/openai/v1/chat/completions?api-version=latest%0A", "query_param"),
    (f"/openai/deployments/{CHAT}/chat/completions?api-version={V}&deployment-id={UNMAPPED}", "query_param"),
    (f"/openai/deployments/{CHAT}/chat/completions?api-version={V}&key=x", "query_param"),
    ("/openai/v1/chat/completions?api-version=2024-10-21", "query_param"),
    ("/openai/v1/chat/completions?foo=bar", "query_param"),
    (f"/openai/deployments/{UNMAPPED}/chat/completions?api-version={V}", "deployment_not_mapped"),
    (f"/openai/deployments/{CHAT}/audio/speech?api-version={V}", "unknown_route"),
]


@pytest.fixture(scope="module")
def azure_key(capped_gateway, mock):  # noqa: F811
    capped_gateway.add_provider("az", "azure-openai", mock.keys["azure-openai"], mock.base_url)
    capped_gateway.control.update_provider_policy(
        "az", {"deployments": {CHAT: DEPLOYMENTS[CHAT], EMBED: DEPLOYMENTS[EMBED]}}, [], "test")
    return capped_gateway.create_key("az", policy={"budgets": [{"amount": CAP, "window": "total"}]})


def _bill(rec: RecordedRequest) -> int:
    if rec.usage is None or rec.status != 200:
        return 0
    price = CATALOG.lookup("openai", rec.model or "")
    assert price is not None, f"the mock billed an unpriced model {rec.model!r}"
    u = rec.usage
    return cost_nusd(Usage(input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                           cached_input_tokens=u.cached_tokens, reasoning_tokens=u.reasoning_tokens), price)


def _send(g, key: str, target: str, body: dict, header: str = "api-key"):
    headers = {header: key if header == "api-key" else f"Bearer {key}", "x-mock-usage": "output=max"}
    return raw_request(g.port, "POST", target.encode(), headers, orjson.dumps(body))


def _forwarded(g, mock, resp, before: int):
    """The one request forwarded, checked: the mock ran what the gateway classified, billed <= reserved."""
    records = mock.requests.snapshot()[before:]
    assert resp.status == 200 and len(records) == 1, (resp.status, resp.body[:300])
    rec, row = records[0], ledger_row(g, resp.headers["x-jackstop-request-id"])
    assert rec.family == "azure-openai" and rec.endpoint == MOCK_ENDPOINT[row.endpoint]
    assert rec.model == row.model, "the provider ran another model than the gateway priced"
    assert _bill(rec) <= row.reserved_nusd
    return rec, row


@pytest.mark.parametrize("target,rule", ATTACKS, ids=[t for t, _ in ATTACKS])
def test_an_attack_on_an_azure_route_is_refused_in_openai_dialect(capped_gateway, mock, azure_key, target, rule):
    before = len(mock.requests)
    resp = _send(capped_gateway, azure_key, target, CHAT_BODY)
    assert resp.headers.get("x-jackstop-error") == rule, (resp.status, resp.body[:300])
    assert rule_in_dialect("openai", resp.body) == rule
    assert mock.requests.snapshot()[before:] == []


def test_api_version_is_forwarded_alone_and_as_parsed(capped_gateway, mock, azure_key):
    before = len(mock.requests)
    resp = _send(capped_gateway, azure_key, f"/openai/deployments/{CHAT}/chat/completions?api-version={V}",
                 CHAT_BODY)
    rec, _row = _forwarded(capped_gateway, mock, resp, before)
    assert rec.raw_path == f"/openai/deployments/{CHAT}/chat/completions?api-version={V}"


def test_the_path_deployment_prices_the_request_whatever_the_body_names(capped_gateway, mock, azure_key):
    # Azure runs the path's deployment and ignores the body's model: so does the gateway's price.
    before = len(mock.requests)
    body = {**CHAT_BODY, "model": UNMAPPED}
    resp = _send(capped_gateway, azure_key, f"/openai/deployments/{CHAT}/chat/completions?api-version={V}", body)
    _rec, row = _forwarded(capped_gateway, mock, resp, before)
    assert row.model == DEPLOYMENTS[CHAT]


def test_a_percent_encoded_letter_runs_the_route_checked(capped_gateway, mock, azure_key):
    before = len(mock.requests)
    resp = _send(capped_gateway, azure_key, f"/openai/deployments/gpt4o%2Dmini-prod/%63hat/completions?api-version={V}",
                 CHAT_BODY, header="authorization")
    rec, _row = _forwarded(capped_gateway, mock, resp, before)
    assert "%" not in rec.raw_path.split("?")[0]  # rebuilt from the parsed parts


def test_the_virtual_key_never_reaches_azure_and_the_cap_holds(capped_gateway, mock, azure_key):
    cap_nusd = 20_000_000  # $0.02: a few maximal requests
    key = capped_gateway.create_key("az", policy={"budgets": [{"amount": "0.02", "window": "total"}]})
    before = len(mock.requests)
    statuses = set()
    for _ in range(40):
        resp = _send(capped_gateway, key, f"/openai/deployments/{CHAT}/chat/completions?api-version={V}",
                     {**CHAT_BODY, "max_tokens": 16384})
        statuses.add(resp.status)
        if resp.status == 402:
            assert rule_in_dialect("openai", resp.body) == "budget_exceeded"
            break
    records = mock.requests.snapshot()[before:]
    assert 402 in statuses, "a $0.02 key was never refused"
    assert all(r.credential == mock.keys["azure-openai"] and key not in str(r.headers) for r in records)
    assert 0 < sum(_bill(r) for r in records) <= cap_nusd
