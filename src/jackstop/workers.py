"""`jackstop serve --workers N`: N gateway processes accepting on one listening socket.

The supervisor (this process) binds nothing new: it hands the socket the CLI bound to N spawned
workers, each a whole gateway (uvicorn + Gateway). Caps stay exact across them:
- Redis counters (scale-out tier) are shared already; each admission is one atomic script.
- In-process counters (embedded tier) live here, in the supervisor, which answers every worker's
  admissions one at a time over a unix socket (jackstop.counters.shared).
The ledger is written by every worker (SQLite in WAL mode takes one writer at a time; each worker's
writer thread retries a busy database like any failed batch), and each worker keeps its own
reservation journal (one file per process, flock-ed), so recovery after a crash stays per process.

A worker that dies is started again; SIGTERM/SIGINT stops the workers gracefully, then the supervisor.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
from typing import Any

from jackstop.config import Settings
from jackstop.home import Home

log = logging.getLogger("jackstop.gateway")


def _worker(settings: Settings, home: Home, sock: socket.socket) -> None:
    from jackstop.gateway import logs
    from jackstop.server import make_server

    _die_with_parent()
    logs.setup(settings.log.level, settings.log.file)
    server, _app = make_server(settings, home)
    server.run(sockets=[sock])


def _die_with_parent() -> None:
    """Linux: a worker whose supervisor is killed (-9) stops too, instead of holding the port while
    every admission fails closed for want of the supervisor's counters."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # other platforms: the workers fail closed (503) instead
        pass


def _seed(settings: Settings, home: Home) -> Any:
    """Seed counters from the ledger, as a single gateway does (jackstop.gateway.seed)."""
    from jackstop.control import Control
    from jackstop.gateway.seed import LedgerSeed
    from jackstop.gateway.state import State

    store = Control.open(settings, home, create=False).store
    state = State(store, home, settings.secrets)
    ledger_seed = LedgerSeed(store, state)

    def seed(check: Any) -> int:
        state.apply(store.changes_since(state.epoch))  # client tokens created since start count too
        return ledger_seed(check)

    return seed


def serve_workers(settings: Settings, home: Home, sock: socket.socket, workers: int) -> int:
    counters_url = settings.counters.url
    server = None
    if counters_url == "memory://":
        from jackstop.counters.shared import SCHEME, AdmissionServer

        run_dir = home.path / "run"
        run_dir.mkdir(mode=0o700, exist_ok=True)
        run_dir.chmod(0o700)  # an existing run/ with looser modes is tightened, not trusted
        server = AdmissionServer(str(run_dir / f"admission-{os.getpid()}.sock"), seed=_seed(settings, home))
        from jackstop import config as cfg

        settings = settings.model_copy(update={"counters": cfg.CountersSettings.model_construct(
            **{**settings.counters.model_dump(), "url": SCHEME + server.path})})
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if server is not None:
        loop.run_until_complete(server.start())
    ctx = multiprocessing.get_context("spawn")

    def spawn() -> Any:
        p = ctx.Process(target=_worker, args=(settings, home, sock),
                        name="jackstop-worker", daemon=False)
        p.start()
        return p

    procs = [spawn() for _ in range(workers)]
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    async def supervise() -> None:
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), 0.5)
            except TimeoutError:
                pass
            for i, p in enumerate(procs):
                if not p.is_alive() and not stopping.is_set():
                    log.error("gateway worker %d exited (code %s); starting it again", p.pid, p.exitcode)
                    procs[i] = spawn()
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
        # Keep answering admissions and settlements while the workers drain their requests.
        for _ in range(300):
            if not any(p.is_alive() for p in procs):
                break
            await asyncio.sleep(0.1)
        for p in procs:
            if p.is_alive():
                p.kill()

    try:
        loop.run_until_complete(supervise())
    finally:
        if server is not None:
            loop.run_until_complete(server.close())
        loop.close()
    return 0
