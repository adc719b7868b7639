"""SecretRef syntax for the managers, the extra each needs, the cache's TTL/grace rules (on a
controlled clock, so no test waits on time), and exact-value redaction of fetched secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading

import pytest

from jackstop.config import SecretsSettings
from jackstop.gateway.logs import JsonFormatter
from jackstop.secrets import SecretError, SecretRef, parse_ref
from jackstop.secrets.cache import ManagedSecrets, SecretUnavailable
from jackstop.secrets.managers import Manager, require_extra
from tests.secrets.harness import Bao, Moto

GOOD = [
    "vault:secret/data/openai#api_key",
    "vault:kv/team-a/data/llm/openai",
    "aws-sm:prod/openai#api_key",
    "aws-sm:prod/openai",
    "aws-sm:arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/openai-AbCdEf#api_key",
    "azure-kv:https://myvault.vault.azure.net/secrets/openai",
    "azure-kv:https://myvault.vault.azure.net/secrets/openai/0123456789abcdef0123456789abcdef",
]
BAD = [
    ("vault:secret/openai#api_key", "KV v2"),
    ("vault:secret/data/../sys/x#a", "KV v2"),
    ("vault:secret/data/openai#api key", "field after #"),
    ("aws-sm:prod openai", "secret name or ARN"),
    ("azure-kv:http://myvault.vault.azure.net/secrets/openai", "Key Vault secret URL"),
    ("azure-kv:https://myvault.vault.azure.net/keys/openai", "Key Vault secret URL"),
    ("azure-kv:https://user:pw@myvault.vault.azure.net/secrets/openai", "Key Vault secret URL"),
    ("gcp-sm:projects/p/secrets/s", "vault:MOUNT/data/PATH#FIELD"),
]


@pytest.mark.parametrize("text", GOOD)
def test_manager_refs_parse(text: str) -> None:
    ref = parse_ref(text)
    assert str(ref) == text


@pytest.mark.parametrize("text,hint", BAD)
def test_bad_manager_refs_say_what_a_good_one_looks_like(text: str, hint: str) -> None:
    with pytest.raises(SecretError) as exc:
        parse_ref(text)
    assert hint in str(exc.value)


@pytest.mark.parametrize("ref,module,extra", [
    ("vault:secret/data/openai#api_key", "hvac", "vault"),
    ("aws-sm:prod/openai#api_key", "boto3", "aws"),
    ("azure-kv:https://myvault.vault.azure.net/secrets/openai", "azure.keyvault.secrets", "azure"),
])
def test_a_ref_whose_extra_is_missing_names_the_extra(ref: str, module: str, extra: str, tmp_path) -> None:
    """`jackstop providers add` in a Python where the SDK cannot be imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
    env["JACKSTOP_HOME"] = str(tmp_path / "home")
    subprocess.run([sys.executable, "-m", "jackstop", "init"], env=env, check=True, capture_output=True, timeout=60)
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            f"from jackstop.cli import main\n"
            f"sys.exit(main(['providers', 'add', 'oai', '--kind', 'openai', '--secret', {ref!r}]))")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip() == (f"jackstop: {ref.split(':')[0]}: refs need the {extra} extra, which is not "
                                  f"installed; run: pip install 'jackstop[{extra}]'")


def test_start_up_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hvac", None)
    with pytest.raises(SecretError, match=r"pip install 'jackstop\[vault\]'"):
        require_extra("vault")
    with pytest.raises(SecretError, match=r"pip install 'jackstop\[vault\]'"):
        ManagedSecrets(SecretsSettings()).fetch_now(parse_ref("vault:secret/data/openai#api_key"))


# -- the cache ---------------------------------------------------------------------------------

class FakeManager(Manager):
    """A manager whose value, failures and speed the test controls."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.down = False
        self.calls = 0
        self.gate: threading.Event | None = None

    def fetch(self, ref: SecretRef) -> str:
        self.calls += 1
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.down:
            raise SecretError("Vault at https://vault.internal:8200 is unreachable (ConnectionError)")
        return self.value

    def credentials(self) -> tuple[str, ...]:
        return ("hvs.fake-manager-token-0001",)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


REF = parse_ref("vault:secret/data/openai#api_key")


def cache(manager: Manager, clock: Clock, ttl: float = 60, grace: float = 300) -> ManagedSecrets:
    managed = ManagedSecrets(SecretsSettings(cache_ttl=ttl, outage_grace=grace), clock=clock)
    managed._managers["vault"] = manager  # the backend under the cache, as open_manager would give it
    return managed


def test_a_fetched_value_is_reused_for_the_ttl_then_fetched_again() -> None:
    async def run() -> None:
        clock, manager = Clock(), FakeManager("key-one-aaaaaaaa")
        managed = cache(manager, clock)
        assert await managed.get(REF) == "key-one-aaaaaaaa"
        manager.value = "key-two-bbbbbbbb"
        clock.now += 59
        assert await managed.get(REF) == "key-one-aaaaaaaa" and manager.calls == 1
        clock.now += 1  # TTL reached: the next request fetches, and uses the rotated key
        assert await managed.get(REF) == "key-two-bbbbbbbb" and manager.calls == 2

    asyncio.run(run())


def test_an_outage_uses_the_cached_value_until_ttl_plus_grace_then_refuses() -> None:
    async def run() -> None:
        clock, manager = Clock(), FakeManager("key-one-aaaaaaaa")
        managed = cache(manager, clock, ttl=60, grace=300)
        await managed.get(REF)
        manager.down = True
        clock.now += 61
        assert await managed.get(REF) == "key-one-aaaaaaaa"  # manager down, within grace
        calls = manager.calls
        clock.now += 1
        assert await managed.get(REF) == "key-one-aaaaaaaa"
        assert manager.calls == calls  # a failed fetch is not retried on every request
        clock.now = 1000 + 360  # TTL + grace since the last good fetch
        with pytest.raises(SecretUnavailable) as exc:
            await managed.get(REF)
        assert "secrets.cache_ttl 60 s + secrets.outage_grace 300 s" in str(exc.value)
        assert "unreachable" in str(exc.value) and "key-one" not in str(exc.value)
        manager.down = False  # the manager is back: the next try after the retry interval recovers
        clock.now += 5
        assert await managed.get(REF) == "key-one-aaaaaaaa"

    asyncio.run(run())


def test_never_fetched_and_unreachable_is_unavailable_at_once() -> None:
    async def run() -> None:
        manager = FakeManager("x")
        manager.down = True
        with pytest.raises(SecretUnavailable, match="could not be fetched: Vault at"):
            await cache(manager, Clock()).get(REF)

    asyncio.run(run())


def test_an_sdk_surprise_degrades_like_an_outage() -> None:
    class Broken(FakeManager):
        def fetch(self, ref: SecretRef) -> str:
            raise RuntimeError("something inside the SDK")

    async def run() -> None:
        with pytest.raises(SecretUnavailable, match="RuntimeError"):
            await cache(Broken("x"), Clock()).get(REF)

    asyncio.run(run())


def test_one_refresh_per_ref_runs_in_a_thread_while_the_loop_keeps_serving() -> None:
    async def run() -> None:
        clock, manager = Clock(), FakeManager("key-one-aaaaaaaa")
        manager.gate = threading.Event()
        managed = cache(manager, clock)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while not manager.gate.is_set():
                ticks += 1
                await asyncio.sleep(0)

        async def release_when_busy() -> None:
            while ticks < 100:  # the loop ran other work while the fetch was blocked
                await asyncio.sleep(0)
            manager.gate.set()

        results = await asyncio.gather(*(managed.get(REF) for _ in range(20)), ticker(), release_when_busy())
        assert results[:20] == ["key-one-aaaaaaaa"] * 20
        assert manager.calls == 1

        # Stale, while one refresh is slow: the request that started it waits for it (here as long
        # as it takes), the others are served the cached value at once.
        managed.refresh_wait = 60
        manager.gate = threading.Event()
        manager.value = "key-two-bbbbbbbb"
        clock.now += 61
        first = asyncio.ensure_future(managed.get(REF))
        await asyncio.sleep(0)  # let it start the refresh
        others = await asyncio.gather(*(managed.get(REF) for _ in range(10)))
        assert others == ["key-one-aaaaaaaa"] * 10
        assert not first.done()
        manager.gate.set()
        assert await first == "key-two-bbbbbbbb"
        assert await managed.get(REF) == "key-two-bbbbbbbb"
        assert manager.calls == 2

    asyncio.run(run())


def test_fetched_values_and_manager_tokens_are_masked_in_logs() -> None:
    value = "plain-provider-key-7f3a9c"  # looks like no known key format
    managed = cache(FakeManager(value), Clock())
    assert managed.fetch_now(REF) == value
    record = logging.LogRecord("jackstop.gateway", logging.INFO, "x", 1,
                               f"upstream said {value} with hvs.fake-manager-token-0001", (), None)
    line = JsonFormatter().format(record)
    assert value not in line and "hvs.fake-manager-token-0001" not in line
    assert json.loads(line)["msg"].startswith("upstream said plai…")


# -- backend details against the real servers ----------------------------------------------------

def test_aws_plain_string_and_json_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    moto = Moto()
    try:
        settings = SecretsSettings.model_validate({"aws": {"region": "eu-west-1", "endpoint_url": moto.endpoint}})
        for name, value in moto.env.items():  # the standard credential chain, from the environment
            monkeypatch.setenv(name, value)
        managed = ManagedSecrets(settings)
        moto.put("plain-string-key-0001", name=f"{moto.secret_name}-plain", plain=True)
        assert managed.fetch_now(parse_ref(f"aws-sm:{moto.secret_name}-plain")) == "plain-string-key-0001"
        moto.put("json-key-0001")
        assert managed.fetch_now(parse_ref(moto.ref)) == "json-key-0001"
        with pytest.raises(SecretError, match="holds a JSON object; name the key after #"):
            managed.fetch_now(parse_ref(f"aws-sm:{moto.secret_name}"))
        with pytest.raises(SecretError, match="no such secret"):
            managed.fetch_now(parse_ref("aws-sm:prod/not-there#api_key"))
    finally:
        moto.stop()


def test_vault_field_choice_and_errors(bao: Bao) -> None:
    bao.put("vault-key-0001")
    settings = SecretsSettings.model_validate({"vault": {"addr": bao.addr}})
    managed = ManagedSecrets(settings, environ={"VAULT_TOKEN": bao.root_token})
    assert managed.fetch_now(parse_ref("vault:secret/data/openai#api_key")) == "vault-key-0001"
    with pytest.raises(SecretError, match="holds 2 fields; name one after #"):
        managed.fetch_now(parse_ref("vault:secret/data/openai"))
    with pytest.raises(SecretError, match="field 'nope' is missing"):
        managed.fetch_now(parse_ref("vault:secret/data/openai#nope"))
    denied = ManagedSecrets(settings, environ={"VAULT_TOKEN": "not-a-token"})
    with pytest.raises(SecretError, match="refused the token"):
        denied.fetch_now(parse_ref("vault:secret/data/openai#api_key"))
    no_addr = ManagedSecrets(SecretsSettings(), environ={})
    with pytest.raises(SecretError, match=r"set \[secrets.vault\] addr or VAULT_ADDR"):
        no_addr.fetch_now(parse_ref("vault:secret/data/openai#api_key"))
