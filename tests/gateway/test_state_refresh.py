"""The gateway's view of the store on the scale-out tier: a re-read shared by many requests
must not be lost when the request that started it is cancelled (its client left)."""

from __future__ import annotations

import asyncio
import base64
import os
import threading

from jackstop.gateway.state import State
from jackstop.home import Home
from jackstop.store import open_store


class SlowFeed:
    """A feed like PostgreSQL's: a miss may be a key newer than the last notification."""

    def changed(self) -> bool:
        return False

    def close(self) -> None:
        pass


def test_a_cancelled_request_does_not_lose_the_shared_reread(tmp_path):
    home = Home(tmp_path, base64.b64encode(os.urandom(32)).decode())
    store = open_store("", home)
    store.add_provider("oai", "openai", "https://api.openai.com/v1", "env:OPENAI_API_KEY", "test")
    state = State(store, home)
    state.feed = SlowFeed()
    store.create_key("k1", "oai", "hash-k1", "jsk_…k1", "test")  # written after the view was built

    gate = threading.Event()
    read = store.changes_since

    def slow_changes_since(seq: int):
        gate.wait(5)
        return read(seq)

    store.changes_since = slow_changes_since  # type: ignore[method-assign]

    async def scenario() -> list:
        starter = asyncio.ensure_future(state.identify_or_refresh("hash-k1"))
        await asyncio.sleep(0.01)
        waiters = [asyncio.ensure_future(state.identify_or_refresh("hash-k1")) for _ in range(5)]
        await asyncio.sleep(0.01)
        starter.cancel()  # the client of the request that started the read goes away
        gate.set()
        return await asyncio.gather(*waiters)

    found = asyncio.run(scenario())
    assert [i.key.name if i else None for i in found] == ["k1"] * 5
    assert state.identify("hash-k1") is not None
    store.close()


class Feed:
    """A non-exact feed (PostgreSQL's) that reports a change when told to."""

    exact = False

    def __init__(self) -> None:
        self.pending = False

    async def changed(self) -> bool:
        was, self.pending = self.pending, False
        return was

    def close(self) -> None:
        pass


def test_only_a_reread_for_a_change_holds_other_requests(tmp_path):
    """A re-read started by an unknown key (a guesser can cause 20 a second) must not make every
    request wait; a re-read for a reported change must (or a just-revoked key is served meanwhile)."""
    home = Home(tmp_path, base64.b64encode(os.urandom(32)).decode())
    store = open_store("", home)
    state = State(store, home)
    state.feed = feed = Feed()
    gate = threading.Event()
    read = store.changes_since

    def slow_changes_since(seq: int):
        gate.wait(5)
        return read(seq)

    store.changes_since = slow_changes_since  # type: ignore[method-assign]

    async def scenario() -> tuple[bool, bool, bool]:
        guess = asyncio.ensure_future(state.identify_or_refresh("made-up"))
        await asyncio.sleep(0.01)
        plain = asyncio.ensure_future(state.arefresh_if_changed())
        await asyncio.sleep(0.05)
        plain_done_during_guess = plain.done()
        feed.pending = True
        seer = asyncio.ensure_future(state.arefresh_if_changed())  # this one sees the change
        await asyncio.sleep(0.01)
        follower = asyncio.ensure_future(state.arefresh_if_changed())
        await asyncio.sleep(0.05)
        follower_waited = not follower.done()
        gate.set()
        await asyncio.gather(guess, seer, follower)
        return plain_done_during_guess, follower_waited, follower.done()

    assert asyncio.run(scenario()) == (True, True, True)
    store.close()
