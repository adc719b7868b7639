"""`jackstop posture`: the command line of the scorecard (stdlib-only imports here)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

FORMATS = ("table", "json", "sarif", "html")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "posture",
        help="score an app and its gateway against the ten controls that stop LLMjacking",
        description=(
            "A scorecard of the ten controls that stop LLMjacking: a score from 0 to 10 for each, the evidence, "
            "the risk and the exact fix. PATH judges an app tree (default . when no gateway input is given); "
            "--gateway reads the local store; --admin-url reads a running gateway with a read admin token. They "
            "combine; a control the inputs cannot judge is reported as not assessed. Exit code: 0, or 1 when the "
            "score is under --fail-under, 2 on an error."
        ),
    )
    p.add_argument("path", nargs="?", metavar="PATH", help="the application's folder")
    src = p.add_argument_group("inputs")
    src.add_argument("--gateway", action="store_true",
                     help="read the local gateway store (JACKSTOP_HOME or store.url) and jackstop.toml")
    src.add_argument("--config", metavar="FILE", help="jackstop.toml for --gateway (default: $JACKSTOP_CONFIG)")
    src.add_argument("--admin-url", metavar="URL", help="read a running gateway through its admin API")
    src.add_argument("--admin-token", metavar="TOKEN",
                     help="an admin token with the read role (default: $JACKSTOP_ADMIN_TOKEN)")
    src.add_argument("--no-history", action="store_true", help="do not scan the git history of PATH")
    src.add_argument("--max-age", default="90d", metavar="DURATION",
                     help="oldest acceptable provider secret or virtual key (default 90d)")
    out = p.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default=None, help="table (default), json, sarif or html")
    out.add_argument("--json", action="store_true", help="same as --format json")
    out.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of standard output")
    out.add_argument("--fail-under", type=float, metavar="SCORE",
                     help="exit 1 when the overall score is under SCORE (0-10), for CI")
    p.add_argument("--explain", metavar="CONTROL",
                   help="teach one control (a number 1-10 or a name such as caps-and-alerts; `list` lists them) "
                        "and exit")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from jackstop.errors import UsageError
    from jackstop.durations import parse_duration

    if args.explain is not None:
        from jackstop.posture.lessons import UnknownControl, explain

        try:
            print(explain(args.explain))
        except UnknownControl as exc:
            raise UsageError(str(exc)) from None
        return 0
    fmt = args.format or ("json" if args.json else "table")
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} disagree; give one")
    if args.fail_under is not None and not 0 <= args.fail_under <= 10:
        raise UsageError("--fail-under must be a score between 0 and 10, e.g. --fail-under 7")
    if args.gateway and args.admin_url:
        raise UsageError("--gateway and --admin-url both name a gateway; give one")
    try:
        max_age = parse_duration(args.max_age) / 86400
    except ValueError as exc:
        raise UsageError(f"--max-age: {exc}") from None
    path = args.path
    if path is None and not (args.gateway or args.admin_url):
        path = "."
    token = args.admin_token or os.environ.get("JACKSTOP_ADMIN_TOKEN", "")

    from jackstop.posture.collect.local import CollectError
    from jackstop.posture.render import renderer
    from jackstop.posture.runner import run

    try:
        report = run(Path(path) if path is not None else None, gateway=args.gateway, config_path=args.config,
                     admin_url=args.admin_url, admin_token=token, history=not args.no_history,
                     max_age_days=max_age)
    except CollectError as exc:
        raise UsageError(str(exc)) from None
    text = renderer(fmt)(report)
    if args.output:
        try:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output {args.output}: cannot write ({exc.strerror}); choose a writable path") from None
        print(f"posture report written to {args.output} (score {report.score if report.score is not None else '-'}"
              f"/10)", file=sys.stderr)
    else:
        print(text)
    if args.fail_under is not None:
        if report.score is None:
            print("jackstop: nothing could be assessed, so --fail-under cannot pass; give PATH, --gateway or "
                  "--admin-url", file=sys.stderr)
            return 1
        if report.score < args.fail_under:
            print(f"jackstop: posture score {report.score}/10 is under --fail-under {args.fail_under:g}",
                  file=sys.stderr)
            return 1
    return 0
