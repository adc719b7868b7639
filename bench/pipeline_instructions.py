"""Instructions per request of jackstop's pipeline, in process (bench/pipeline_cpu.py's harness), counted
by valgrind's callgrind: the same count on a quiet or a loaded machine, so a change of 1-2% shows,
where CPU seconds on a shared 2-core VM vary by 30% between runs of the same code. It counts no
kernel time: it measures the pipeline's own Python, not its system calls or GIL hand-offs.

Two runs per checkout, N1 and N2 requests after the same warm-up and set-up; the difference over
N2 - N1 is the cost of one request. About 4 minutes per checkout and mode (both runs in parallel).

    python bench/pipeline_instructions.py [--mode json|stream] [--before CHECKOUT]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def collected(src: pathlib.Path, mode: str, n: int) -> int:
    """Instructions callgrind counted for a whole run of `n` requests with the code in `src`."""
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
           str(ROOT / "bench" / "pipeline_cpu.py"), "--n", str(n), "--repeat", "1", "--modes", mode]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    m = re.search(r"Collected : (\d+)", r.stderr)
    if r.returncode != 0 or m is None:
        raise SystemExit(f"callgrind run failed for {src} ({mode}, n={n}):\n{r.stderr[-2000:]}")
    return int(m.group(1))


def per_request(src: pathlib.Path, mode: str, n1: int, n2: int) -> float:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda n: collected(src, mode, n), (n1, n2))
    return (b - a) / (n2 - n1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", default="json", choices=["json", "stream"])
    ap.add_argument("--before", metavar="CHECKOUT", help="another checkout (e.g. a worktree of main) to compare")
    ap.add_argument("--n1", type=int, default=100)
    ap.add_argument("--n2", type=int, help="default 2100 (`make bench QUICK=1`: 1100)")
    args = ap.parse_args()
    if args.n2 is None:
        args.n2 = 1100 if os.environ.get("JACKSTOP_BENCH_QUICK") else 2100
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind); skipped")
        return 0
    after = per_request(ROOT / "src", args.mode, args.n1, args.n2)
    print(f"{args.mode}: {after:,.0f} instructions per request ({ROOT / 'src'})")
    if args.before:
        before = per_request(pathlib.Path(args.before).resolve() / "src", args.mode, args.n1, args.n2)
        print(f"{args.mode}: {before:,.0f} instructions per request ({args.before}); "
              f"after / before = {after / before:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
