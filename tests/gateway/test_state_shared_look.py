"""Requests share one look at the change feed, and no request is served on a view older than its arrival.

State.arefresh_if_changed(arrived): a look at the feed that began after a request arrived covers it
(every change its client could have known of was committed before it arrived). These tests hold the
two halves: requests that arrived before a look began make no look of their own (the saving: one
PRAGMA or one Redis round trip instead of one per request), and a request that arrived after the
last look began always looks, so a revoke committed just before it is seen.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time

from jackstop.gateway.state import State
from jackstop.home import Home
from jackstop.store import open_store


class CountingFeed:
    """A feed like the scale-out tier's (a Redis read): every look takes a moment and is counted."""

    exact = False

    def __init__(self) -> None:
        self.looks = 0
        self.pending = False

    async def changed(self) -> bool:
        self.looks += 1
        was, self.pending = self.pending, False
        await asyncio.sleep(0.01)  # the round trip
        return was

    def close(self) -> None:
        pass


MASTER = base64.b64encode(os.urandom(32)).decode()


def _world(tmp_path):
    home = Home(tmp_path, MASTER)
    store = open_store("", home)
    store.add_provider("oai", "openai", "https://api.openai.com/v1", "env:OPENAI_API_KEY", "test")
    store.create_key("k1", "oai", "hash-k1", "jsk_…k1", "test")
    state = State(store, home)
    return store, state


def test_requests_that_arrived_before_a_look_share_it(tmp_path):
    store, state = _world(tmp_path)
    state.feed = feed = CountingFeed()

    async def scenario() -> None:
        arrived = time.perf_counter()  # 10 requests whose heads were all read before any look began
        await asyncio.gather(*[state.arefresh_if_changed(arrived) for _ in range(10)])

    asyncio.run(scenario())
    assert feed.looks == 1
    store.close()


def test_a_request_that_arrived_after_the_look_began_looks_itself(tmp_path):
    """The revoke lands between a look and a request: that request must see it."""
    store, state = _world(tmp_path)
    state.feed = feed = CountingFeed()

    async def scenario() -> bool:
        await state.arefresh_if_changed(time.perf_counter())  # an earlier request's look
        assert state.identify("hash-k1").key.status == "active"
        store.set_key_status("k1", "revoked", "stolen", "test")  # committed now...
        feed.pending = True  # ...and announced
        await state.arefresh_if_changed(time.perf_counter())  # ...before this request arrived
        return state.identify("hash-k1").key.status == "revoked"

    assert asyncio.run(scenario())
    assert feed.looks == 2
    store.close()


def test_a_request_waits_for_a_look_under_way_that_began_after_it_arrived(tmp_path):
    """Arrived, then a look began (another request's), then this request asks: it waits for that
    look and the re-read it started, rather than looking again or running on the old view."""
    store, state = _world(tmp_path)
    state.feed = feed = CountingFeed()

    async def scenario() -> bool:
        arrived = time.perf_counter()
        store.set_key_status("k1", "revoked", "stolen", "test")
        feed.pending = True
        first = asyncio.ensure_future(state.arefresh_if_changed(time.perf_counter()))
        await asyncio.sleep(0)  # the first request's look is under way
        await state.arefresh_if_changed(arrived)
        seen = state.identify("hash-k1").key.status
        await first
        return seen == "revoked"

    assert asyncio.run(scenario())
    assert feed.looks == 1
    store.close()


def test_without_an_arrival_time_every_request_looks(tmp_path):
    store, state = _world(tmp_path)
    state.feed = feed = CountingFeed()

    async def scenario() -> None:
        await asyncio.gather(*[state.arefresh_if_changed() for _ in range(3)])

    asyncio.run(scenario())
    assert feed.looks == 3
    store.close()


def test_a_failed_look_covers_nobody(tmp_path):
    """A look that raised (Redis down) must not let requests that waited on it skip their own."""
    store, state = _world(tmp_path)

    class Broken(CountingFeed):
        async def changed(self) -> bool:
            self.looks += 1
            await asyncio.sleep(0.01)
            if self.looks == 1:
                raise ConnectionError("redis down")
            return False

    state.feed = feed = Broken()

    async def scenario() -> list:
        arrived = time.perf_counter()
        return await asyncio.gather(*[state.arefresh_if_changed(arrived) for _ in range(3)],
                                    return_exceptions=True)

    results = asyncio.run(scenario())
    assert sum(isinstance(r, ConnectionError) for r in results) == 1
    assert feed.looks >= 2  # the others looked again themselves
    store.close()


def test_the_embedded_feed_is_shared_too_and_still_sees_another_process_revoke(tmp_path):
    """SQLite's data_version (the embedded tier): one PRAGMA covers the requests that arrived before
    it; a revoke written by another connection (the CLI) before a request arrived is seen by it."""
    store, state = _world(tmp_path)
    feed = state.feed
    pragmas = []
    read = feed._data_version
    feed._data_version = lambda: pragmas.append(1) or read()
    cli = open_store("", Home(tmp_path, MASTER))

    async def scenario() -> str:
        arrived = time.perf_counter()
        for _ in range(5):
            await state.arefresh_if_changed(arrived)
        assert len(pragmas) == 1
        cli.set_key_status("k1", "revoked", "stolen", "test")  # another process's commit...
        await state.arefresh_if_changed(time.perf_counter())  # ...then a request arrives
        return state.identify("hash-k1").key.status

    assert asyncio.run(scenario()) == "revoked"
    assert len(pragmas) == 2
    cli.close()
    store.close()


def test_a_change_whose_read_failed_is_read_by_the_next_request(tmp_path):
    """The feed reports a change once. If reading it fails (the database blinked), the next request
    must read it again, not run on the view from before the revoke until some other change comes."""
    for exact in (False, True):
        store, state = _world(tmp_path / str(exact))
        state.feed = feed = CountingFeed()
        feed.exact = exact
        read = store.changes_since
        fail = [True]

        def flaky(seq: int):
            if fail.pop() if fail else False:
                raise ConnectionError("database blinked")
            return read(seq)

        store.changes_since = flaky  # type: ignore[method-assign]

        async def scenario() -> str:
            store.set_key_status("k1", "revoked", "stolen", "test")
            feed.pending = True
            try:
                await state.arefresh_if_changed(time.perf_counter())
            except ConnectionError:
                pass  # that request fails; the change must not be lost with it
            await state.arefresh_if_changed(time.perf_counter())  # no new change reported
            return state.identify("hash-k1").key.status

        assert asyncio.run(scenario()) == "revoked", f"exact={exact}"
        store.close()
