"""The table layout is the store's business: no module outside jackstop/store/ holds SQL."""

from __future__ import annotations

import io
import pathlib
import re
import tokenize

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "jackstop"
STORE = SRC / "store"

SQL = re.compile(r"\b(SELECT\b[^;]{0,300}?\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"(CREATE|ALTER|DROP)\s+(UNIQUE\s+)?(TABLE|INDEX|VIEW|TRIGGER)|LISTEN\s+\w+|NOTIFY\s+\w+|"
                 r"pg_notify|pg_advisory|PRAGMA\s+\w+|ON\s+CONFLICT|RETURNING\s+\w+)\b")  # SQL is written upper-case here
# Calls that hand SQL to a database driver or to a raw door of the store (a Redis pipeline's
# execute(), with no argument or only raise_on_error=, is not one).
CALLS = re.compile(r"\.(execute|executemany|executescript|query|execute_returning|ensure_schema)"
                   r"\(\s*(?!raise_on_error=)[^)\s]")


def strings(text: str) -> list[tuple[int, str]]:
    """Every string literal (f-string parts included) with its line, docstrings left out."""
    out = []
    prev = tokenize.NEWLINE
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        kind = tok.type
        if kind == tokenize.STRING and prev in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
            prev = kind  # a docstring or a bare string statement: prose, not a query
            continue
        if kind == tokenize.STRING or kind == getattr(tokenize, "FSTRING_MIDDLE", -1):
            out.append((tok.start[0], tok.string))
        if kind not in (tokenize.COMMENT,):
            prev = kind
    return out


def offences() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if STORE in path.parents:
            continue
        text = path.read_text(encoding="utf-8")
        if not SQL.search(text) and not CALLS.search(text):
            continue  # most files: nothing to look at closely
        rel = path.relative_to(SRC.parent)
        for line, s in strings(text):
            if SQL.search(s):
                found.append(f"{rel}:{line}: SQL in a string: {s[:80]}")
        for n, code in enumerate(text.splitlines(), 1):
            if CALLS.search(code.split("#", 1)[0]):
                found.append(f"{rel}:{n}: raw database call: {code.strip()[:80]}")
    return found


def test_no_sql_outside_the_store():
    found = offences()
    assert found == [], "SQL belongs in jackstop/store/ (add a repository method there):\n" + "\n".join(found)


def test_the_check_sees_sql_where_it_hides(tmp_path):
    """The scan itself finds a query in an f-string, across lines, and a driver call."""
    pkg = tmp_path / "src" / "jackstop"
    (pkg / "store").mkdir(parents=True)
    (pkg / "store" / "ok.py").write_text('Q = "SELECT n FROM epoch"\n')
    (pkg / "bad.py").write_text('"""A docstring may say SELECT x FROM y."""\n'
                                'def f(store, t):\n'
                                '    return store.rows(f"SELECT *\\n FROM {t}")\n'
                                'def g(conn):\n'
                                '    conn.execute(name)\n')
    global SRC, STORE
    old = SRC, STORE
    SRC, STORE = pkg, pkg / "store"
    try:
        found = offences()
    finally:
        SRC, STORE = old
    assert [f.split(":")[0:2] for f in found] == [["jackstop/bad.py", "3"], ["jackstop/bad.py", "5"]]
