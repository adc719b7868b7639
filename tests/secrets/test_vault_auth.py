"""How the gateway authenticates to Vault (a real OpenBao dev server): AppRole login with role_id +
secret_id (no token anywhere in its environment) under a least-privilege policy, logging in again
when its token is revoked; and address, CA and token from the standard VAULT_* variables over TLS."""

from __future__ import annotations

import os
import pathlib
import secrets
import time

import openai
import pytest

from jackstop.mockprovider import MockProvider
from tests.gateway.conftest import start_gateway
from tests.secrets.harness import Bao

pytestmark = pytest.mark.slow

MSG = [{"role": "user", "content": "Say hello to the gateway."}]
POLICY = 'path "secret/data/openai" { capabilities = ["read"] }'
EXTRA_CONFIG = ""  # e.g. an approved-host line for the mock provider, if the gateway requires one


def approle(bao: Bao) -> tuple[str, str]:
    bao.client.sys.enable_auth_method("approle")
    bao.client.sys.create_or_update_policy("jackstop-read", POLICY)
    bao.client.auth.approle.create_or_update_approle("jackstop", token_policies=["jackstop-read"], token_ttl="1h")
    role_id = bao.client.auth.approle.read_role_id("jackstop")["data"]["role_id"]
    secret_id = bao.client.auth.approle.generate_secret_id("jackstop")["data"]["secret_id"]
    return role_id, secret_id


def revoke_gateway_tokens(bao: Bao) -> int:
    """Revoke every token that carries the gateway's policy (what an operator does on a breach)."""
    revoked = 0
    for accessor in bao.client.auth.token.list_accessors()["data"]["keys"]:
        info = bao.client.auth.token.lookup_accessor(accessor)["data"]
        if "jackstop-read" in (info.get("policies") or []):
            bao.client.auth.token.revoke_accessor(accessor)
            revoked += 1
    return revoked


def test_approle_login_reads_the_key_and_logs_in_again_after_revocation(
        bao: Bao, mock: MockProvider, tmp_path: pathlib.Path) -> None:
    old, new = f"approle-old-{secrets.token_hex(8)}", f"approle-new-{secrets.token_hex(8)}"
    bao.put(old)
    mock.keys["openai"] = old
    role_id, secret_id = approle(bao)
    secret_id_file = tmp_path / "secret-id"
    secret_id_file.write_text(secret_id + "\n")
    os.chmod(secret_id_file, 0o600)
    config = (f'[secrets]\ncache_ttl = 1\n[secrets.vault]\naddr = "{bao.addr}"\nauth = "approle"\n'
              f'role_id = "{role_id}"\nsecret_id_file = "{secret_id_file}"\n{EXTRA_CONFIG}')
    gw = tmp_path / "gw"
    gw.mkdir()
    g = start_gateway(gw, extra_env={"VAULT_TOKEN": "", "HOME": str(tmp_path)}, config_text=config)
    try:
        assert g.control is not None
        g.control.add_provider("oai", "openai", "vault:secret/data/openai#api_key", mock.base_url + "/v1", "test")
        client = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key("oai"), max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG, max_tokens=5)
        assert mock.requests.snapshot()[-1].credential == old

        # The token AppRole gave the gateway is revoked; the key is rotated. The gateway's next
        # fetch is refused, it logs in again with its secret_id, and reads the new key.
        assert revoke_gateway_tokens(bao) >= 1
        bao.put(new)
        mock.keys["openai"] = new
        deadline = time.monotonic() + 60
        while mock.requests.snapshot()[-1].credential != new:
            try:
                client.chat.completions.create(model="gpt-4o-mini", messages=MSG, max_tokens=5)
            except openai.AuthenticationError:
                pass  # the old key, still cached, refused by the provider
            assert time.monotonic() < deadline, g.logs()[-3000:]
            time.sleep(0.1)
        assert revoke_gateway_tokens(bao) >= 1  # it holds a fresh AppRole token
        logs = g.logs()
        for value in (old, new, secret_id, role_id):
            assert value not in logs
    finally:
        g.stop()


def test_approle_with_a_wrong_secret_id_stops_start_up_with_one_line(
        bao: Bao, mock: MockProvider, tmp_path: pathlib.Path) -> None:
    import subprocess
    import sys

    from tests.conftest import free_port

    bao.put("whatever-key-123456")
    role_id, _ = approle(bao)
    wrong = tmp_path / "secret-id"
    wrong.write_text("00000000-0000-0000-0000-000000000000")
    config = (f'[secrets.vault]\naddr = "{bao.addr}"\nauth = "approle"\nrole_id = "{role_id}"\n'
              f'secret_id_file = "{wrong}"\n{EXTRA_CONFIG}')
    gw = tmp_path / "gw"
    gw.mkdir()
    g = start_gateway(gw, extra_env={"VAULT_TOKEN": "", "HOME": str(tmp_path)}, config_text=config)
    try:
        assert g.control is not None
        g.control.add_provider("oai", "openai", "vault:secret/data/openai#api_key", mock.base_url + "/v1", "test")
    finally:
        g.stop()
    res = subprocess.run([sys.executable, "-m", "jackstop", "serve", "--port", str(free_port())], env=g.env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("jackstop: provider oai: AppRole login to Vault at ") and "secret_id" in line


def test_vault_address_ca_and_token_from_the_standard_variables(
        bao_path: str, mock: MockProvider, tmp_path: pathlib.Path) -> None:
    """No [secrets.vault] at all: VAULT_ADDR (https), VAULT_CACERT and VAULT_TOKEN configure the gateway."""
    from jackstop.config import SecretsSettings
    from jackstop.secrets import SecretError, parse_ref
    from jackstop.secrets.cache import ManagedSecrets

    bao = Bao(tmp_path, bao_path, tls=True)
    try:
        key = f"tls-key-{secrets.token_hex(8)}"
        bao.put(key)
        mock.keys["openai"] = key
        ref = "vault:secret/data/openai#api_key"
        # Without the CA the server's certificate is not trusted, and the message says what to set.
        untrusted = ManagedSecrets(SecretsSettings(), environ={"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token})
        with pytest.raises(SecretError, match="TLS verification of Vault at https://127.0.0.1:.* failed; give its CA"):
            untrusted.fetch_now(parse_ref(ref))

        gw = tmp_path / "gw"
        gw.mkdir()
        env = {"VAULT_ADDR": bao.addr, "VAULT_CACERT": str(bao.ca_path), "VAULT_TOKEN": bao.root_token,
               "HOME": str(tmp_path)}
        g = start_gateway(gw, extra_env=env, config_text=EXTRA_CONFIG)
        try:
            assert g.control is not None
            g.control.add_provider("oai", "openai", ref, mock.base_url + "/v1", "test")
            client = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key("oai"), max_retries=0)
            client.chat.completions.create(model="gpt-4o-mini", messages=MSG, max_tokens=5)
            assert mock.requests.snapshot()[-1].credential == key
            assert key not in g.logs() and bao.root_token not in g.logs()
        finally:
            g.stop()
    finally:
        bao.stop()
