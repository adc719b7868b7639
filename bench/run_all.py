"""`make bench`: run every benchmark script in this folder, one after another.

Each script prints its own figures and ratios against a baseline measured in the same run.
Files starting with `_` are shared helpers, not benchmarks.
"""

import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).resolve().parent
scripts = sorted(p for p in here.glob("*.py") if p.name != "run_all.py" and not p.name.startswith("_"))
only = set(sys.argv[1:])
failed = []
for script in scripts:
    if only and script.stem not in only:
        continue
    print(f"\n=== {script.name} ===", flush=True)
    if subprocess.call([sys.executable, str(script)]) != 0:
        failed.append(script.name)
if failed:
    print(f"\nfailed: {', '.join(failed)}")
    sys.exit(1)
