"""`jackstop demo` runs end to end: the attack is detected, the key suspended, the numbers printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_catches_the_attack(tmp_path) -> None:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
    env["TMPDIR"] = str(tmp_path)
    res = subprocess.run([sys.executable, "-m", "jackstop", "demo", "--fast"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    susp = re.search(r"key suspended:\s+([\d.]+) s", out)
    assert susp and float(susp.group(1)) < 30, out
    assert "-> SUSPEND" in out and "403 key_suspended" in out
    spent = float(re.search(r"spent by the attacker through jackstop: \$([\d,.]+)", out).group(1).replace(",", ""))
    unchecked = float(re.search(r"the same traffic with no gateway:\s+\$([\d,.]+)", out).group(1).replace(",", ""))
    assert spent < unchecked / 2  # requests already in flight at suspension still finish
    served, refused = map(int, re.search(r"(\d+) of the resold ones served, (\d+) refused", out).groups())
    assert refused > served
    assert "Traceback" not in res.stderr
