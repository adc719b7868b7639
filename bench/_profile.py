"""Profile the gateway under load: py-spy samples `jackstop serve` (embedded tier, full pipeline) while
wrk drives 16 connections, JSON then streaming, against the nginx upstream of bench/overhead.py.

Writes bench/profiles/LABEL-MODE.txt: the functions with the most samples, own and inclusive. Needs py-spy (dev group) and ptrace rights (root, or
kernel.yama.ptrace_scope=0).

    python bench/_profile.py LABEL [--seconds 10] [--workers 1]
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from overhead import ROOT, Gateway, request_body, run_wrk, start_upstream, wrk_script  # noqa: E402


def summarise(raw: pathlib.Path, top: int = 40) -> str:
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")"
                  if " (" in f else f for f in stack.split(";")]
        count = int(n)
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    out = [f"{total} samples\n", f"own time (top {top}):"]
    out += [f"{100 * c / total:6.1f}%  {f}" for f, c in own.most_common(top)]
    out += ["", f"inclusive time (top {top}):"]
    out += [f"{100 * c / total:6.1f}%  {f}" for f, c in incl.most_common(top)]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("label")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", action="store_true", help="keep each thread's name at the root of its stacks")
    ap.add_argument("--modes", default="json,stream")
    args = ap.parse_args()
    pyspy = shutil.which("py-spy") or str(pathlib.Path(sys.executable).parent / "py-spy")
    out_dir = ROOT / "bench" / "profiles"
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jackstop-profile-"))
    upstream, up_port = start_upstream(tmp)
    g = None
    try:
        g = Gateway(tmp, "embedded", up_port, {}, args.workers, "0")
        for mode in args.modes.split(","):
            script = wrk_script(tmp, mode, request_body(mode == "stream"), g.keys["stream" if mode == "stream" else "plain"])
            run_wrk(g.url + "/v1/chat/completions", script, 16, 2)  # warm up
            raw = tmp / f"{mode}.raw"
            spy = subprocess.Popen([pyspy, "record", "-p", str(g.proc.pid), "-r", "250", "-d", str(args.seconds),
                                    "--format", "raw", "-o", str(raw), "--subprocesses", "--nonblocking"]
                                   + (["--threads"] if args.threads else []),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            run_wrk(g.url + "/v1/chat/completions", script, 16, args.seconds + 1)
            spy.wait()
            (out_dir / f"{args.label}-{mode}.txt").write_text(summarise(raw))
            print(f"wrote {out_dir / f'{args.label}-{mode}.txt'}")
        return 0
    finally:
        if g is not None:
            g.stop()
        upstream.terminate()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
