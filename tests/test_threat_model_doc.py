"""docs/threat-model.md names the test that proves each invariant; every name must exist, so the
page cannot drift into citing tests that were renamed or removed."""

from __future__ import annotations

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "threat-model.md"
# `tests/x.py::name` sets the file; a following bare `::name` in the same cell refers to it.
_REF = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def _functions(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_test_the_threat_model_cites_exists():
    cited = 0
    for line in DOC.read_text().splitlines():
        current: pathlib.Path | None = None
        for path, name in _REF.findall(line):
            if path:
                current = ROOT / path
                assert current.exists(), f"threat model cites {path}, which does not exist"
            if name:
                assert current is not None, f"::{name} in {line[:80]!r} has no file before it"
                assert name in _functions(current), f"threat model cites {current.name}::{name}, which does not exist"
                cited += 1
    assert cited >= 40, f"only {cited} tests cited: the parser no longer reads the page"
