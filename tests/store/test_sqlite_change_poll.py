"""The embedded tier's change poll: the control file's WAL index answers "nothing committed" without
a query, and every commit by another connection is still seen by the very next poll."""

from __future__ import annotations

import pathlib
import sqlite3
import subprocess
import sys

from jackstop.store.sqlite import SqliteStore


class CountingCursor:
    def __init__(self, cur: sqlite3.Cursor) -> None:
        self.cur, self.calls = cur, 0

    def execute(self, sql: str):  # noqa: ANN201
        self.calls += 1
        return self.cur.execute(sql)


def test_no_commit_no_query_and_every_other_connections_commit_is_seen(tmp_path: pathlib.Path):
    store = SqliteStore(tmp_path / "c.db", tmp_path / "l.db")
    assert store._wal_watch is not None, "the control file is in WAL mode: the watch should be on"
    counting = store._poll_cur = CountingCursor(store._poll_cur)  # type: ignore[assignment]
    other = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    other.execute("CREATE TABLE IF NOT EXISTS poke (n INTEGER)")
    try:
        v = store.data_version()
        store.data_version()
        before = counting.calls
        for _ in range(100):  # nothing committed: no query at all
            assert store.data_version() == v
        assert counting.calls == before
        for i in range(300):  # every commit shows on the next poll
            other.execute("INSERT INTO poke VALUES (?)", (i,))
            nv = store.data_version()
            assert nv != v, f"commit {i} was not seen"
            v = nv
            assert store.data_version() == v  # and once seen, it is not reported again
    finally:
        other.close()
        store.close()


def test_another_processes_commit_is_seen_at_once(tmp_path: pathlib.Path):
    store = SqliteStore(tmp_path / "c.db", tmp_path / "l.db")
    try:
        v = store.data_version()
        for i in range(5):
            subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], "
                            "isolation_level=None); c.execute('CREATE TABLE IF NOT EXISTS poke (n INTEGER)'); "
                            f"c.execute('INSERT INTO poke VALUES ({i})'); c.close()", str(tmp_path / "c.db")],
                           check=True, timeout=60)
            nv = store.data_version()
            assert nv != v
            v = nv
    finally:
        store.close()


def test_a_control_file_not_in_wal_mode_polls_with_the_pragma(tmp_path: pathlib.Path):
    from jackstop.store.sqlite import _WalIndexWatch

    conn = sqlite3.connect(tmp_path / "plain.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    (tmp_path / "plain.db-shm").write_bytes(b"\0" * 32768)  # a stale index from an earlier WAL life
    try:
        assert _WalIndexWatch.open(tmp_path / "plain.db", conn) is None
    finally:
        conn.close()


def test_the_watch_never_drops_sqlites_lock_on_the_index(tmp_path: pathlib.Path):
    """Closing any descriptor of a file drops all of a process's POSIX locks on it. SQLite holds a
    read lock on the -shm's DMS byte (offset 128) while a connection is open; if the watch dropped it,
    the next process to open the database (every CLI run) would rebuild the index under the gateway.
    Another process asks the kernel who holds that byte, after the store has polled."""
    store = SqliteStore(tmp_path / "c.db", tmp_path / "l.db")
    try:
        store.data_version()
        store.data_version()
        probe = ("import fcntl, os, struct, sys\n"
                 "fd = os.open(sys.argv[1], os.O_RDWR)\n"
                 "lk = struct.pack('hhqqi', fcntl.F_WRLCK, 0, 128, 1, 0)\n"
                 "typ, _, _, _, pid = struct.unpack('hhqqi', fcntl.fcntl(fd, fcntl.F_GETLK, lk))\n"
                 "print(typ == fcntl.F_RDLCK, pid)\n")
        out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "c.db-shm")], capture_output=True,
                             text=True, check=True, timeout=60).stdout.split()
        assert out == ["True", str(__import__("os").getpid())], out
    finally:
        store.close()
