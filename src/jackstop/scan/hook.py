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
{command} scan --staged
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


def _command() -> str:
    exe = Path(sys.argv[0])
    if exe.name == "jackstop" and exe.exists():
        return shlex.quote(str(exe.resolve()))
    return f"{shlex.quote(sys.executable)} -m jackstop"


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
    target.write_text(HOOK.format(marker=MARKER, command=_command()))
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target
