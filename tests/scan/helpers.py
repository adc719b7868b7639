"""Helpers for the scanner tests: fresh keys from the rules' templates, and a CLI runner."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from jackstop.cli import main
from jackstop.scan import rules, samples
from jackstop.scan.scanner import Scanner


@dataclass
class Planted:
    rule: str
    text: str  # the line(s) to write into a file
    secret: str


def plant(rule_id: str, rng: random.Random, example: int = 0) -> Planted:
    rule = rules.load().by_id(rule_id)
    text, secret = samples.expand(rule.examples[example % len(rule.examples)], rng)
    assert secret, f"{rule_id}: example has no [[secret]] marker"
    return Planted(rule_id, text, secret)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> CliResult:
    """Run `jackstop ARGS` in this process (fast); stdin via a real buffer when given."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    import os

    old_cwd = os.getcwd()
    try:
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse errors
                code = int(exc.code or 0)
    finally:
        sys.stdin = old_stdin
        os.chdir(old_cwd)
    return CliResult(code, out.getvalue(), err.getvalue())


def git(repo: Path, *args: str, env: dict | None = None) -> str:
    import os

    base = {**os.environ, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org",
            "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.org",
            "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={**base, **(env or {})}).stdout


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path
