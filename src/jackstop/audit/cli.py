"""`jackstop audit`: the command line of the supply-chain auditor (stdlib-only imports here)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LEVELS = ("info", "low", "medium", "high", "critical")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "audit",
        help="check environments and lock files for malicious, tampered or stealer-shaped packages",
        description=(
            "Audit Python environments, lock files and npm installs for known-malicious releases (OSV feed), "
            "files changed after install, code that runs at interpreter start (.pth), indicators of compromise, "
            "and credential-stealer shapes. With no input option: the running environment and every lock or "
            "requirements file in the current directory. Nothing audited is imported or executed."
        ),
    )
    p.add_argument("--env", action="append", default=[], metavar="PATH", type=Path,
                   help="a virtualenv root or site-packages folder to audit (repeatable)")
    p.add_argument("--lockfile", action="append", default=[], metavar="FILE", type=Path,
                   help="requirements*.txt, poetry.lock, uv.lock, Pipfile.lock, pdm.lock, package-lock.json, "
                        "yarn.lock, pnpm-lock.yaml, pyproject.toml or package.json (repeatable)")
    p.add_argument("--node-modules", action="append", default=[], metavar="DIR", type=Path,
                   help="an installed node_modules folder (repeatable)")
    p.add_argument("--code", action="append", default=[], metavar="DIR", type=Path,
                   help="any source tree (plugin, vendored or unpacked package) for the stealer heuristics (repeatable)")
    p.add_argument("--feed", action="append", default=[], metavar="PATH", type=Path,
                   help="more OSV advisories: a folder or zip of OSV JSON files, or one file (repeatable)")
    p.add_argument("--iocs", action="append", default=[], metavar="FILE", type=Path,
                   help="more indicators of compromise, in jackstop's IOC JSON format (repeatable)")
    p.add_argument("--host", nargs="?", const=Path("~"), default=None, metavar="HOME", type=Path,
                   help="also look for dropped persistence files under HOME (default: your home) and at known paths")
    p.add_argument("--ide", nargs="*", default=None, metavar="PATH", type=Path,
                   help="IDE extensions and plugins that steal AI keys: with no PATH, the installed VS Code, Cursor, "
                        "Windsurf extensions and JetBrains plugins; else these .vsix, .jar, .zip files or plugin folders")
    p.add_argument("--ide-root", default=None, metavar="HOME", type=Path,
                   help="the home folder to look for installed IDE extensions under (default: $JACKSTOP_IDE_ROOT or ~)")
    p.add_argument("--format", choices=("table", "json", "sarif"), default="table")
    p.add_argument("--fail-on", choices=LEVELS, default="high",
                   help="exit 1 when a finding at or above this severity exists (default: high)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress on stderr (default: when stderr is a terminal)")
    p.set_defaults(func=handle)
    sub = p.add_subparsers(dest="audit_command", metavar="{feed}")
    feed = sub.add_parser("feed", help="the local advisory feed (OSV exports, loaded offline)")
    feed_sub = feed.add_subparsers(dest="feed_command", metavar="{update,status}", required=True)
    up = feed_sub.add_parser("update", help="load OSV export zips (osv-PyPI.zip, osv-npm.zip) into the local feed",
                             description="Replace the local feed with the PyPI and npm advisories (MAL-* and the "
                                         "rest) of OSV export zips you downloaded; the curated entries shipped with "
                                         "jackstop stay and win. Stored under $JACKSTOP_HOME/feed or the user cache.")
    up.add_argument("--from", dest="sources", action="append", required=True, metavar="ZIP", type=Path,
                    help="an OSV export zip (repeatable)")
    up.set_defaults(func=handle_feed)
    st = feed_sub.add_parser("status", help="the local feed's size and age (warns when older than 7 days)")
    st.set_defaults(func=handle_feed)


def handle(args: argparse.Namespace) -> int:
    from jackstop.audit.findings import Severity
    from jackstop.audit.lockfiles import LockfileError
    from jackstop.audit.options import build_options
    from jackstop.audit.report import RENDERERS
    from jackstop.audit.runner import run_audit
    from jackstop.errors import UsageError

    from jackstop.audit import localfeed

    options = build_options(args)
    st = localfeed.status()
    if st is not None and st.stale():
        print(f"jackstop audit: {localfeed.describe(st)}", file=sys.stderr)
    try:
        result = run_audit(options)
    except LockfileError as exc:
        raise UsageError(str(exc)) from None
    out = RENDERERS[args.format](result.findings, result.stats)
    sys.stdout.write(out + "\n")
    threshold = Severity.parse(args.fail_on)
    return 1 if any(f.severity >= threshold for f in result.findings) else 0


def handle_feed(args: argparse.Namespace) -> int:
    from jackstop.audit import localfeed
    from jackstop.audit.osv import FeedError
    from jackstop.errors import UsageError

    if args.feed_command == "update":
        try:
            st = localfeed.update(list(args.sources))
        except FeedError as exc:
            raise UsageError(str(exc)) from None
    else:
        st = localfeed.status()
    print(localfeed.describe(st))
    return 1 if st is not None and st.stale() and args.feed_command == "status" else 0
