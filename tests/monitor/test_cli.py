"""The monitor's commands: replay (output shape, errors), simulate, expect, ledger export round trip,
settings validation, networks."""

from __future__ import annotations

import json
import pathlib
import time

import pytest

from jackstop.cli import main
from jackstop.config import ConfigError
from jackstop.monitor import load_monitor_settings
from jackstop.monitor.networks import Networks, prefix_of
from jackstop.store import LedgerRow


def test_simulate_then_replay_prints_events_as_json_lines(tmp_path: pathlib.Path, capsys) -> None:  # noqa: ANN001
    traffic = tmp_path / "t.jsonl"
    assert main(["monitor", "simulate", "attack-proxy", "--size", "tiny", "--days", "9", "-o", str(traffic)]) == 0
    capsys.readouterr()
    assert main(["monitor", "replay", str(traffic), "--summary"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(x) for x in out.splitlines()]
    assert lines and all({"ts", "key", "severity", "detector", "reason", "action"} <= set(x) for x in lines)
    assert any(x["action"] == "suspend" for x in lines)
    summary = json.loads(err)
    assert summary["keys"]["hobby-bot"]["prevented_usd"] > 1000


def test_replay_with_announcements_file(tmp_path: pathlib.Path, capsys) -> None:  # noqa: ANN001
    traffic, exp = tmp_path / "t.jsonl", tmp_path / "expect.txt"
    main(["monitor", "simulate", "move", "--size", "tiny", "--days", "9", "-o", str(traffic),
          "--expectations", str(tmp_path / "e.jsonl")])
    capsys.readouterr()
    main(["monitor", "replay", str(traffic)])
    unannounced = capsys.readouterr().out
    assert "new_network" in unannounced
    # the same announcement, once as JSON lines and once as `monitor expect` arguments
    for text in ((tmp_path / "e.jsonl").read_text(),
                 "# planned\nhobby-bot --network 34.118.40.0/23 --from 2026-09-01T00:00:00Z --until 2026-12-01T00:00:00Z\n"):
        exp.write_text(text)
        assert main(["monitor", "replay", str(traffic), "--expect", str(exp)]) == 0
        assert "new_network" not in capsys.readouterr().out


@pytest.mark.parametrize("line, message", [
    ('{"ts": "yesterday", "key": "k"}', "line 1: ts 'yesterday' is not ISO-8601"),
    ('{"ts": "2026-11-28T00:00:00Z", "key": "k", "input_tokens": -4}', "line 1: input_tokens = -4"),
    ("not json", "line 1: not valid JSON"),
])
def test_replay_bad_lines_are_named(tmp_path: pathlib.Path, capsys, line: str, message: str) -> None:  # noqa: ANN001
    f = tmp_path / "bad.jsonl"
    f.write_text(line + "\n")
    assert main(["monitor", "replay", str(f)]) == 2
    assert message in capsys.readouterr().err


def test_bad_monitor_settings_name_the_key_and_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"monitor.spend.critical_ratio = 0.5: .*Fix: set monitor.spend.critical_ratio"):
        load_monitor_settings({"spend": {"critical_ratio": 0.5}})
    with pytest.raises(ConfigError, match="unknown key monitor.respons"):
        load_monitor_settings({"respons": "suspend"})
    with pytest.raises(ConfigError, match="monitor.response"):
        load_monitor_settings({"response": "explode"})
    with pytest.raises(ConfigError, match="monitor.exempt_sources"):
        load_monitor_settings({"exempt_sources": ["not-a-cidr"]})
    with pytest.raises(ConfigError, match="monitor.asn_database"):
        load_monitor_settings({"asn_database": "/nonexistent/GeoLite2-ASN.mmdb"})


def test_expect_and_ledger_export_round_trip(control, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("JACKSTOP_HOME", str(control.home.path))
    monkeypatch.delenv("JACKSTOP_CONFIG", raising=False)
    control.create_key("web", "oai", "test")
    assert main(["monitor", "expect", "web", "--network", "203.0.113.0/24", "--surge", "5x", "--until", "48h",
                 "--note", "launch", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert {m["kind"] for m in made} == {"network", "surge"}
    assert main(["monitor", "expect", "web", "--network", "nonsense", "--until", "1h"]) == 2
    assert "neither a CIDR" in capsys.readouterr().err
    assert main(["monitor", "expect", "web", "--until", "1h"]) == 2
    main(["monitor", "expectations", "--json"])
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["monitor", "unexpect", str(made[0]["id"])]) == 0
    now = time.time()
    control.store.insert_ledger([
        LedgerRow(ts=now - 60, request_id="a", endpoint="chat.completions", status=200, key_name="web",
                  provider_kind="openai", model="gpt-4o-mini", source_ip="10.1.1.1", user_agent="x/1",
                  input_tokens=10, output_tokens=5, cost_nusd=4500),
        LedgerRow(ts=now - 30, request_id="b", endpoint="chat.completions", status=401, rule="auth_unknown",
                  source_ip="10.9.9.9")])
    capsys.readouterr()
    assert main(["ledger", "export", "--since", "1h"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["key"] == "web" and lines[0]["cost_usd"] == 4.5e-6 and lines[1]["rule"] == "auth_unknown"
    from jackstop.monitor.replay import Replay, parse_record

    r = Replay(load_monitor_settings({}))
    recs = [parse_record(x, r.prices) for x in lines]
    assert recs[0].cost_nusd == 4500 and recs[1].rule == "auth_unknown"


def test_networks_prefixes_and_asn_reader() -> None:
    assert prefix_of("203.0.113.77") == "203.0.113.0/24"
    assert prefix_of("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
    assert prefix_of("::ffff:198.51.100.3") == "198.51.100.0/24"
    assert prefix_of("not an ip") is None

    class FakeReader:  # the part of maxminddb.Reader the monitor uses
        def get(self, ip: str) -> object:
            return {"autonomous_system_number": 64500, "autonomous_system_organization": "EXAMPLE"} \
                if ip.startswith("192.0.2.") else None

    nets = Networks(FakeReader())
    assert nets.of("192.0.2.1") == nets.of("192.0.2.200") == "AS64500"
    assert nets.of("198.51.100.9") == "198.51.100.0/24"  # not in the database: the /24
