"""`jackstop hook install`: a git pre-commit hook that refuses commits containing keys."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

MARKER = "# installed by: jackstop hook install"

HOOK = """#!/bin/sh
{marker}
# Scans what is staged for leaked AI-provider keys before each commit.
# Runs the jackstop of the Python that installed this hook, else the first `jackstop` on PATH
# (the virtualenv may since have moved or been deleted).
JACKSTOP_PYTHON={python}
if [ -x "$JACKSTOP_PYTHON" ] && "$JACKSTOP_PYTHON" -c 'import jackstop' 2>/dev/null; then
  set -- "$JACKSTOP_PYTHON" -m jackstop
elif command -v jackstop >/dev/null 2>&1; then
  set -- jackstop
else
  echo "jackstop: commit refused: the pre-commit hook cannot find jackstop (not in $JACKSTOP_PYTHON, not on PATH); install it, or run \\`jackstop hook install --force\\` from where it is installed" >&2
  exit 1
fi
"$@" scan --staged
status=$?
if [ "$status" -eq 1 ]; then
  cat >&2 <<'MSG'

jackstop: commit refused, a key is staged (see above).
  1. Remove the key from the file (read it from an environment variable or the jackstop
     gateway instead) and `git add` the file again.
  2. Rotate the key at the provider now: treat it as leaked even if it never left this machine.
  3. If this is a deliberate test value, add `# jackstop:allow` to its line.
MSG
  exit 1
elif [ "$status" -ne 0 ]; then
  echo "jackstop: the scan failed (exit $status), so the commit is refused; fix the error above." >&2
  exit "$status"
fi
exit 0
"""


class HookError(ValueError):
    pass




def install(repo: Path, force: bool = False) -> Path:
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--git-path", "hooks"],
                             capture_output=True, text=True, check=True).stdout.strip()
    except FileNotFoundError:
        raise HookError("git is not installed or not on PATH") from None
    except subprocess.CalledProcessError:
        raise HookError(f"{repo} is not a git repository; run this inside the repository to protect") from None
    hooks = Path(out) if os.path.isabs(out) else repo / out
    hooks.mkdir(parents=True, exist_ok=True)
    target = hooks / "pre-commit"
    if target.exists() and MARKER not in target.read_text(errors="replace") and not force:
        raise HookError(f"{target} already exists and is not jackstop's; add `jackstop scan --staged` to it, "
                        "or pass --force to replace it")
    target.write_text(HOOK.format(marker=MARKER, python=shlex.quote(sys.executable)))
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target
