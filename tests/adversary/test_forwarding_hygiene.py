"""What a client sends besides its request must not reach the provider (issue 9, item 8):
headers that choose whose account pays (OpenAI-Organization / OpenAI-Project, Google's
x-goog-user-project), headers that change what the provider runs or reports, and any jackstop
credential (jsk_, jst_, jsa_) in any header or query parameter.
"""

from __future__ import annotations

import re

import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from jackstop import keys
from tests.adversary.conftest_routes import (  # noqa: F401 - fixtures
    auth_headers,
    capped_gateway,
    capped_key,
    gemini_body,
    mock,
    raw_request,
    rule_in_dialect,
)

_JACKSTOP_TOKEN = re.compile(r"js[kta]_")
# Client headers that pick billing, change the method or hide usage, or carry a credential.
_UNWANTED = {
    "openai-organization": "org-thief", "openai-project": "proj_thief", "x-goog-user-project": "thief-project",
    "x-goog-fieldmask": "candidates", "x-http-method-override": "GET", "cookie": "session=thief",
    "api-key": "sk-thief", "proxy-authorization": "Basic dGhpZWY=", "x-forwarded-for": "203.0.113.9",
    "forwarded": "for=203.0.113.9", "x-jackstop-debug": "1", "x-goog-api-client": "genai-sdk/1.0",
}
ROUTES = {
    "openai": ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
    "anthropic": ("/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 16,
                                   "messages": [{"role": "user", "content": "hi"}]}),
    "gemini": ("/v1beta/models/gemini-2.5-flash-lite:generateContent", gemini_body()),
}
_FAMILY_HEADERS = {"openai": {"openai-beta"}, "anthropic": {"anthropic-version", "anthropic-beta"},
                   "gemini": {"x-goog-api-client"}}


def _leaks(record, *needles: str) -> list[str]:
    """Every place in a forwarded request (target, headers, query) holding one of `needles`
    or any jackstop token."""
    places = {"target": record.raw_path, **{f"header {k}": v for k, v in record.headers.items()},
              **{f"query {k}": v for k, v in record.query.items()}}
    return [where for where, text in places.items()
            if _JACKSTOP_TOKEN.search(text) or any(n in text for n in needles)]


@pytest.mark.parametrize("family", ["openai", "anthropic", "gemini"])
def test_billing_and_credential_headers_are_not_forwarded(capped_gateway, mock, family):
    key = capped_key(capped_gateway, family)
    path, body = ROUTES[family]
    before = len(mock.requests)
    headers = {**auth_headers(family, key), **_UNWANTED}
    resp = raw_request(capped_gateway.port, "POST", path.encode(), headers, orjson.dumps(body))
    assert resp.status == 200, resp.body
    rec = mock.requests.snapshot()[before]
    forwarded = set(rec.headers)
    allowed_here = _FAMILY_HEADERS[family]
    assert not (set(_UNWANTED) - allowed_here) & forwarded, sorted(forwarded)
    assert _leaks(rec, "thief", "203.0.113.9") == []
    assert rec.credential_ok  # the provider's own key, sent by the gateway


@pytest.mark.parametrize("family", ["openai", "anthropic", "gemini"])
def test_a_jackstop_key_in_the_query_never_leaves_the_gateway(capped_gateway, mock, family):
    key = capped_key(capped_gateway, family)
    other = keys.generate(keys.CLIENT_TOKEN)
    path, body = ROUTES[family]
    before = len(mock.requests)
    target = f"{path}?key={key}&token={other}&api_key={key}&beta=true"
    # On the Gemini route the query key is the credential itself; elsewhere it rides along.
    headers = {} if family == "gemini" else auth_headers(family, key)
    if family == "anthropic":
        headers["anthropic-version"] = "2023-06-01"
    resp = raw_request(capped_gateway.port, "POST", target.encode(), headers, orjson.dumps(body))
    assert resp.status == 200, resp.body
    rec = mock.requests.snapshot()[before]
    assert _leaks(rec, key, other) == []
    assert "key" not in rec.query


@pytest.mark.parametrize("family,header", [("openai", "openai-beta"), ("anthropic", "anthropic-beta"),
                                           ("gemini", "x-goog-api-client"), ("openai", "user-agent")])
def test_a_jackstop_token_in_a_forwarded_header_is_refused_in_dialect(capped_gateway, mock, family, header):
    key = capped_key(capped_gateway, family)
    path, body = ROUTES[family]
    before = len(mock.requests)
    resp = raw_request(capped_gateway.port, "POST", path.encode(),
                       {**auth_headers(family, key), header: f"x {keys.generate(keys.ADMIN_TOKEN)}"},
                       orjson.dumps(body))
    assert resp.status == 400
    assert resp.headers["x-jackstop-error"] == "credential_in_header"
    assert rule_in_dialect(family, resp.body) == "credential_in_header"
    assert len(mock.requests) == before


def test_a_jackstop_token_in_a_forwarded_query_parameter_is_refused(capped_gateway, mock):
    key = capped_key(capped_gateway, "gemini")
    before = len(mock.requests)
    resp = raw_request(capped_gateway.port, "GET", f"/v1beta/models?pageToken={key}".encode(),
                       {"x-goog-api-key": key})
    assert resp.status == 400 and resp.headers["x-jackstop-error"] == "credential_in_query"
    assert rule_in_dialect("gemini", resp.body) == "credential_in_query"
    assert len(mock.requests) == before


def test_a_jackstop_token_in_the_path_is_refused(capped_gateway, mock):
    key = capped_key(capped_gateway, "gemini")
    before = len(mock.requests)
    resp = raw_request(capped_gateway.port, "POST", f"/v1beta/models/{key}:generateContent".encode(),
                       {"x-goog-api-key": key}, orjson.dumps(gemini_body()))
    assert resp.status == 400 and resp.headers["x-jackstop-error"] == "credential_in_path"
    assert rule_in_dialect("gemini", resp.body) == "credential_in_path"
    assert len(mock.requests) == before


def test_official_sdks_with_organization_and_project_set_reach_the_provider_without_them(capped_gateway, mock):
    before = len(mock.requests)
    oai = openai.OpenAI(base_url=capped_gateway.url + "/v1", api_key=capped_key(capped_gateway, "openai"),
                        organization="org-thief", project="proj_thief", max_retries=0)
    oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=8)
    ant = anthropic.Anthropic(base_url=capped_gateway.url, api_key=capped_key(capped_gateway, "anthropic"),
                              max_retries=0, default_headers={"x-goog-user-project": "thief-project"})
    ant.beta.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}],
                             betas=["token-efficient-tools-2025-02-19"])
    gem = genai.Client(api_key=capped_key(capped_gateway, "gemini"), http_options=gtypes.HttpOptions(
        base_url=capped_gateway.url, headers={"x-goog-user-project": "thief-project"}))
    gem.models.generate_content(model="gemini-2.5-flash-lite", contents="hi")
    records = mock.requests.snapshot()[before:]
    assert [r.family for r in records] == ["openai", "anthropic", "gemini"]
    for rec in records:
        assert _leaks(rec, "thief") == [], rec.headers
    # What the SDKs need still arrives: the beta flag, the version header, the SDK telemetry.
    assert records[1].headers.get("anthropic-beta") == "token-efficient-tools-2025-02-19"
    assert "x-goog-api-client" in records[2].headers


@pytest.mark.parametrize("name", ["authorization", "openai-organization", "openai-project", "x-goog-user-project",
                                  "x-api-key", "cookie", "X-Title"])
def test_an_operator_cannot_forward_credential_or_billing_headers(tmp_path, name):
    from jackstop import config

    cfg = tmp_path / "jackstop.toml"
    cfg.write_text(f'[server]\nforward_headers = ["{name}"]\n')
    with pytest.raises(config.ConfigError, match="server.forward_headers"):
        config.load(cfg, environ={})
    assert config.load(environ={"JACKSTOP_FORWARD_HEADERS": "http-referer, x-title"}).server.forward_headers == (
        "http-referer", "x-title")
