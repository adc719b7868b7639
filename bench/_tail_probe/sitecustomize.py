"""Loaded by bench/tail_sources.py into the gateway it starts (through PYTHONPATH), and only when
JACKSTOP_TAIL_PROBE names an output file: records when the event loop ran late, when the ledger
writer and the monitor worked on a batch, and when the garbage collector ran, so the script can
tell which of them overlapped each stall. It patches the gateway at import; nothing of it is
part of jackstop."""

import gc
import importlib.abc
import importlib.util
import json
import os
import sys
import threading
import time

OUT = os.environ.get("JACKSTOP_TAIL_PROBE")
TICK = 0.001  # the loop is asked to run a callback every millisecond
LATE = 0.0015  # later than this is a stall worth attributing

if OUT:
    rec: dict[str, list] = {"stalls": [], "ledger": [], "monitor": [], "gc": []}
    ticks = [0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            on_gc.t0 = time.perf_counter()  # type: ignore[attr-defined]
        else:
            rec["gc"].append((on_gc.t0, time.perf_counter(), info["generation"]))  # type: ignore[attr-defined]

    gc.callbacks.append(on_gc)

    def timed(cls: type, name: str, key: str) -> None:
        inner = getattr(cls, name)

        def wrapper(self, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
            t0 = time.perf_counter()
            result = inner(self, *a, **kw)
            rec[key].append((t0, time.perf_counter()))
            return result
        setattr(cls, name, wrapper)

    def on_import(name: str, module: object) -> None:
        if name == "jackstop.gateway.ledger":
            timed(module.LedgerWriter, "_drain", "ledger")
        elif name == "jackstop.monitor.live":
            timed(module.Monitor, "process_pending", "monitor")
        elif name == "jackstop.gateway.app":
            startup = module.Gateway.startup

            async def probed_startup(self):  # noqa: ANN001, ANN202
                await startup(self)
                import asyncio
                loop = asyncio.get_running_loop()

                def tick(due: float) -> None:
                    now = time.perf_counter()
                    ticks[0] += 1
                    if now - due > LATE:
                        rec["stalls"].append((due, now - due))
                    loop.call_later(TICK, tick, now + TICK)
                loop.call_soon(tick, time.perf_counter())
            module.Gateway.startup = probed_startup

    class Hook(importlib.abc.MetaPathFinder):
        WATCH = {"jackstop.gateway.ledger", "jackstop.monitor.live", "jackstop.gateway.app"}

        def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201
            if name not in self.WATCH:
                return None
            self.WATCH = self.WATCH - {name}
            sys.meta_path.remove(self)
            try:
                spec = importlib.util.find_spec(name)
            finally:
                sys.meta_path.insert(0, self)
            run = spec.loader.exec_module

            def exec_module(module):  # noqa: ANN001, ANN202
                run(module)
                on_import(name, module)
            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Hook())

    def dump() -> None:
        # Written once, when the script asks (after wrk has finished), so that serialising the
        # records never stalls the loop being measured.
        while not os.path.exists(OUT + ".go"):
            time.sleep(0.2)
        data = {**rec, "ticks": ticks[0]}
        with open(OUT + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(OUT + ".tmp", OUT)

    threading.Thread(target=dump, name="tail-probe", daemon=True).start()
