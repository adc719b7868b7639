"""The official `openai` SDK's AzureOpenAI client, unchanged, through the gateway to the mock's Azure.

The client is pointed at the gateway as its azure_endpoint with a jackstop virtual key as its
api_key: the key travels in the `api-key` header, and upstream the gateway sends the real Azure
key there instead. Prices come from the provider's deployment-to-model map.
"""

from __future__ import annotations

import httpx2 as httpx
import openai
import pytest

from jackstop.mockprovider.azure_openai_api import DEPLOYMENTS
from jackstop.pricing import Catalog, cost_nusd, usage_from_openai_chat
from tests.gateway.util import key_name_of, ledger_rows

API_VERSION = "2024-10-21"
CHAT = "gpt4o-mini-prod"
EMBED = "embed-small"
MSG = [{"role": "user", "content": "Say hello to Azure through the gateway."}]


@pytest.fixture(scope="module")
def azure(gateway, mock):
    """An azure-openai provider at the mock, registered through the CLI with two deployments mapped."""
    gateway.control.set_secret("az", mock.keys["azure-openai"], "test")
    out = gateway.cli("providers", "add", "az", "--kind", "azure-openai", "--secret", "local:az",
                      "--base-url", mock.base_url, "--deployment", f"{CHAT}={DEPLOYMENTS[CHAT]}",
                      "--deployment", f"{EMBED}={DEPLOYMENTS[EMBED]}")
    assert "added provider az (azure-openai)" in out.stdout
    return "az"


@pytest.fixture
def key(gateway, azure):
    return gateway.create_key(azure)


@pytest.fixture
def client(gateway, key):
    return openai.AzureOpenAI(azure_endpoint=gateway.url, api_key=key, api_version=API_VERSION, max_retries=0)


def _sent(mock, virtual_key: str):
    rec = mock.requests.snapshot()[-1]
    assert rec.family == "azure-openai"
    assert (rec.credential_header, rec.credential) == ("api-key", mock.keys["azure-openai"])
    assert "authorization" not in rec.headers
    assert virtual_key not in str(rec.headers) and virtual_key.encode() not in rec.raw_body
    return rec


def test_chat_json_is_priced_as_the_mapped_model(gateway, fresh_mock, client, key):
    resp = client.chat.completions.create(model=CHAT, messages=MSG, max_tokens=40)
    assert resp.choices[0].message.content and resp.model == "gpt-4o-mini"
    rec = _sent(fresh_mock, key)
    assert rec.path == f"/openai/deployments/{CHAT}/chat/completions"
    assert rec.query == {"api-version": API_VERSION}
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    assert (row.status, row.endpoint, row.model, row.provider_kind) == (200, "chat.completions", "gpt-4o-mini",
                                                                         "azure-openai")
    price = Catalog.load().lookup("openai", "gpt-4o-mini")
    assert row.cost_nusd == cost_nusd(usage_from_openai_chat(resp.usage.model_dump()), price) > 0


def test_chat_stream_meters_usage_the_client_did_not_ask_for(gateway, fresh_mock, client, key):
    chunks = list(client.chat.completions.create(model=CHAT, messages=MSG, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert all(c.usage is None for c in chunks)  # the injected usage chunk is stripped
    rec = _sent(fresh_mock, key)
    assert rec.body["stream_options"] == {"include_usage": True}
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    assert row.stream and row.status == 200 and row.model == "gpt-4o-mini"
    assert row.output_tokens == rec.usage.output_tokens > 0 and row.cost_nusd > 0


def test_embeddings(gateway, fresh_mock, client, key):
    resp = client.embeddings.create(model=EMBED, input="hello")
    assert len(resp.data[0].embedding) > 0
    assert _sent(fresh_mock, key).path == f"/openai/deployments/{EMBED}/embeddings"
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    assert (row.endpoint, row.model, row.input_tokens) == ("embeddings", "text-embedding-3-small",
                                                           resp.usage.prompt_tokens)


def test_v1_route_with_the_plain_openai_client_and_bearer(gateway, fresh_mock, key):
    plain = openai.OpenAI(base_url=gateway.url + "/openai/v1", api_key=key, max_retries=0)
    resp = plain.chat.completions.create(model=CHAT, messages=MSG)
    assert resp.choices[0].message.content
    rec = _sent(fresh_mock, key)
    assert rec.path == "/openai/v1/chat/completions" and rec.query == {}
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    assert row.model == "gpt-4o-mini" and row.cost_nusd > 0


def test_an_unmapped_deployment_is_refused_naming_the_fix(gateway, fresh_mock, client):
    before = len(fresh_mock.requests)
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.chat.completions.create(model="gpt5", messages=MSG)
    assert exc.value.response.headers["x-jackstop-error"] == "deployment_not_mapped"
    assert "jackstop providers update az --deployment gpt5=MODEL" in exc.value.message
    assert len(fresh_mock.requests) == before


def test_a_budget_refusal_is_a_402_in_openai_dialect(gateway, fresh_mock, azure):
    tiny = gateway.create_key(azure, policy={"budgets": [{"amount": "0.000001", "window": "day"}]})
    client = openai.AzureOpenAI(azure_endpoint=gateway.url, api_key=tiny, api_version=API_VERSION, max_retries=0)
    before = len(fresh_mock.requests)
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model=CHAT, messages=MSG)
    assert exc.value.status_code == 402
    err = exc.value.body
    assert (err["type"], err["code"]) == ("insufficient_quota", "budget_exceeded")
    assert len(fresh_mock.requests) == before


def test_a_missing_key_is_told_where_to_put_it(gateway, fresh_mock):
    resp = httpx.post(f"{gateway.url}/openai/deployments/{CHAT}/chat/completions?api-version={API_VERSION}",
                      json={"messages": MSG})
    assert resp.status_code == 401 and resp.headers["x-jackstop-error"] == "auth_missing"
    assert "the api-key header" in resp.json()["error"]["message"]
