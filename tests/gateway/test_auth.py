"""Authentication and key state: each SDK raises its own authentication error."""

from __future__ import annotations

import anthropic
import httpx2 as httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from jackstop import keys


def _openai(gateway, key):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)


def _anthropic(gateway, key):
    return anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0)


def _gemini(gateway, key):
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gateway.url))


def call_openai(gateway, key):
    return _openai(gateway, key).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])


def call_anthropic(gateway, key):
    return _anthropic(gateway, key).messages.create(model="claude-haiku-4-5", max_tokens=5,
                                                    messages=[{"role": "user", "content": "x"}])


def call_gemini(gateway, key):
    client = _gemini(gateway, key)  # keep a reference: the SDK closes its HTTP client when collected
    return client.models.generate_content(model="gemini-2.5-flash", contents="x")


CASES = [("oai", call_openai, openai.AuthenticationError, openai.PermissionDeniedError),
         ("ant", call_anthropic, anthropic.AuthenticationError, anthropic.PermissionDeniedError),
         ("gem", call_gemini, genai_errors.ClientError, genai_errors.ClientError)]


@pytest.mark.parametrize("provider, call, auth_error, _perm", CASES, ids=["openai", "anthropic", "gemini"])
def test_unknown_key_raises_the_sdks_authentication_error(gateway, fresh_mock, provider, call, auth_error, _perm):
    never_issued = keys.generate()
    with pytest.raises(auth_error) as exc:
        call(gateway, never_issued)
    assert "unknown API key" in str(exc.value)
    assert never_issued not in str(exc.value)
    if auth_error is genai_errors.ClientError:
        assert exc.value.code == 401
    assert len(fresh_mock.requests) == 0  # refused before any provider saw it


@pytest.mark.parametrize("provider, call, auth_error, _perm", CASES, ids=["openai", "anthropic", "gemini"])
def test_revoke_in_another_process_applies_to_the_next_request(gateway, fresh_mock, provider, call, auth_error, _perm):
    key = gateway.create_key(provider)
    name = gateway.control.find_key_by_token(key).name
    call(gateway, key)  # works, and the gateway has the key cached
    out = gateway.cli("keys", "revoke", name, "--reason", "test")
    assert "revoked" in out.stdout
    with pytest.raises(auth_error) as exc:
        call(gateway, key)
    assert "revoked" in str(exc.value)
    assert len(fresh_mock.requests) == 1


@pytest.mark.parametrize("provider, call, _auth, perm_error", CASES, ids=["openai", "anthropic", "gemini"])
def test_suspend_then_resume(gateway, fresh_mock, provider, call, _auth, perm_error):
    key = gateway.create_key(provider)
    name = gateway.control.find_key_by_token(key).name
    gateway.cli("keys", "suspend", name, "--reason", "investigating")
    with pytest.raises(perm_error) as exc:
        call(gateway, key)
    assert "suspended (investigating)" in str(exc.value)
    gateway.cli("keys", "resume", name)
    call(gateway, key)


def test_revoke_through_admin_api_while_running(gateway, fresh_mock):
    key = gateway.create_key("oai")
    name = gateway.control.find_key_by_token(key).name
    call_openai(gateway, key)
    r = httpx.post(f"{gateway.url}/admin/v1/keys/{name}/revoke", json={"reason": "leaked"},
                   headers={"authorization": f"Bearer {gateway.admin_token}"})
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    with pytest.raises(openai.AuthenticationError):
        call_openai(gateway, key)


def test_admin_token_cannot_call_provider_routes(gateway, fresh_mock):
    with pytest.raises(openai.AuthenticationError) as exc:
        call_openai(gateway, gateway.admin_token)
    assert "admin token cannot call a provider route" in str(exc.value)
    assert gateway.admin_token not in str(exc.value)


def test_virtual_key_cannot_call_admin_api(gateway):
    key = gateway.create_key("oai")
    r = httpx.get(f"{gateway.url}/admin/v1/keys", headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 403 and r.headers["x-jackstop-error"] == "virtual_key_on_admin_api"
    r = httpx.get(f"{gateway.url}/admin/v1/keys")
    assert r.status_code == 401


def test_key_of_one_provider_cannot_call_another_family(gateway, fresh_mock):
    key = gateway.create_key("ant")
    with pytest.raises(openai.PermissionDeniedError) as exc:
        call_openai(gateway, key)
    assert "cannot call openai routes" in str(exc.value)


def test_shared_models_route_follows_the_keys_provider(gateway, fresh_mock):
    key = gateway.create_key("ant")
    # Bearer on GET /v1/models looks like OpenAI, but the key is Anthropic's: Anthropic's listing.
    r = httpx.get(f"{gateway.url}/v1/models", headers={"authorization": f"Bearer {key}",
                                                        "user-agent": "curl/8"})
    rec = fresh_mock.requests.snapshot()[-1]
    assert rec.family == "anthropic" and rec.credential_header == "x-api-key"
    assert rec.credential == fresh_mock.keys["anthropic"]
    # Anthropic itself requires anthropic-version; the gateway relays its answer faithfully.
    assert r.status_code == 400 and "anthropic-version" in r.text
    assert r.headers["x-jackstop-upstream-status"] == "400" and "x-jackstop-error" not in r.headers
    r = httpx.get(f"{gateway.url}/v1/models", headers={"authorization": f"Bearer {key}",
                                                        "anthropic-version": "2023-06-01"})
    assert r.status_code == 200 and all(m["type"] == "model" for m in r.json()["data"])


def test_rotated_credential_and_expiry(gateway, fresh_mock):
    import time

    key = gateway.create_key("oai", expires_at=time.time() - 1)
    with pytest.raises(openai.AuthenticationError) as exc:
        call_openai(gateway, key)
    assert "expired" in str(exc.value)
