"""The one `jackstop` command. Each face registers its own subcommands.

Group modules are imported here only to build the parser: they must stay light at import
time (no server, SDK or database imports at module level), so `jackstop --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from jackstop import __version__

# Modules that define `register(subparsers)`. Order is the order of `jackstop --help`.
GROUPS = (
    "jackstop.gateway.cli",
    "jackstop.alerts.cli",
    "jackstop.monitor.cli",
    "jackstop.scan.cli",
    "jackstop.audit.cli",
    "jackstop.posture.cli",
)


class UsageError(Exception):
    """A mistake of the caller's: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except UsageError as exc:
        print(f"jackstop: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
