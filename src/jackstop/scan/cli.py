"""`jackstop scan` and `jackstop hook install`. Imports here stay stdlib-only; the scanner
itself is imported inside the handlers so `jackstop --help` stays instant."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "scan",
        help="find leaked AI-provider keys in files, git history, archives and notebooks",
        description="Find leaked AI-provider keys (and jackstop's own keys). Exit code: 0 nothing found, "
                    "1 keys found, 2 error.",
    )
    p.add_argument("path", nargs="?", default=".", help="file or folder to scan (default .); - reads standard input")
    src = p.add_argument_group("what to scan")
    src.add_argument("--history", action="store_true",
                     help="scan every blob reachable from every ref (all branches, tags, stashes) and commit messages")
    src.add_argument("--since", metavar="REV", help="with --history: only commits after REV")
    src.add_argument("--staged", action="store_true", help="scan what is staged for the next commit (pre-commit hook)")
    src.add_argument("--respect-gitignore", action="store_true", help="skip files git ignores")
    out = p.add_argument_group("output")
    out.add_argument("--format", choices=("table", "json", "jsonl", "sarif"), default="table")
    out.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of standard output")
    out.add_argument("--show-secrets", action="store_true", help="print full key values (default: first 6, last 4)")
    sup = p.add_argument_group("suppressing findings")
    sup.add_argument("--min-confidence", choices=("low", "medium", "high"), default="low",
                     help="report only findings at this confidence or above: high = a distinctive key format; "
                          "medium/low = found by context (setting names, SDK calls) or in test/example/docs paths")
    sup.add_argument("--baseline", metavar="FILE", help="report only findings not recorded in FILE")
    sup.add_argument("--write-baseline", metavar="FILE", help="record today's findings in FILE and exit 0")
    sup.add_argument("--ignore-file", metavar="FILE",
                     help="paths and fingerprints to skip (default: .jackstopignore in the scanned folder)")
    sup.add_argument("--rules", metavar="FILE", help="use this rules file instead of the built-in one")
    act = p.add_argument_group("verification and response")
    act.add_argument("--verify", action="store_true",
                     help="ask each provider whether the key is live (read-only request; never without this flag)")
    act.add_argument("--verify-url", action="append", default=[], metavar="PROVIDER=URL",
                     help="testing only: send PROVIDER's check to a loopback server such as a mock provider "
                          "(also JACKSTOP_VERIFY_URL_<PROVIDER>); any other host is refused")
    act.add_argument("--verify-rate", type=float, default=2.0, metavar="PER_SECOND",
                     help="at most this many verification requests per second to one provider (default 2)")
    act.add_argument("--verify-timeout", type=float, default=10.0, metavar="SECONDS")
    act.add_argument("--revoke", action="store_true",
                     help="revoke leaked jackstop keys (jsk_) in the local gateway store or via JACKSTOP_URL")
    lim = p.add_argument_group("limits")
    lim.add_argument("--max-archive-depth", type=int, default=5, metavar="N")
    lim.add_argument("--max-archive-bytes", type=int, default=1024, metavar="MIB",
                     help="unpacked bytes allowed per archive (default 1024 MiB)")
    lim.add_argument("--max-archive-ratio", type=float, default=100.0, metavar="RATIO")
    lim.add_argument("--max-archive-members", type=int, default=100_000, metavar="N")
    lim.add_argument("--workers", type=int, default=None, metavar="N", help="parallel scanner processes (default: CPUs)")
    p.set_defaults(func=_scan)

    h = subparsers.add_parser("hook", help="install the git pre-commit hook that blocks committed keys")
    hsub = h.add_subparsers(dest="hook_command", metavar="ACTION")
    hi = hsub.add_parser("install", help="write .git/hooks/pre-commit running `jackstop scan --staged`")
    hi.add_argument("--repo", default=".", help="repository to protect (default .)")
    hi.add_argument("--force", action="store_true", help="replace an existing pre-commit hook")
    hi.set_defaults(func=_hook_install)
    h.set_defaults(func=lambda args: (h.print_help(), 2)[1])


def _hook_install(args: argparse.Namespace) -> int:
    from jackstop.errors import UsageError
    from jackstop.scan import hook

    try:
        target = hook.install(Path(args.repo), force=args.force)
    except hook.HookError as exc:
        raise UsageError(str(exc)) from None
    print(f"installed {target}: commits with leaked keys will be refused")
    return 0


def _scan(args: argparse.Namespace) -> int:
    from jackstop.scan.run import run

    return run(args)
