"""The control plane's models validate the same way at every door, with messages that name the
field and the fix (the wording the hand-written validation had, kept where people rely on it)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jackstop.control import models as m
from jackstop.control.policy import PolicyError, PolicySpec, validate

MESSAGES = [
    ({"rpm": 0}, "rpm = 0: must be a whole number between 1 and 10000000"),
    ({"rpm": True}, "rpm = True: must be a whole number between 1 and 10000000"),
    ({"colour": 1}, "unknown policy field(s) colour; known: budgets, rpm, tpm, concurrency, allow_ips, providers, "
                    "models, endpoints, max_body_bytes, max_tokens, unbounded_reserve, monitor, deployments"),
    ({"budgets": ["5"]}, "budget '5': write AMOUNT/WINDOW, e.g. 10/day, 50/month, 5/24h, 100/total"),
    ({"budgets": ["5/fortnight"]}, "budget window 'fortnight' is not one of total, day, week, month, 24h, 7d"),
    ({"budgets": ["0/day"]}, "budget amount '0' must be more than zero (revoke or suspend the key instead)"),
    ({"budgets": ["1/day", "2/day"]}, "two budgets with the same window; keep one per window"),
    ({"budgets": "1/day"}, "budgets must be a list"),
    ({"allow_ips": ["nope"]}, "allow_ips: 'nope' is not an IPv4/IPv6 address or CIDR"),
    ({"models": [""]}, 'models must be a list of glob patterns such as "gpt-4o*"'),
    ({"monitor": "x"}, "monitor must be an object"),
]


@pytest.mark.parametrize(("raw", "message"), MESSAGES)
def test_policy_messages_name_the_field_and_the_fix(raw, message) -> None:
    with pytest.raises(PolicyError) as exc:
        validate(raw)
    assert str(exc.value) == message


def test_the_canonical_form_is_what_the_store_keeps() -> None:
    assert validate({"budgets": ["$10/day"], "allow_ips": "10.1.2.3/8", "models": [" gpt-4o* "],
                     "monitor": {"response": "throttle"}, "unbounded_reserve": "0.5"}) == {
        "budgets": [{"amount": "10.00", "window": "day", "alerts": [0.5, 0.8, 1.0]}],
        "allow_ips": ["10.0.0.0/8"], "models": ["gpt-4o*"], "monitor": {"response": "throttle"},
        "unbounded_reserve": "0.50"}
    assert validate({}) == {} and PolicySpec().model_dump(mode="json") == {}


def _problem(model, raw) -> str:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(raw)
    return m.describe(exc.value, model)


def test_request_messages_in_config_style() -> None:
    assert _problem(m.KeyCreate, {"name": "x"}) == "missing field 'provider'"
    assert _problem(m.KeyCreate, {"name": "x", "provider": "p", "colour": 1}).startswith(
        "unknown field 'colour'; known fields: name, provider, project, policy, expires_at")
    assert _problem(m.KeyCreate, {"name": "x", "provider": "p", "policy": {"rpm": 0}}) == (
        "rpm = 0: must be a whole number between 1 and 10000000")
    assert _problem(m.ProviderAdd, {"name": "p", "kind": "nosuch", "secret": "env:X"}).startswith(
        "kind = 'nosuch': Input should be 'openai'")
    assert _problem(m.KeyCreate, {"name": "a b", "provider": "p"}).endswith(
        "Fix: set name to 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")
