"""The store's change feed: a change written through another connection shows on the feed."""

from __future__ import annotations

import asyncio
import time

import pytest

from jackstop.store import open_store
from jackstop.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "postgres"])
def pair(request, tmp_path):
    """Two stores on one database: a gateway's (reader) and an admin's (writer)."""
    if request.param == "sqlite":
        a, b = (SqliteStore(tmp_path / "c.db", tmp_path / "l.db") for _ in range(2))
    else:
        url = request.getfixturevalue("fresh_postgres")
        a, b = open_store(url), open_store(url)
    yield a, b
    a.close()
    b.close()


async def _changed_within(feed, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await feed.changed():
            return True
        await asyncio.sleep(0.02)
    return False


def test_a_write_elsewhere_shows_on_the_feed(pair):
    reader, writer = pair
    feed = reader.change_feed()
    try:
        assert feed.exact is isinstance(reader, SqliteStore)

        async def scenario():
            await _changed_within(feed, 0.3)  # settle whatever start-up left
            assert await feed.changed() is False
            writer.put_secret("s", "bm9uY2U=", "Y3Q=", "…1234", "t")
            assert await _changed_within(feed, 5)
            assert await feed.changed() is False  # reported once

        asyncio.run(scenario())
    finally:
        feed.close()


def test_announcers_run_after_commit_and_a_shared_counter_joins_the_feed(tmp_path):
    store = SqliteStore(tmp_path / "c.db", tmp_path / "l.db")
    counter = {"n": 0}
    store.announce_changes(lambda: counter.__setitem__("n", counter["n"] + 1))

    async def read():
        return counter["n"]

    feed = store.change_feed(shared_counter=read)
    try:
        async def scenario():
            assert await feed.changed() is True  # the first read of the counter counts as news
            assert await feed.changed() is False
            store.set_meta("x", "1")  # not a control change: nothing announced
            assert counter["n"] == 0
            store.put_secret("s", "bm9uY2U=", "Y3Q=", "…1234", "t")
            assert counter["n"] == 1
            assert await feed.changed() is True
            counter["n"] += 1  # another instance's change, seen only through the counter
            assert await feed.changed() is True
            assert await feed.changed() is False

        asyncio.run(scenario())
    finally:
        feed.close()
        store.close()
