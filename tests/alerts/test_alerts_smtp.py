"""The e-mail channel against a real SMTP server: implicit TLS, AUTH failures, no silent
downgrade to clear text, untrusted certificates; the password is never stored or logged."""

from __future__ import annotations

import pytest

from tests.alerts.receivers import SMTP_PASSWORD, SmtpServer, budget_alerts


def _mail(manager, key: str) -> dict:
    return next(d for d in manager.wait(key, 15) if d["channel"] == "mail")


# The whole connection is TLS; aiosmtpd's warning is about STARTTLS servers.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_auth(tmp_path, sqlite_store, managers, monkeypatch):
    monkeypatch.setenv("JACKSTOP_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    server = SmtpServer(tmp_path, implicit_tls=True)
    server.controller.start()
    try:
        m = managers.start({"smtp": [server.settings(starttls=False, tls=True)]}, sqlite_store)
        alert = budget_alerts()[2]
        m.fire(alert)
        assert _mail(m, alert.dedupe_key)["status"] == "delivered"
        (_from, _to, content, session), = server.box.wait(1)
        assert session.authenticated and b"Budget 100% reached: key my-app" in content
        assert server.box.logins  # AUTH happened
    finally:
        server.controller.stop()


def test_wrong_password_fails_once_and_never_leaks(tmp_path, sqlite_store, smtp_server, managers, monkeypatch,
                                                  alert_log):
    wrong = "wrong-pw-4Kd9-not-it"
    monkeypatch.setenv("JACKSTOP_TEST_SMTP_PASSWORD", wrong)
    m = managers.start({"smtp": [smtp_server.settings()]}, sqlite_store)
    alert = budget_alerts()[0]
    m.fire(alert)
    mail = _mail(m, alert.dedupe_key)
    assert mail["status"] == "failed" and mail["attempts"] == 1
    assert "AUTH refused" in mail["last_error"] and "env:JACKSTOP_TEST_SMTP_PASSWORD" in mail["last_error"]
    m.stop(timeout=5)
    assert smtp_server.box.messages == []
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("*.db*"))
    assert b"AUTH refused" in stored  # the error is in the store, the password is not
    assert wrong.encode() not in stored and SMTP_PASSWORD.encode() not in stored
    assert alert_log and not any(wrong in line or SMTP_PASSWORD in line for line in alert_log)


def test_starttls_required_but_not_offered_is_not_sent_in_clear(tmp_path, sqlite_store, managers):
    server = SmtpServer(tmp_path, starttls=False)  # a server without TLS
    server.controller.start()
    try:
        settings = server.settings(username="", password="")
        m = managers.start({"smtp": [settings]}, sqlite_store)
        alert = budget_alerts()[1]
        m.fire(alert)
        mail = _mail(m, alert.dedupe_key)
        assert mail["status"] == "failed" and "does not offer STARTTLS" in mail["last_error"]
        assert server.box.messages == []
    finally:
        server.controller.stop()


def test_untrusted_certificate_is_retried_not_bypassed(sqlite_store, smtp_server, managers):
    m = managers.start({"smtp": [smtp_server.settings(ca_file="")]}, sqlite_store)  # system CAs only
    alert = budget_alerts()[1]
    m.fire(alert)
    rows = m.wait(alert.dedupe_key, 15, attempted=True)
    mail = next(d for d in rows if d["channel"] == "mail")
    assert mail["status"] == "pending" and "certificate" in mail["last_error"] and "ca_file" in mail["last_error"]
    assert smtp_server.box.messages == []
