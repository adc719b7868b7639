"""The `jackstop scan` pipeline: source -> findings -> suppress -> verify/revoke -> report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from jackstop.errors import UsageError
from jackstop.redact import redact
from jackstop.scan import archives, context, history, output, revoke, rules, suppress, tree, verify
from jackstop.scan.findings import Finding, redact_secret
from jackstop.scan.scanner import Result, Scanner


class _Progress:
    """A one-line progress display on standard error when it is a terminal; silent otherwise."""

    def __init__(self, unit: str) -> None:
        self.enabled = sys.stderr.isatty()
        self.unit = unit
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        if self.unit == "MB":
            text = f"{done / 1e6:,.1f} / {total / 1e6:,.1f} MB"
        else:
            text = f"{done:,} / {total:,} {self.unit}"
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\rscanning [{'#' * filled}{'.' * (width - filled)}] {text}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


def _check_args(args: argparse.Namespace) -> None:
    if args.since and not args.history:
        raise UsageError("--since only applies to --history; add --history")
    if args.staged and args.history:
        raise UsageError("--staged and --history scan different things; pick one")
    if args.path == "-" and (args.history or args.staged):
        raise UsageError("standard input (-) has no git history; drop --history/--staged or give a path")
    for name in ("max_archive_depth", "max_archive_bytes", "max_archive_members"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.verify_rate <= 0:
        raise UsageError("--verify-rate must be above 0 (requests per second to one provider)")
    if args.max_archive_ratio < 1:
        raise UsageError("--max-archive-ratio must be at least 1")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")


def _verify_overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        provider, sep, url = pair.partition("=")
        if not sep or not provider or not url.startswith(("http://", "https://")):
            raise UsageError(f"--verify-url {pair!r}: expected PROVIDER=http(s)://HOST, e.g. openai=http://127.0.0.1:8080")
        try:
            verify.check_override(provider, url, "--verify-url")
        except verify.VerifyError as exc:
            raise UsageError(str(exc)) from None
        out[provider] = url
    return out


def _collect(args: argparse.Namespace, scanner: Scanner, ignore: suppress.IgnoreList) -> Result:
    if args.path == "-":
        return scanner.scan_reader(sys.stdin.buffer, "(stdin)")
    root = Path(args.path)
    if not root.exists():
        raise UsageError(f"{args.path}: no such file or folder; give a path to scan, or - for standard input")
    if args.staged or args.history:
        repo = root if root.is_dir() else root.parent
        try:
            if args.staged:
                return history.scan_staged(scanner, repo)
            progress = _Progress("objects")
            try:
                return history.scan_history(scanner, repo, args.since, workers=args.workers, progress=progress)
            finally:
                progress.close()
        except history.GitError as exc:
            raise UsageError(str(exc)) from None
    try:
        files = list(tree.list_files(root, args.respect_gitignore, ignore))
    except tree.TreeError as exc:
        raise UsageError(str(exc)) from None
    progress = _Progress("MB")
    try:
        return tree.scan_files(scanner, files, workers=args.workers, progress=progress)
    finally:
        progress.close()


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    overrides = _verify_overrides(args.verify_url)
    try:
        ruleset = rules.load(Path(args.rules) if args.rules else None)
    except (rules.RulesError, OSError) as exc:
        raise UsageError(f"--rules {args.rules}: {exc}") from None
    limits = archives.Limits(
        max_depth=args.max_archive_depth, max_total=args.max_archive_bytes << 20,
        max_ratio=args.max_archive_ratio, max_members=args.max_archive_members,
    )
    scan_root = Path(args.path) if args.path != "-" else Path(".")
    ignore_path = Path(args.ignore_file) if args.ignore_file else (
        (scan_root if scan_root.is_dir() else scan_root.parent) / suppress.IGNORE_FILE)
    try:
        if args.ignore_file and not ignore_path.exists():
            raise suppress.SuppressError(f"--ignore-file {ignore_path} does not exist")
        ignore = suppress.IgnoreList.load(ignore_path)
        baseline = suppress.load_baseline(Path(args.baseline)) if args.baseline else set()
    except suppress.SuppressError as exc:
        raise UsageError(str(exc)) from None

    started = time.monotonic()
    result = _collect(args, Scanner(ruleset, limits), ignore)
    elapsed = time.monotonic() - started
    context.adjust(result.findings)
    findings = [f for f in result.findings if not ignore.suppresses(f) and f.fingerprint not in baseline
                and context.at_least(f.confidence, args.min_confidence)]
    findings.sort(key=lambda f: (f.path, f.line, f.column, f.rule))

    for err in result.errors:
        print(f"jackstop: warning: {redact(str(err))}", file=sys.stderr)

    if args.write_baseline:
        suppress.write_baseline(Path(args.write_baseline), findings)
        print(f"baseline written to {args.write_baseline}: {len(findings)} finding(s) recorded; "
              f"later scans with --baseline {args.write_baseline} report only new ones", file=sys.stderr)
        return 0
    if args.verify and findings:
        try:
            verify.verify_findings(findings, ruleset, overrides, timeout=args.verify_timeout,
                                   limiter=verify.RateLimiter(args.verify_rate))
        except verify.VerifyError as exc:
            raise UsageError(str(exc)) from None
    if args.revoke:
        outcomes = revoke.revoke_leaked(findings)
        for o in outcomes:
            print(f"jackstop: revoke {redact_secret(o.secret)}: {o.status} ({o.detail})", file=sys.stderr)
    _emit(args, findings, ruleset, result)
    hidden = sum(1 for f in result.findings if not context.at_least(f.confidence, args.min_confidence))
    print(_summary(result, elapsed, len(findings), hidden, args.min_confidence), file=sys.stderr)
    if findings:
        return 1
    return 2 if result.errors else 0


def _summary(result: Result, seconds: float, found: int, hidden: int, minimum: str) -> str:
    mb = result.bytes_scanned / 1e6
    rate = f", {mb / seconds:,.1f} MB/s" if seconds > 0 and mb >= 1 else ""
    text = (f"jackstop: read {result.files_scanned:,} file{'s' if result.files_scanned != 1 else ''} "
            f"({_size(result.bytes_scanned)}) in {seconds:,.2f} s{rate}; {found} finding{'s' if found != 1 else ''}")
    if hidden:
        text += f" ({hidden} below --min-confidence {minimum} not shown)"
    return text


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} bytes"


def _emit(args: argparse.Namespace, findings: list[Finding], ruleset: rules.RuleSet, result: Result) -> None:
    if args.format == "json":
        text = output.as_json(findings, result.errors, args.show_secrets)
    elif args.format == "jsonl":
        text = output.as_jsonl(findings, args.show_secrets)
    elif args.format == "sarif":
        text = output.as_sarif(findings, ruleset, result.errors, args.show_secrets)
    else:
        text = output.table(findings, args.show_secrets)
    if args.output:
        try:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output {args.output}: cannot write ({exc.strerror}); choose a writable path") from None
    elif text:
        print(text)
