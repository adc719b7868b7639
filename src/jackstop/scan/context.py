"""Confidence from where a key was found: a key in a test, fixture, example or docs file is
still reported (real keys do leak through tests) but one level lower, so `--min-confidence`
can hide it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from jackstop.scan.findings import Finding
from jackstop.scan.rules import CONFIDENCE_LEVELS

# Folders and file names that hold tests, fixtures, samples and documentation.
_SAMPLE_PATH = re.compile(
    r"(?:^|[/!])(?:tests?|testing|testdata|test_data|__tests__|spec|specs|fixtures?|mocks?|examples?|samples?|"
    r"docs?|cookbooks?|notebooks/examples)(?:/|$)"
    r"|(?:^|[/!])(?:test_[^/]*|[^/]*_test\.[a-z]+|[^/]*\.test\.[a-z]+|[^/]*\.spec\.[a-z]+|conftest\.py|"
    r"[^/]*\.example|[^/]*\.sample|[^/]*example[^/]*\.[a-z]+|README[^/]*|[^/]*\.(?:md|rst|ipynb))$",
    re.IGNORECASE,
)


def is_sample_path(path: str) -> bool:
    return _SAMPLE_PATH.search(path.replace("\\", "/")) is not None


def lower(level: str) -> str:
    i = CONFIDENCE_LEVELS.index(level)
    return CONFIDENCE_LEVELS[max(0, i - 1)]


def at_least(level: str, minimum: str) -> bool:
    return CONFIDENCE_LEVELS.index(level) >= CONFIDENCE_LEVELS.index(minimum)


def adjust(findings: Iterable[Finding]) -> None:
    """Lower the confidence of findings in test, fixture, example and docs paths."""
    for f in findings:
        if f.path not in ("(commit message)",) and is_sample_path(f.path):
            f.confidence = lower(f.confidence)
