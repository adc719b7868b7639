"""The README's "Try it without a provider key" path, run as a user would (issue 10).

Each code block of that section runs as written in a fresh shell (a new terminal), in one
folder, with the virtual environment's bin first on PATH. Only the fixed ports are swapped for
free ones, and the `jsk_…` placeholder for the key that step 3 printed, as a user pastes it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "### Try it without a provider key"
LONG_RUNNING = ("python -m jackstop.mockprovider", "jackstop serve")


def blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start)
    return re.findall(r"```(\w+)\n(.*?)```", text[start:end], flags=re.S)


class Terminal:
    """A long-running block: started in its own process group, read until it says it listens."""

    def __init__(self, code: str, cwd: Path, env: dict[str, str]) -> None:
        self.log = cwd / f"terminal-{id(self)}.log"
        self.proc = subprocess.Popen(["bash", "-c", code], cwd=cwd, env=env, stdout=self.log.open("w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.log.read_text()
            if text in out:
                return out
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{out}"
            time.sleep(0.1)
        raise AssertionError(f"no {text!r} within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def test_the_readme_has_the_steps():
    found = blocks()
    assert [lang for lang, _ in found] == ["sh", "sh", "sh", "sh", "python", "sh"]
    assert "approved_hosts" in found[1][1] and "jsk_…" in found[3][1] and "jsk_…" in found[4][1]


@pytest.mark.slow
def test_try_it_without_a_provider_key_works_as_written(tmp_path):
    mock_port, gateway_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JACKSTOP_HOME"] = str(tmp_path / "home")
    env["JACKSTOP_PORT"] = str(gateway_port)  # the README's 8787, on a free port
    key = ""

    def as_written(code: str) -> str:
        code = code.replace("9999", str(mock_port)).replace("8787", str(gateway_port))
        return code.replace("jsk_…", key) if key else code

    terminals: list[Terminal] = []
    outputs: list[str] = []
    try:
        for lang, code in blocks():
            if any(cmd in code for cmd in LONG_RUNNING):
                term = Terminal(as_written(code), tmp_path, env)
                terminals.append(term)
                outputs.append(term.wait_for("listening on"))
                continue
            assert "jsk_…" not in code or key, "a block uses the key before step 3 created it"
            argv = ["bash", "-ec", as_written(code)] if lang == "sh" else [sys.executable, "-c", as_written(code)]
            out = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, f"{code}\n{out.stdout}\n{out.stderr}"
            outputs.append(out.stdout)
            if not key and (m := re.search(r"\bjsk_[A-Za-z0-9]+", out.stdout)):
                key = m.group(0)
    finally:
        for term in reversed(terminals):
            term.stop()

    mock, gateway, setup, curl, sdk, usage = outputs
    assert f"mock provider listening on http://127.0.0.1:{mock_port}" in mock
    assert f"jackstop gateway listening on http://127.0.0.1:{gateway_port}" in gateway
    assert f"added provider mock-openai (openai) at http://127.0.0.1:{mock_port}/v1" in setup and key
    assert '"model":"gpt-4o-mini"' in curl and '"completion_tokens":' in curl
    assert sdk.startswith("mock ") and len(sdk.split()) > 3
    rows = [line.split() for line in usage.splitlines() if line.startswith("my-app")]
    assert rows and rows[0][:4] == ["my-app", "gpt-4o-mini", "2", "2"], usage
    assert re.search(r"total: \$0\.\d+ since 24h", usage)
