"""What the request path remembers between requests (the route of a path, the scopes of a record
version) gives exactly what working it out again would, and forgets on every change."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from jackstop.gateway.admission import Admission
from jackstop.gateway.proxy import FAMILIES, Proxy, Refusal
from jackstop.store import KeyRecord, ProjectRecord, ProviderRecord


def _proxy() -> Proxy:
    p = Proxy.__new__(Proxy)  # _routed needs nothing else of a proxy
    p._routes = {}
    return p


def test_a_routed_path_is_remembered_and_answers_as_the_first_time() -> None:
    p, oai = _proxy(), FAMILIES["openai"]
    first = p._routed("POST", b"/v1/chat/completions", "", oai)
    assert first[1] is not None and first[1].endpoint == "chat.completions" and first[2] is oai
    assert p._routed("POST", b"/v1/chat/completions", "", oai) is first
    # Another method, query or guessed dialect is another entry, read afresh.
    ant = FAMILIES["anthropic"]
    beta = p._routed("POST", b"/v1/messages", "beta=true", ant)
    assert beta[1].query == "beta=true" and p._routed("POST", b"/v1/messages", "", ant)[1].query == ""
    assert p._routed("GET", b"/v1/chat/completions", "", oai)[1] is None


def test_a_refused_or_unknown_path_is_read_afresh_every_time() -> None:
    p, oai = _proxy(), FAMILIES["openai"]
    for _ in range(2):
        with pytest.raises(Refusal) as refused:
            p._routed("POST", b"/v1/chat%2Fcompletions", "", oai)
        assert refused.value.rule == "path_encoding"
        assert p._routed("POST", b"/v1/no/such/route", "", oai)[1] is None
    assert p._routes == {}


def test_long_queries_and_queries_with_a_key_are_routed_but_never_remembered() -> None:
    p, oai, gem = _proxy(), FAMILIES["openai"], FAMILIES["gemini"]
    assert p._routed("POST", b"/v1/chat/completions", "x=" + "a" * 64_000, oai)[1] is not None
    assert p._routed("POST", b"/v1beta/models/gemini-2.5-flash:generateContent", "key=jsk_guess", gem)[1] is not None
    assert p._routes == {}
    p._routed("POST", b"/v1beta/models/gemini-2.5-flash:streamGenerateContent", "alt=sse", gem)
    assert len(p._routes) == 1


def test_the_route_memo_stays_bounded_whatever_paths_a_client_sends() -> None:
    p, gem = _proxy(), FAMILIES["gemini"]
    for i in range(5000):
        route = p._routed("POST", f"/v1beta/models/m-{i}:generateContent".encode(), "", gem)[1]
        assert route is not None and route.model == f"m-{i}"
    assert 0 < len(p._routes) <= 4096


def _admission(projects: dict) -> Admission:
    a = Admission.__new__(Admission)  # scopes() needs the state's records and the memos only
    a.state = SimpleNamespace(projects=projects, keys={})
    a._parsed, a._scopes = {}, {}
    return a


def test_scopes_are_built_once_per_record_version_and_anew_after_an_edit() -> None:
    key = KeyRecord(id="k1", name="app", kind="virtual", provider="oai", project="team", parent_id=None,
                    status="active", status_reason="", policy={"rpm": 10}, expires_at=None, created_at=0.0,
                    updated_at=0.0, seq=1)
    provider = ProviderRecord(name="oai", kind="openai", base_url="https://api.openai.com/v1", secret_ref="env:X",
                              policy={}, created_at=0.0, updated_at=0.0, removed_at=None, seq=1)
    team = ProjectRecord(name="team", policy={"budgets": ["5/day"]}, created_at=0.0, updated_at=0.0, seq=1)
    adm = _admission({"team": team})
    first = adm.scopes(key, provider)
    assert [(s.kind, s.name, s.counter) for s in first] == [("key", "app", "key:k1"),
                                                            ("project", "team", "project:team"),
                                                            ("provider", "oai", "provider:oai")]
    assert all(a is b for a, b in zip(adm.scopes(key, provider), first, strict=True))
    # An edit bumps the record's seq: its scope (and so the admission plan keyed by it) is new.
    edited = dataclasses.replace(key, policy={"rpm": 3}, seq=2)
    again = adm.scopes(edited, provider)
    assert again[0] is not first[0] and again[0].policy.rpm == 3 and first[0].policy.rpm == 10
    assert again[1] is first[1] and again[2] is first[2]
    renamed = dataclasses.replace(edited, name="app2", seq=3)
    assert adm.scopes(renamed, provider)[0].name == "app2"


def test_the_remembered_peer_address_and_its_text_match_a_fresh_parse() -> None:
    import ipaddress

    from jackstop.clientip import client_address, client_ip

    xff = {b"x-forwarded-for": b"198.51.100.7, 10.0.0.2"}
    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    for _ in range(2):  # the second time from the memo
        assert client_address("::ffff:203.0.113.9", xff, ()) == (ipaddress.ip_address("203.0.113.9"), "203.0.113.9")
        assert client_address("[2001:db8::1]:443", {}, ()) == (ipaddress.ip_address("2001:db8::1"), "2001:db8::1")
        # Forwarding headers count only from a trusted peer, and then the text follows the chain.
        assert client_address("10.0.0.5", xff, trusted) == (ipaddress.ip_address("198.51.100.7"), "198.51.100.7")
        assert client_address("10.0.0.5", xff, ()) == (ipaddress.ip_address("10.0.0.5"), "10.0.0.5")
        assert client_address("not an address", {}, ()) == (None, None)
        assert client_ip("10.0.0.5", xff, trusted) == ipaddress.ip_address("198.51.100.7")
