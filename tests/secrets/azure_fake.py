"""A loopback stand-in for Azure Key Vault and Microsoft Entra ID, as the Azure SDK talks to them.

There is no local Key Vault server, so this speaks the part of the Key Vault secrets REST API
(https://learn.microsoft.com/rest/api/keyvault/secrets/get-secret) that jackstop uses, and the
part of Entra ID that azure-identity's client-secret credential uses:

- `GET /secrets/{name}[/{version}]?api-version=...` on https://{vault}.vault.azure.net. A request
  without a bearer token gets 401 with the challenge Key Vault sends
  (`WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/{tenant}",
  resource="https://vault.azure.net"`); the SDK then fetches a token and retries.
- `GET /{tenant}/v2.0/.well-known/openid-configuration`, `POST /{tenant}/oauth2/v2.0/token`
  (client credentials) and `GET /common/discovery/instance` on https://login.microsoftonline.com.

The gateway reaches both real host names through an HTTP CONNECT proxy on loopback (the standard
HTTPS_PROXY variable), which tunnels only these hosts to this server; TLS uses a test CA that the
SDK trusts through REQUESTS_CA_BUNDLE. So the SDK runs its production code: real URLs, the
challenge-resource check, TLS verification. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import pathlib
import secrets
import select
import socket
import socketserver
import ssl
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme

LOGIN_HOST = "login.microsoftonline.com"


class _Handler(BaseHTTPRequestHandler):
    server: _KeyVaultServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `fake.calls`
        pass

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        fake = self.server.fake
        host = (self.headers.get("host") or "").split(":")[0]
        url = urllib.parse.urlsplit(self.path)
        fake.calls.append(("GET", host, url.path))
        if host == LOGIN_HOST and url.path == f"/{fake.tenant}/v2.0/.well-known/openid-configuration":
            base = f"https://{LOGIN_HOST}/{fake.tenant}"
            return self._json(200, {"token_endpoint": f"{base}/oauth2/v2.0/token",
                                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                                    "issuer": f"{base}/v2.0", "token_endpoint_auth_methods_supported":
                                        ["client_secret_post", "client_secret_basic"]})
        if host == LOGIN_HOST and url.path == "/common/discovery/instance":  # MSAL asks this after an auth error
            return self._json(200, {
                "tenant_discovery_endpoint":
                    f"https://{LOGIN_HOST}/{fake.tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": LOGIN_HOST, "preferred_cache": "login.windows.net",
                              "aliases": [LOGIN_HOST, "login.windows.net", "login.microsoft.com"]}]})
        if host == fake.vault_host and url.path.startswith("/secrets/"):
            auth = self.headers.get("authorization") or ""
            if auth != f"Bearer {fake.access_token}":
                return self._json(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing "
                                                  "a Bearer or PoP token."}},
                                  {"WWW-Authenticate": f'Bearer authorization="https://{LOGIN_HOST}/{fake.tenant}", '
                                                       f'resource="{fake.challenge_resource}"'})
            parts = url.path.strip("/").split("/")
            versions = fake.secrets.get(parts[1], [])
            version = parts[2] if len(parts) > 2 else (versions[-1][0] if versions else None)
            value = dict(versions).get(version) if version else None
            if value is None:
                return self._json(404, {"error": {"code": "SecretNotFound",
                                                  "message": f"A secret with (name/id) {parts[1]} was not found"}})
            return self._json(200, {"value": value, "id": f"https://{fake.vault_host}/secrets/{parts[1]}/{version}",
                                    "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000,
                                                   "recoveryLevel": "Recoverable+Purgeable"}})
        return self._json(404, {"error": {"code": "NotFound", "message": f"fake has no {host}{url.path}"}})

    def do_POST(self) -> None:
        fake = self.server.fake
        host = (self.headers.get("host") or "").split(":")[0]
        url = urllib.parse.urlsplit(self.path)
        fake.calls.append(("POST", host, url.path))
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("content-length") or 0)).decode())
        if host == LOGIN_HOST and url.path == f"/{fake.tenant}/oauth2/v2.0/token":
            ok = (form.get("grant_type") == ["client_credentials"] and form.get("client_id") == [fake.client_id]
                  and form.get("client_secret") == [fake.client_secret]
                  and form.get("scope") == ["https://vault.azure.net/.default"])
            if not ok:
                return self._json(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid "
                                                                                        "client secret provided."})
            fake.tokens_issued += 1
            return self._json(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                    "access_token": fake.access_token})
        return self._json(404, {"error": "not_found"})


class _KeyVaultServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeAzure


class _Tunnel(socketserver.BaseRequestHandler):
    """HTTP CONNECT to an allowed host:443 is piped to the fake; anything else is refused."""

    server: _ProxyServer

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        host, _, port = target.rpartition(":")
        fake = self.server.fake
        if method != "CONNECT" or port != "443" or host not in (fake.vault_host, LOGIN_HOST):
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", fake.https_port), timeout=5)
        except OSError:  # the fake is stopped: an outage as the SDK sees one
            self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            return
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with upstream:
            socks = [self.request, upstream]
            while True:
                ready, _, _ = select.select(socks, [], [], 30)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.request else self.request).sendall(data)


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeAzure


class FakeAzure:
    def __init__(self, tmp: pathlib.Path, vault_name: str = "jackstop-test") -> None:
        self.vault_host = f"{vault_name}.vault.azure.net"
        self.tenant = str(uuid.uuid4())
        self.client_id = str(uuid.uuid4())
        self.client_secret = secrets.token_urlsafe(24)
        self.access_token = "eyJ0eXAi" + secrets.token_urlsafe(32)
        self.secrets: dict[str, list[tuple[str, str]]] = {}  # name -> [(version, value)], latest last
        self.calls: list[tuple[str, str, str]] = []
        self.tokens_issued = 0
        self.challenge_resource = "https://vault.azure.net"  # what Key Vault names in its 401 challenge
        ca = trustme.CA()
        self.ca_path = tmp / "azure-test-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self._ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(self.vault_host, LOGIN_HOST).configure_cert(self._ctx)
        self._https: _KeyVaultServer | None = None
        self.https_port = 0
        self._proxy = _ProxyServer(("127.0.0.1", 0), _Tunnel)
        self._proxy.fake = self
        threading.Thread(target=self._proxy.serve_forever, daemon=True).start()

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self._proxy.server_address[1]}"

    def start(self) -> FakeAzure:
        self._https = _KeyVaultServer(("127.0.0.1", self.https_port), _Handler)
        self._https.fake = self
        self._https.socket = self._ctx.wrap_socket(self._https.socket, server_side=True)
        self.https_port = self._https.server_address[1]
        threading.Thread(target=self._https.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop the vault and the token endpoint; the proxy stays and answers 502, like a dead route."""
        if self._https is not None:
            self._https.shutdown()
            self._https.server_close()
            self._https = None

    def close(self) -> None:
        self.stop()
        self._proxy.shutdown()
        self._proxy.server_close()

    def set_secret(self, name: str, value: str) -> str:
        version = uuid.uuid4().hex
        self.secrets.setdefault(name, []).append((version, value))
        return version

    def secret_url(self, name: str) -> str:
        return f"https://{self.vault_host}/secrets/{name}"

    def gateway_env(self) -> dict[str, str]:
        """What a gateway needs to reach the fake through the SDK's standard mechanisms."""
        return {
            "AZURE_TENANT_ID": self.tenant, "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential",  # DefaultAzureCredential, env part only
            "HTTPS_PROXY": self.proxy_url, "NO_PROXY": "127.0.0.1,localhost",
            "REQUESTS_CA_BUNDLE": str(self.ca_path),
        }
