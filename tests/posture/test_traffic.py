"""The criteria judged from traffic: shared keys, browsers holding virtual keys, a proxy in front
without trusted_proxies, and rate limits far above a key's busiest minute. The ledger rows are
written through the Store as the gateway's ledger writer writes them."""

from __future__ import annotations

import time
import uuid

from jackstop.store import LedgerRow
from tests.posture.conftest import control_of, posture_json

AGENTS = ("OpenAI/Python 1.99.1", "python-requests/2.31.0", "curl/8.5.0")
PUBLIC = ("198.51.100.7", "203.0.113.9", "192.0.2.44")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def rows(key: str, n: int, *, agents: tuple[str, ...], ips: tuple[str, ...], per_minute: int = 1,
         start: float | None = None) -> list[LedgerRow]:
    start = (time.time() - 3 * 3600) if start is None else start
    return [LedgerRow(ts=start + (i // per_minute) * 60 + (i % per_minute), request_id=uuid.uuid4().hex,
                      endpoint="chat.completions", status=200, key_name=key, provider="oai", model="gpt-4o-mini",
                      source_ip=ips[i % len(ips)], user_agent=agents[i % len(agents)], input_tokens=100,
                      output_tokens=50) for i in range(n)]


def test_shared_keys_browsers_and_loose_limits(gateway_store) -> None:
    ctl = gateway_store.control
    ctl.update_key("shop-web", {"rpm": 20}, [], "test")
    ctl.update_key("batch", {"rpm": 10000}, [], "test")
    ctl.store.insert_ledger(rows("shop-web", 60, agents=AGENTS, ips=PUBLIC)
                            + rows("batch", 60, agents=(BROWSER,), ips=("10.0.0.5",), per_minute=5))
    code, report, _ = posture_json("--gateway")
    least = control_of(report, 4)
    texts = [e["text"] for e in least["evidence"] if not e["ok"]]
    assert ("key shop-web was called by 3 user agents (curl, openai/python, python-requests) from 3 networks in "
            "7 days: a shared key") in texts
    assert "virtual key batch was called 60 times from a browser or mobile app: the key is in the user's hands" in texts
    assert any("jackstop keys revoke shop-web" in f for f in least["fixes"])
    assert any(f.startswith("serve browsers and mobile apps short-lived tokens minted by your server: `jackstop tokens mint batch "
                            "--ttl 15m --budget 0.50/total`") for f in least["fixes"])
    assert least["score"] == 0
    rates = control_of(report, 9)
    assert {"text": "key batch: rpm limit 10000, busiest minute in 7 days 5 (2000x)", "ok": False, "key": "batch",
            "setting": "rpm"} in rates["evidence"]
    assert {"text": "key shop-web: rpm limit 20, busiest minute in 7 days 1 (20x)", "ok": True, "key": "shop-web",
            "setting": "rpm"} in rates["evidence"]
    assert "jackstop keys update batch --rpm 15" in rates["fixes"]
    assert rates["score"] == 3  # rpm set on both (1 of 3); no concurrency; batch's limit is loose
    network = control_of(report, 8)  # traffic from four addresses: no single proxy in front
    assert {"text": "no proxy in front detected; server.trusted_proxies is empty", "ok": True,
            "setting": "server.trusted_proxies"} in network["evidence"]


def test_all_traffic_from_one_private_address_wants_trusted_proxies(gateway_store) -> None:
    gateway_store.control.store.insert_ledger(rows("batch", 30, agents=AGENTS[:1], ips=("10.0.0.5",)))
    code, report, _ = posture_json("--gateway")
    network = control_of(report, 8)
    assert ("every request of the last 7 days came from 10.0.0.5, a private address: a proxy in front, whose "
            "X-Forwarded-For is ignored") in [e["text"] for e in network["evidence"]]
    assert 'in jackstop.toml: `[server]` then `trusted_proxies = ["10.0.0.5/32"]`' in network["fixes"]
    gateway_store.config_path.write_text('[monitor]\nenabled = false\n[server]\ntrusted_proxies = ["10.0.0.0/8"]\n')
    code, report, _ = posture_json("--gateway")
    network = control_of(report, 8)
    assert {"text": "server.trusted_proxies = ['10.0.0.0/8']", "ok": True,
            "setting": "server.trusted_proxies"} in network["evidence"]
    assert not any("trusted_proxies" in f for f in network["fixes"])


def test_traffic_older_than_seven_days_is_not_counted(gateway_store) -> None:
    gateway_store.control.store.insert_ledger(rows("shop-web", 60, agents=AGENTS, ips=PUBLIC,
                                                   start=time.time() - 10 * 86400))
    code, report, _ = posture_json("--gateway")
    least = control_of(report, 4)
    assert not any("shared key" in e["text"] for e in least["evidence"])
    assert any("no traffic through the gateway in the last 7 days" in na for na in least["not_assessed"])
