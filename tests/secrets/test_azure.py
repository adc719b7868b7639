"""Azure Key Vault details, against the loopback fake (tests/secrets/azure_fake.py; not a real Key
Vault): the credential chain's failure is one clear start-up line, the SDK's challenge check stays
on (no token goes to a vault whose challenge names another resource), and versions are honoured."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator

import openai
import pytest

from jackstop.config import SecretsSettings
from jackstop.mockprovider import MockProvider
from jackstop.secrets import SecretError, parse_ref
from jackstop.secrets.cache import ManagedSecrets
from tests.conftest import free_port
from tests.gateway.conftest import start_gateway
from tests.secrets.azure_fake import FakeAzure

pytestmark = pytest.mark.slow
EXTRA_CONFIG = ""  # e.g. an approved-host line for the mock provider, if the gateway requires one


@pytest.fixture
def fake(tmp_path: pathlib.Path) -> Iterator[FakeAzure]:
    f = FakeAzure(tmp_path).start()
    try:
        yield f
    finally:
        f.close()


@pytest.fixture
def azure_env(fake: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK in this process reaches the fake the standard way (proxy, CA bundle, AZURE_*)."""
    for name, value in fake.gateway_env().items():
        monkeypatch.setenv(name, value)


def test_a_wrong_client_secret_stops_start_up_with_the_entra_error(
        fake: FakeAzure, mock: MockProvider, tmp_path: pathlib.Path) -> None:
    fake.set_secret("openai", "azure-key-0001")
    mock.keys["openai"] = "azure-key-0001"
    gw = tmp_path / "gw"
    gw.mkdir()
    g = start_gateway(gw, extra_env=fake.gateway_env(), config_text=EXTRA_CONFIG)
    try:
        assert g.control is not None
        g.control.add_provider("oai", "openai", "azure-kv:" + fake.secret_url("openai"), mock.base_url + "/v1", "t")
        client = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key("oai"), max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                       max_tokens=5)
        assert mock.requests.snapshot()[-1].credential == "azure-key-0001"
    finally:
        g.stop()
    env = {**g.env, "AZURE_CLIENT_SECRET": "not-the-client-secret"}
    res = subprocess.run([sys.executable, "-m", "jackstop", "serve", "--port", str(free_port())], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("jackstop: provider oai: azure-kv:https://jackstop-test.vault.azure.net/secrets/openai: "
                           "Azure authentication failed (")
    assert "AADSTS7000215: Invalid client secret provided." in line
    assert "not-the-client-secret" not in res.stderr + res.stdout


def test_the_sdk_sends_no_token_to_a_vault_whose_challenge_names_another_resource(
        fake: FakeAzure, azure_env: None) -> None:
    fake.set_secret("openai", "azure-key-0001")
    fake.challenge_resource = "https://vault.example.com"
    with pytest.raises(SecretError, match="challenge resource 'vault.example.com' does not match"):
        ManagedSecrets(SecretsSettings()).fetch_now(parse_ref("azure-kv:" + fake.secret_url("openai")))
    assert fake.tokens_issued == 0 and not any(method == "POST" for method, _, _ in fake.calls)


def test_latest_or_pinned_version(fake: FakeAzure, azure_env: None) -> None:
    first = fake.set_secret("openai", "azure-key-v1")
    fake.set_secret("openai", "azure-key-v2")
    managed = ManagedSecrets(SecretsSettings())
    assert managed.fetch_now(parse_ref("azure-kv:" + fake.secret_url("openai"))) == "azure-key-v2"
    assert managed.fetch_now(parse_ref(f"azure-kv:{fake.secret_url('openai')}/{first}")) == "azure-key-v1"
    with pytest.raises(SecretError, match="no such secret"):
        managed.fetch_now(parse_ref("azure-kv:" + fake.secret_url("missing")))
    assert fake.tokens_issued == 1  # one token, cached by the SDK for all three reads
