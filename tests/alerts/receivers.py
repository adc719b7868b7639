"""Real receivers on loopback for the alert tests: an HTTP webhook receiver and an SMTP server
(aiosmtpd) with STARTTLS or implicit TLS and AUTH, using a certificate made at test time;
and helpers that start managers and build the budget alerts the gateway fires."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jackstop.alerts import AlertManager, budget_alert, load_alert_settings
from jackstop.store import open_store
from tests.conftest import free_port

SMTP_USER = "alerts"
SMTP_PASSWORD = "pw-Zq81-never-logged"
# Tiny timings so retries happen at once; every wait in the tests is on a condition.
FAST = {"retry_initial": 0.02, "retry_max": 0.1, "poll_interval": 0.2, "send_timeout": 5}


# -- webhook receiver ---------------------------------------------------------------------------

class WebhookReceiver:
    """An HTTP server that records each POST; it can answer an error status or hold requests."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.status = 200
        self.hold: threading.Event | None = None  # when set, requests wait for it before answering
        self.arrived = threading.Event()
        self.hits: list[dict[str, Any]] = []       # every request, answered with any status
        self.accepted: list[dict[str, Any]] = []   # those answered 2xx
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hit = {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                status = receiver.status
                with receiver._cond:
                    receiver.hits.append(hit)
                    if status < 300:
                        receiver.accepted.append(hit)
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_hits(self, n: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.hits) >= n, timeout)
            return list(self.hits)

    def bodies(self) -> list[dict[str, Any]]:
        with self._cond:
            return [h["body"] for h in self.accepted]


# -- SMTP server ---------------------------------------------------------------------------------

def make_cert(dirpath: Any, *, ip: bool = True) -> tuple[str, str]:
    """A self-signed certificate for localhost (and 127.0.0.1 unless ip=False): (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    if ip:
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = dirpath / "cert.pem", dirpath / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.logins: list[str] = []
        self._cond = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's naming
        with self._cond:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session))
            self._cond.notify_all()
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and data.login == SMTP_USER.encode() \
                and data.password == SMTP_PASSWORD.encode():
            self.logins.append(mechanism)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def wait(self, n: int, timeout: float = 15.0) -> list[Any]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.messages) >= n, timeout)
            return list(self.messages)


class SmtpServer:
    def __init__(self, tmp_path: Any, *, implicit_tls: bool = False, starttls: bool = True) -> None:
        self.cert, key = make_cert(tmp_path)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.box = Mailbox()
        self.port = free_port()
        kwargs: dict[str, Any] = {"authenticator": self.box.authenticate, "auth_require_tls": True}
        if implicit_tls:
            # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; this whole connection is TLS.
            kwargs.update(ssl_context=ctx, auth_required=True, auth_require_tls=False)
        elif starttls:
            kwargs.update(tls_context=ctx, require_starttls=True, auth_required=True)
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port, **kwargs)

    def settings(self, **over: Any) -> dict[str, Any]:
        base = {"name": "mail", "host": "127.0.0.1", "port": self.port, "starttls": True,
                "username": SMTP_USER, "password": "env:JACKSTOP_TEST_SMTP_PASSWORD",
                "from": "jackstop <alerts@example.test>", "to": ["oncall@example.test", "cto@example.test"],
                "ca_file": self.cert}
        base.update(over)
        return base


# -- stores and managers -------------------------------------------------------------------------


class Managers:
    """Starts managers (and their stores) and stops them all at the end of the test."""

    def __init__(self) -> None:
        self._open: list[tuple[AlertManager, Any, bool]] = []

    def start(self, raw: dict[str, Any], store: Any, *, run: bool = True) -> AlertManager:
        manager = AlertManager(load_alert_settings({**FAST, **raw}), store)
        if run:
            manager.start()
        self._open.append((manager, store, False))
        return manager

    def start_url(self, raw: dict[str, Any], url: str, *, run: bool = True) -> AlertManager:
        store = open_store(url)
        manager = self.start(raw, store, run=run)
        self._open[-1] = (manager, store, True)
        return manager

    def close(self) -> None:
        for manager, store, own in reversed(self._open):
            manager.stop(timeout=0)
            if own:
                store.close()


def budget_alerts(key: str = "my-app", cap: float = 10.0) -> list[Any]:
    """The 50 %, 80 % and 100 % alerts of a key's daily budget, as the gateway builds them."""
    return [budget_alert(scope="key", scope_name=key, key=key, project="shop", threshold=t,
                         spent_usd=round(cap * t, 2), cap_usd=cap, window="day",
                         window_start="2026-11-28T00:00:00Z", window_end="2026-11-29T00:00:00Z",
                         ts=1795833000.0 + i)
            for i, t in enumerate((0.5, 0.8, 1.0))]


def eventually(predicate: Any, timeout: float = 15.0, what: str = "the condition") -> None:
    """Wait for a condition (not for a time): poll it until it holds; fail after `timeout`."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
