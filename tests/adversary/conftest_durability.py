"""Helpers for the durability tests (crash, ledger back-pressure, faults): kill a gateway the
hard way, start it again on the same home and store, and read what its ledger holds.

Not a conftest (pytest does not load it by itself): the test modules import what they use, so
these fixtures stay out of the way of the other adversary modules.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx2 as httpx

from jackstop.pricing import Catalog, Usage, cost_nusd
from jackstop.store import LedgerRow
from tests.conftest import free_port
from tests.gateway.conftest import GatewayProc


def kill9(g: GatewayProc) -> None:
    """SIGKILL: no shutdown hook runs, nothing buffered in the process survives."""
    assert g.proc is not None
    g.proc.kill()
    g.proc.wait(timeout=30)


def restart(g: GatewayProc) -> None:
    """Start `jackstop serve` again on the same home, store and counters (a new port)."""
    g.port = free_port()
    with open(g.log_path, "ab") as log:
        g.proc = subprocess.Popen([sys.executable, "-m", "jackstop", "serve", "--port", str(g.port)], env=g.env,
                                  stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if g.proc.poll() is not None:
            raise AssertionError(f"gateway exited on restart ({g.proc.returncode}):\n{g.logs()}")
        try:
            if httpx.get(g.url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"gateway did not become healthy after restart:\n{g.logs()}")


def ledger(g: GatewayProc, key_name: str) -> list[LedgerRow]:
    assert g.control is not None
    return list(g.control.store.ledger(key_name=key_name))


def wait_for(what: str, check, timeout: float = 60.0) -> None:  # noqa: ANN001
    """Poll until `check()` is true (a deadline against hangs, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def billed_nusd(mock, kind: str, model: str) -> int:  # noqa: ANN001
    """What the provider billed: the full usage of every answer it started (a stream cut short
    by a crash is counted as if it ran to the end: the most the provider could bill)."""
    price = Catalog.load().lookup(kind, model)
    return sum(cost_nusd(Usage(input_tokens=rec.usage.input_tokens, output_tokens=rec.usage.output_tokens), price)
               for rec in mock.requests.snapshot() if rec.usage is not None)
