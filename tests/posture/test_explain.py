"""`jackstop posture --explain`: the lessons are data, complete, and tied to the incidents."""

from __future__ import annotations

import pytest

from jackstop.posture.lessons import all_lessons
from tests.scan.helpers import run_cli

INCIDENTS = ("$82,314", "JetBrains", "Storm-2139", "litellm")


def test_ten_lessons_each_with_every_part() -> None:
    lessons = all_lessons()
    assert [item.number for item in lessons] == list(range(1, 11))
    assert len({item.name for item in lessons}) == 10
    for item in lessons:
        assert len(item.title) > 20
        for part in (item.risk, item.attack, item.incident, item.fix, item.check):
            assert len(part) > 40, (item.name, part)
        assert any(word.lower() in item.risk.lower() for word in INCIDENTS), item.name
        assert "jackstop " in item.fix and "jackstop" in item.check
    text = " ".join(item.incident for item in lessons)
    assert all(word.lower() in text.lower() for word in INCIDENTS[1:]) and "82,314" in text


@pytest.mark.parametrize("control", ["3", "caps-and-alerts", "caps"])
def test_explain_by_number_name_or_prefix(control) -> None:
    res = run_cli("posture", "--explain", control)
    assert res.code == 0
    out = res.out
    assert out.startswith("Control 3: Every key and project is under a hard cap")
    for heading in ("WHAT THE ATTACK LOOKS LIKE", "THE INCIDENT", "THE FIX", "HOW TO CHECK IT", "SOURCES"):
        assert heading in out
    assert "$82,314.44" in out and "jackstop keys update shop-prod --budget 20/day" in out


def test_explain_an_unknown_or_ambiguous_control() -> None:
    for bad in ("0", "r", "nope"):  # "r" starts rotation and rate-limits
        res = run_cli("posture", "--explain", bad)
        assert res.code == 2 and "1 keys-out-of-code" in res.err


def test_explain_list_names_the_ten_controls() -> None:
    res = run_cli("posture", "--explain", "list")
    assert res.code == 0 and res.out.count("\n") >= 11
    assert " 1  keys-out-of-code  Provider keys are out of code" in res.out and "10  training" in res.out
