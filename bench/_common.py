"""Helpers shared by the gateway benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_debian_tools(tools: dict[str, str]) -> bool:
    """Install missing command-line tools from Debian where apt is available (root only)."""
    missing = {cmd: pkg for cmd, pkg in tools.items() if shutil.which(cmd) is None and not os.path.exists(f"/usr/sbin/{cmd}")}
    if not missing:
        return True
    if shutil.which("apt-get") and os.geteuid() == 0:
        pkgs = sorted(set(missing.values()))
        print(f"installing {', '.join(pkgs)} from Debian for the benchmark...", flush=True)
        r = subprocess.run(["apt-get", "install", "-y", "-q", *pkgs], capture_output=True)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            r = subprocess.run(["apt-get", "install", "-y", "-q", *pkgs], capture_output=True)
        if r.returncode == 0:
            return True
    print(f"skipped: needs {', '.join(missing)} (Debian packages {', '.join(sorted(set(missing.values())))})")
    return False


def wait_http(url: str, method: str = "GET", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None),
                                   timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")
