"""The provider boundary: every family is found by looking, and everything that lists kinds,
endpoints, hosts, routes or dialects derives from the registry, so a family is one module."""

from __future__ import annotations

import pathlib
import re
import sys
import textwrap

import pytest

import jackstop.providers as providers
from jackstop.providers.base import Family

PACKAGE = pathlib.Path(providers.__file__).resolve().parent.parent  # src/jackstop


def test_every_module_with_a_family_is_registered():
    names = {f.name for f in providers.families()}
    assert names == {"openai", "anthropic", "gemini", "azure-openai"}
    assert providers.KINDS == ("openai", "openai-compatible", "anthropic", "gemini", "azure-openai")
    assert all(isinstance(f, Family) for f in providers.families())


def test_consumers_derive_from_the_registry():
    from jackstop.cli import gateway as cli
    from jackstop.control import models, policy
    from jackstop.gateway import proxy
    from jackstop.secrets import custody

    assert list(proxy.FAMILIES) == [f.name for f in providers.families()]
    assert policy.ENDPOINTS == providers.endpoints()
    assert set(custody.OFFICIAL_HOSTS) == set(providers.KINDS)
    assert cli.KINDS is providers.KINDS
    # The admin API's POST /providers body (and so its OpenAPI document) takes exactly the registry's kinds.
    kinds_enum = models.ProviderAdd.model_json_schema()["properties"]["kind"]["enum"]
    assert kinds_enum == list(providers.KINDS)


def test_no_family_list_is_written_out_outside_the_providers_package():
    # A literal list of the families is a place a new family would have to be added by hand.
    pattern = re.compile(r'"openai",\s*"anthropic",\s*"gemini"|"anthropic":.*"gemini":|"openai-compatible"')
    # Packages with their own per-vendor tables (prices, leak patterns), and the monitor's synthetic
    # traffic, which samples three families on purpose.
    allowed = {"providers", "pricing", "mockprovider", "scan", "audit", "posture", "scenarios.py"}
    offenders = []
    scanned = 0
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in allowed or rel.name in allowed:
            continue
        scanned += 1
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{rel}:{n}: {line.strip()[:100]}")
    assert scanned > 50, "the scan found no source files"
    assert offenders == [], "\n".join(offenders)


def test_a_new_family_module_is_one_file(tmp_path, monkeypatch):
    (tmp_path / "acme_family.py").write_text(textwrap.dedent('''
        from jackstop.providers.base import Kind, Route
        from jackstop.providers.openai import OpenAIFamily

        class Acme(OpenAIFamily):
            name = "acme"
            kinds = (Kind("acme", "https://api.acme.example/v1", ("api.acme.example",), price_kind="openai"),)
            endpoints = ("acme.generate",)
            rank = 1
            credential_where = "the x-acme-key header"

            def match(self, method, path, query):
                return Route("acme", "acme.generate", "/generate") if path == "/acme/generate" else None

            def claims(self, path, headers, query):
                return b"x-acme-key" in headers

            def credential(self, headers, query):
                v = headers.get(b"x-acme-key")
                return v.decode() if v else None

            def auth_headers(self, secret):
                return [("x-acme-key", secret)]

        FAMILY = Acme()
    '''))
    monkeypatch.setattr(providers, "__path__", [*providers.__path__, str(tmp_path)])
    for fn in (providers.families, providers._by_name, providers._kinds):
        fn.cache_clear()
    try:
        assert providers.families()[0].name == "acme"  # rank 1: asked first
        assert "acme" in providers.kinds() and "acme.generate" in providers.endpoints()
        assert providers.official_hosts()["acme"] == ("api.acme.example",)
        assert providers.default_base_urls()["acme"] == "https://api.acme.example/v1"
        assert providers.price_kind("acme") == "openai"
        fam = providers.get_family(providers.family_of_kind("acme"))
        assert fam.credential({b"x-acme-key": b"jsk_x"}, "") == "jsk_x"
        assert fam.match("POST", "/acme/generate", "").endpoint == "acme.generate"
    finally:
        sys.modules.pop("jackstop.providers.acme_family", None)
        monkeypatch.undo()
        for fn in (providers.families, providers._by_name, providers._kinds):
            fn.cache_clear()
    assert "acme" not in providers.kinds()


@pytest.mark.parametrize("family", [f.name for f in providers.families()])
def test_each_family_owns_its_credential_headers(family):
    fam = providers.get_family(family)
    upstream = dict(fam.auth_headers("SECRET"))
    assert "SECRET" in "".join(upstream.values())
    # The header the family reads the virtual key from is never forwarded upstream as is.
    for name in upstream:
        assert name.encode() not in fam.forward_headers
    assert fam.credential_where


def test_azure_reads_api_key_or_bearer_and_sends_api_key():
    az = providers.get_family("azure-openai")
    assert az.credential({b"api-key": b"jsk_a"}, "") == "jsk_a"
    assert az.credential({b"authorization": b"Bearer jsk_b"}, "") == "jsk_b"
    assert az.auth_headers("azsecret") == [("api-key", "azsecret")]


def test_azure_maps_deployments_and_refuses_an_unmapped_one():
    from types import SimpleNamespace

    from jackstop.providers.base import FamilyRefusal

    az = providers.get_family("azure-openai")
    prov = SimpleNamespace(name="az", policy={"deployments": {"gpt4prod": "gpt-4o"}})
    assert az.priced_model("gpt4prod", prov) == "gpt-4o"
    with pytest.raises(FamilyRefusal) as exc:
        az.priced_model("other", prov)
    assert exc.value.rule == "deployment_not_mapped" and "--deployment other=MODEL" in exc.value.message


def test_azure_bound_uses_max_completion_tokens_on_recent_api_versions():
    from jackstop.config import LimitSettings
    from jackstop.gateway.bounds import bound_request

    az = providers.get_family("azure-openai")
    for version, param in (("2024-10-21", "max_completion_tokens"), ("2024-06-01", "max_tokens")):
        route = az.match("POST", "/openai/deployments/d/chat/completions", f"api-version={version}")
        body = {"messages": [{"role": "user", "content": "hi"}], "n": 2}
        b = bound_request(route, "azure-openai", body, 60, 1000, LimitSettings())
        assert body[param] == 1000 and b.output_tokens == 2000
