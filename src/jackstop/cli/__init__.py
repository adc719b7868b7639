"""The one `jackstop` command. Each face registers its own subcommands.

Group modules are imported here only to build the parser: they must stay light at import
time (no server, SDK or database imports at module level), so `jackstop --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from jackstop import __version__
from jackstop.extras import MissingExtra

# Modules that define `register(subparsers)`. Order is the order of `jackstop --help`.
GROUPS = (
    "jackstop.cli.gateway",
    "jackstop.alerts.cli",
    "jackstop.monitor.cli",
    "jackstop.cli.demo",
    "jackstop.scan.cli",
    "jackstop.audit.cli",
    "jackstop.posture.cli",
)


from jackstop.errors import UsageError  # noqa: F401  (re-exported for `from jackstop.cli import UsageError`)


class Parser(argparse.ArgumentParser):
    """argparse, except that a value such as `-5/day` or `-$3` is a value (for validation to explain),
    not an unknown option ("expected one argument"). Subparsers inherit the class."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._negative_number_matcher = re.compile(r"^-\$?(\d+\.?\d*|\.\d+)(/\S*)?$")


def _selected(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub)parser the command line chose, so that its errors show its own usage."""
    while True:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        chosen = sub.choices.get(getattr(args, sub.dest, None) or "") if sub is not None else None
        if chosen is None:
            return parser
        parser = chosen


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="jackstop",
        description="Stops LLMjacking: gateway, leak scanner, supply-chain auditor, posture scorecard.",
    )
    parser.add_argument("--version", action="version", version=f"jackstop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in GROUPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise  # a missing dependency, not a face that is not built yet
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        _selected(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except (UsageError, MissingExtra) as exc:
        print(f"jackstop: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
