"""The [alerts] section: the full shape parses; each bad value names its key and the fix,
and never echoes a secret."""

from __future__ import annotations

import tomllib

import pytest

from jackstop.alerts import load_alert_settings
from jackstop.config import ConfigError

FULL = """
[alerts]
retry_initial = "5s"
retry_max = "10m"
retry_multiplier = 2
give_up_after = "3d"
send_timeout = "10s"
poll_interval = "5s"

[[alerts.webhook]]
name = "ops"
url = "https://hooks.example.com/jackstop"
format = "json"
headers = { Authorization = "env:OPS_HOOK_TOKEN", X-Team = "payments" }

[[alerts.webhook]]
name = "slack"
url = "local:slack-webhook-url"
format = "slack"
min_severity = "warning"

[[alerts.smtp]]
name = "oncall"
host = "smtp.example.com"
port = 587
starttls = true
username = "alerts@example.com"
password = "local:smtp-password"
from = "jackstop <alerts@example.com>"
to = ["oncall@example.com", "cto@example.com"]
"""


def test_full_shape_parses():
    s = load_alert_settings(tomllib.loads(FULL)["alerts"])
    assert s.channel_names() == ["ops", "slack", "oncall"]
    assert (s.retry_initial, s.retry_max, s.give_up_after) == (5.0, 600.0, 3 * 86400.0)
    assert s.webhook[0].headers == {"Authorization": "env:OPS_HOOK_TOKEN", "X-Team": "payments"}
    assert s.smtp[0].from_ == "jackstop <alerts@example.com>" and s.smtp[0].effective_port == 587


def test_defaults_and_single_tables():
    s = load_alert_settings({})
    assert s.channel_names() == [] and s.retry_initial == 5.0 and s.retry_max == 600.0
    s = load_alert_settings({"webhook": {"url": "http://127.0.0.1:9/x"},
                             "smtp": {"host": "mail", "from": "a@b.example", "to": ["c@d.example"], "tls": True,
                                      "starttls": False}})
    assert s.channel_names() == ["webhook", "email"] and s.smtp[0].effective_port == 465
    v6 = load_alert_settings({"smtp": {"host": "[::1]", "from": "a@b.example", "to": ["c@d.example"]}})
    assert v6.smtp[0].host == "::1"
    two = load_alert_settings({"webhook": [{"url": "http://a.example"}, {"url": "http://b.example"}]})
    assert two.channel_names() == ["webhook-1", "webhook-2"]


SMTP = {"host": "smtp.example.com", "from": "a@example.com", "to": ["b@example.com"]}
BAD = [
    ({"webhook": [{"url": "https://x.example", "format": "xml"}]},
     ["alerts.webhook[0].format = 'xml'", "'json' or 'slack'", 'Fix: set alerts.webhook[0].format to "json"']),
    ({"webhook": [{"url": "ftp://x.example"}]}, ["alerts.webhook[0].url", "not an http:// or https:// URL"]),
    ({"webhook": [{"url": "https://hooks.slack.com/services/T0/B0/abc123"}]},
     ["alerts.webhook[0].url = (value hidden)", "is itself a secret", 'url = "local:NAME"']),
    ({"webhook": [{"url": "https://x.example", "headers": {"Authorization": "Bearer abc-123-secret"}}]},
     ["alerts.webhook[0].headers", "looks like a credential", 'Authorization = "local:NAME"']),
    ({"webhook": [{"url": "https://x.example", "headers": {"X-Sig": "env:not a name"}}]},
     ["alerts.webhook[0].headers", "header X-Sig"]),
    ({"webhook": [{"url": "https://x.example", "fromat": "json"}]},
     ["unknown key alerts.webhook[0].fromat; did you mean alerts.webhook[0].format?"]),
    ({"webhook": [{"format": "json"}]}, ["alerts.webhook[0].url is missing", "Fix: set alerts.webhook[0].url"]),
    ({"smtp": [{**SMTP, "username": "u", "password": "hunter2-plain"}]},
     ["alerts.smtp[0].password = (value hidden)", "must be a SecretRef, never the password itself"]),
    ({"smtp": [{**SMTP, "username": "u"}]}, ["alerts.smtp[0]: username is set but password is not"]),
    ({"smtp": [{**SMTP, "username": "u", "password": "env:P", "starttls": False}]},
     ["alerts.smtp[0]: AUTH without TLS would send the password in clear", "set starttls = true"]),
    ({"smtp": [{**SMTP, "tls": True}]}, ["alerts.smtp[0]: tls = true (implicit TLS) and starttls = true exclude"]),
    ({"smtp": [{**SMTP, "to": ["not-an-address"]}]}, ["alerts.smtp[0].to", "is not an e-mail address"]),
    ({"smtp": [{**SMTP, "to": []}]}, ["alerts.smtp[0].to", "at least 1 item", "Fix: set alerts.smtp[0].to"]),
    ({"smtp": [{**SMTP, "from": "a@example.com\r\nBcc: x@evil.example"}]}, ["alerts.smtp[0].from", "line break"]),
    ({"smtp": [{**SMTP, "port": 70000}]},
     ["alerts.smtp[0].port = 70000", "Fix: set alerts.smtp[0].port to a TCP port"]),
    ({"smtp": [{**SMTP, "host": "smtp.example.com:587"}]},
     ["alerts.smtp[0].host = 'smtp.example.com:587'", "without a port and set port = N"]),
    ({"retry_initial": "soon"}, ["alerts.retry_initial = 'soon'", "is not a duration"]),
    ({"retry_initial": "2m", "retry_max": "1m"}, ["alerts: retry_max is shorter than retry_initial"]),
    ({"send_timeout": 0}, ["alerts.send_timeout = 0", "greater than 0"]),
    ({"webhook": [{"url": "http://a.example", "name": "log"}]}, ["'log' is reserved"]),
    ({"webhook": [{"url": "http://a.example", "name": "x"}, {"url": "http://b.example", "name": "x"}]},
     ["two channels are named 'x'"]),
    ({"webhook": [{"url": "http://a.example", "min_severity": "loud"}]},
     ["alerts.webhook[0].min_severity = 'loud'", "'info', 'warning' or 'critical'"]),
    ({"pagerduty": {}}, ["unknown key alerts.pagerduty; known keys: webhook, smtp"]),
]


@pytest.mark.parametrize(("raw", "expected"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_values_name_the_key_and_the_fix(raw, expected):
    with pytest.raises(ConfigError) as info:
        load_alert_settings(raw)
    text = str(info.value)
    for part in expected:
        assert part in text, f"{part!r} not in {text!r}"
    for secret in ("hunter2-plain", "abc-123-secret", "abc123"):
        assert secret not in text


def test_not_a_table():
    with pytest.raises(ConfigError, match=r"\[alerts\] must be a table"):
        load_alert_settings(["webhook"])  # type: ignore[arg-type]
