"""The admin API: same operations as the CLI, JSON, admin tokens only, an OpenAPI document."""

from __future__ import annotations

import httpx2 as httpx
import jsonschema
import openai
import pytest


@pytest.fixture
def admin(gateway):
    return httpx.Client(base_url=gateway.url + "/admin/v1",
                        headers={"authorization": f"Bearer {gateway.admin_token}"}, timeout=30)


def test_key_lifecycle_over_the_api(gateway, fresh_mock, admin):
    r = admin.post("/keys", json={"name": "api-made", "provider": "oai", "project": "web"})
    assert r.status_code == 201, r.text
    token = r.json()["key"]
    assert token.startswith("jsk_") and r.json()["record"]["project"] == "web"
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0)
    client.models.list()
    shown = admin.get("/keys/api-made").json()
    assert shown["status"] == "active" and token not in str(shown)
    assert shown["credentials"][0]["display"] == token[:12] + "…"
    assert admin.post("/keys/api-made/suspend", json={"reason": "check"}).json()["status"] == "suspended"
    with pytest.raises(openai.PermissionDeniedError):
        client.models.list()
    assert admin.post("/keys/api-made/resume", json={}).json()["status"] == "active"
    client.models.list()
    assert token not in admin.get("/keys").text
    r = admin.post("/keys/revoke-leaked", json={"key": token, "reason": "found in a public repo"})
    assert r.json() == {"name": "api-made", "status": "revoked"}
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    assert admin.post("/keys/api-made/resume", json={}).status_code == 409  # revoked is final
    actions = [e["action"] for e in admin.get("/audit-log").json()["entries"] if e["target"] == "api-made"]
    assert actions == ["key.create", "key.suspend", "key.resume", "key.revoke"]


def test_providers_and_secrets_never_return_a_secret(gateway, fresh_mock, admin):
    assert admin.put("/secrets/extra", json={"value": "sk-extra-secret-value-1234567890"}).json() == {"ref": "local:extra"}
    r = admin.post("/providers", json={"name": "extra", "kind": "openai-compatible", "secret": "local:extra",
                                       "base_url": fresh_mock.base_url + "/v1"})
    assert r.status_code == 201, r.text
    listing = admin.get("/providers").text + admin.get("/secrets").text
    assert "sk-extra-secret-value-1234567890" not in listing and "7890" in listing
    assert admin.post("/providers/extra/rotate", json={"secret": "local:nope"}).status_code == 400
    assert admin.delete("/providers/extra").status_code == 200


def test_bad_requests_name_the_problem(gateway, admin):
    r = admin.post("/keys", json={"name": "x"})
    assert r.status_code == 400 and "missing field 'provider'" in r.json()["error"]["message"]
    r = admin.post("/keys", json={"name": "x", "provider": "oai", "colour": "red"})
    assert "unknown field 'colour'" in r.json()["error"]["message"]
    r = admin.post("/keys", json={"name": "y", "provider": "nope"})
    assert r.status_code == 404 and "no provider named 'nope'" in r.json()["error"]["message"]
    assert admin.get("/nothing-here").status_code == 404


def test_openapi_document_is_valid_and_covers_every_route(gateway, admin):
    doc = httpx.get(gateway.url + "/admin/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {"/admin/v1/keys", "/admin/v1/keys/{name}/revoke", "/admin/v1/providers", "/admin/v1/usage"} <= set(doc["paths"])
    for path, ops in doc["paths"].items():
        for op in ops.values():
            body = op.get("requestBody")
            if body:
                jsonschema.Draft202012Validator.check_schema(body["content"]["application/json"]["schema"])
