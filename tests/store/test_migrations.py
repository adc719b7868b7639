"""A database made by the previous release (commit 24d5016) opens with this code: its data is
kept and its schema becomes exactly what a new database gets, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from jackstop.alerts.outbox import Outbox
from jackstop.monitor import eventlog, expectations
from jackstop.store import StoreError, open_store, schema
from jackstop.store.sqlite import SqliteStore
from tests.store import release1

NOW = 1_780_000_000.0

# Rows as release 1 wrote them (placeholders `?`; PostgreSQL gets `%s`).
CONTROL_ROWS = [
    ("UPDATE epoch SET n = 4 WHERE id = 1", ()),
    ("INSERT INTO secrets VALUES (?, ?, ?, ?, ?, ?, ?)", ("oai", "bm9uY2U=", "Y3Q=", "…1234", NOW, NOW, 1)),
    ("INSERT INTO providers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
     ("oai", "openai", "https://api.openai.com/v1", "local:oai", "{}", NOW, NOW, None, 2)),
    ("INSERT INTO projects VALUES (?, ?, ?, ?, ?)", ("web", '{"budget": "10/day"}', NOW, NOW, 3)),
    ("INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
     ("k1", "app", "virtual", "oai", "web", None, "active", "", '{"max_tokens": 5}', None, NOW, NOW, 4)),
    ("INSERT INTO key_credentials VALUES (?, ?, ?, ?, ?, ?)", ("hash1", "k1", "jsk_abcd", NOW, None, 4)),
    ("INSERT INTO admin_tokens VALUES (?, ?, ?, ?, ?, ?, ?)", ("th", "ops", "mint", "jsa_abcd", NOW, None, 4)),
    ("INSERT INTO admin_token_scopes VALUES (?, ?, ?)", ("th", '["app"]', "web")),
    ("INSERT INTO audit_log (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
     (NOW, "t", "key.create", "app", "{}")),
]
MONITOR_ROWS = [
    ("INSERT INTO monitor_events (ts, key_name, project, source, severity, detector, reason, action, evidence, "
     "baseline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
     (NOW, "app", "web", "203.0.113.9", "critical", "new_network", "a new network", "suspend", '{"asn": 1}', "{}")),
    ("INSERT INTO monitor_expectations (target, kind, value, starts_at, ends_at, note, actor, created_at) "
     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ("app", "network", "198.51.100.0/24", NOW, NOW + 10**9, "move", "t", NOW)),
]
LEDGER_ROWS = [
    ("INSERT INTO ledger (ts, request_id, key_id, key_name, project, provider, provider_kind, endpoint, model, "
     "status, input_tokens, output_tokens, cost_nusd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
     (NOW + i, f"r{i}", "k1", "app", "web", "oai", "openai", "chat.completions", "gpt-4o-mini", 200, 10, i, 1000 * i))
    for i in range(1, 4)
]
OUTBOX_ROWS = [
    ("INSERT INTO alerts (dedupe_key, kind, severity, title, message, fields, ts, created_at, routed) "
     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ("budget:app:day:80", "budget", "warning", "80 %", "spent", '{"pct": 80}',
                                            NOW, NOW, 1)),
    ("INSERT INTO alert_deliveries (alert_id, channel, status, attempts, next_at, last_error) "
     "VALUES (?, ?, ?, ?, ?, ?)", (1, "ops-hook", "failed", 3, NOW, "HTTP 500")),
]


def _run(cur, statements, mark):
    for sql, params in statements:
        cur.execute(sql.replace("?", mark), params)


def _release1_ddl(dialect, subsystems):
    """What release 1 ran: its migrate(), then (once the monitor and alerts had run) their tables."""
    control = release1.render(release1.CONTROL, dialect)
    ledger = release1.render(release1.LEDGER, dialect)
    if subsystems:
        control += release1.render(release1.MONITOR_EVENTS + release1.MONITOR_EXPECTATIONS, dialect)
        ledger += release1.render(release1.ALERT_OUTBOX, dialect)
    return control, ledger


def make_release1_sqlite(path, ledger_path, *, subsystems=True):
    control, ledger = _release1_ddl(release1.SQLITE, subsystems)
    with sqlite3.connect(path) as c:
        for stmt in control:
            c.execute(stmt)
        c.execute("INSERT INTO meta (k, v) VALUES ('schema_version', '1') ON CONFLICT (k) DO NOTHING")
        _run(c, CONTROL_ROWS + (MONITOR_ROWS if subsystems else []), "?")
    with sqlite3.connect(ledger_path) as c:
        for stmt in ledger:
            c.execute(stmt)
        _run(c, LEDGER_ROWS + (OUTBOX_ROWS if subsystems else []), "?")
    c.close()


def make_release1_postgres(url, *, subsystems=True):
    import psycopg

    control, ledger = _release1_ddl(release1.POSTGRES, subsystems)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for stmt in control + ledger:
            cur.execute(stmt)
        cur.execute("INSERT INTO meta (k, v) VALUES ('schema_version', '1') ON CONFLICT (k) DO NOTHING")
        _run(cur, CONTROL_ROWS + LEDGER_ROWS + ((MONITOR_ROWS + OUTBOX_ROWS) if subsystems else []), "%s")


def sqlite_shape(path):
    with sqlite3.connect(path) as c:
        rows = c.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                         "ORDER BY type, name").fetchall()
    c.close()
    return rows


def postgres_shape(url):
    import psycopg

    with psycopg.connect(url) as conn:
        cols = conn.execute("SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity "
                            "FROM information_schema.columns WHERE table_schema = 'public' "
                            "ORDER BY table_name, column_name").fetchall()
        idx = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                           "ORDER BY indexname").fetchall()
    return cols, idx


def check_data_kept(store):
    """Every row release 1 wrote reads back through this release's repositories."""
    assert store.epoch() == 4
    assert store.get_secret("oai").ciphertext == "Y3Q="
    assert store.get_provider("oai").base_url == "https://api.openai.com/v1"
    assert store.get_project("web").policy == {"budget": "10/day"}
    key = store.get_key("app")
    assert (key.id, key.project, key.policy, key.seq) == ("k1", "web", {"max_tokens": 5}, 4)
    assert [c.hash for c in store.credentials("k1")] == ["hash1"]
    assert [t.name for t in store.list_admin_tokens()] == ["ops"]
    assert store.admin_token_scope("th") == (["app"], "web")
    assert [a.action for a in store.audit_log()] == ["key.create"]
    assert [r.request_id for r in store.ledger(key_name="app")] == ["r1", "r2", "r3"]
    assert store.ledger_repo.spend(0, key_ids=["k1"]) == 6000
    ev = eventlog.read(store, key="app")
    assert [(e.detector, e.source, e.evidence, e.action) for e in ev] == [
        ("new_network", "203.0.113.9", {"asn": 1}, "suspend")]
    assert [(e.kind, e.value) for e in expectations.load(store, now=NOW + 1)] == [("network", "198.51.100.0/24")]
    alerts = Outbox(store).list(0, 10)
    assert [(a["dedupe_key"], a["status"], a["deliveries"][0]["attempts"]) for a in alerts] == [
        ("budget:app:day:80", "failed", 3)]


def check_still_writable(store):
    """The ids of the migrated tables continue where release 1 left them."""
    outbox = Outbox(store)
    from jackstop.alerts.model import Alert

    assert outbox.insert(Alert(kind="budget", severity="warning", dedupe_key="budget:app:day:80", title="t",
                               message="m", ts=NOW), NOW) is None  # the dedupe survived
    new_id = outbox.insert(Alert(kind="test", severity="info", dedupe_key="test:1", title="t", message="m",
                                 ts=NOW + 5), NOW + 5)
    assert new_id is not None and new_id > 1  # (a refused insert may use up an id too)
    ids = expectations.add(store, [expectations.Expectation("*", "surge", "2", NOW, NOW + 60)], "t")
    assert ids == [2]
    store.create_key("app2", "oai", "hash2", "jsk_efgh", "t")
    assert store.epoch() == 5


def test_sqlite_release1_database_is_migrated_and_keeps_its_data(tmp_path):
    old_c, old_l = tmp_path / "old.db", tmp_path / "old-ledger.db"
    make_release1_sqlite(old_c, old_l)
    store = SqliteStore(old_c, old_l)
    try:
        assert store.schema_versions() == {"control": schema.VERSION, "ledger": schema.VERSION}
        check_data_kept(store)
        check_still_writable(store)
    finally:
        store.close()
    new = SqliteStore(tmp_path / "new.db", tmp_path / "new-ledger.db")
    new.close()
    assert sqlite_shape(old_c) == sqlite_shape(tmp_path / "new.db")
    assert sqlite_shape(old_l) == sqlite_shape(tmp_path / "new-ledger.db")
    # A second open finds nothing to do.
    again = SqliteStore(old_c, old_l)
    try:
        assert again.migrate() == []
    finally:
        again.close()


def test_sqlite_release1_database_that_never_ran_the_monitor_gets_its_tables(tmp_path):
    c, ledger = tmp_path / "c.db", tmp_path / "l.db"
    make_release1_sqlite(c, ledger, subsystems=False)
    store = SqliteStore(c, ledger)
    try:
        assert store.get_key("app").id == "k1"
        assert eventlog.read(store) == [] and Outbox(store).list(0, 10) == []
    finally:
        store.close()
    new = SqliteStore(tmp_path / "n.db", tmp_path / "nl.db")
    new.close()
    assert sqlite_shape(c) == sqlite_shape(tmp_path / "n.db")
    assert sqlite_shape(ledger) == sqlite_shape(tmp_path / "nl.db")


def test_a_database_from_a_newer_release_is_refused_with_the_fix(tmp_path):
    c, ledger = tmp_path / "c.db", tmp_path / "l.db"
    SqliteStore(c, ledger).close()
    with sqlite3.connect(c) as conn:
        conn.execute("UPDATE meta SET v = ? WHERE k = 'schema_version'", (str(schema.VERSION + 1),))
    conn.close()
    with pytest.raises(StoreError, match=f"schema version {schema.VERSION + 1}, newer than this jackstop knows "
                                         f"\\({schema.VERSION}\\); upgrade jackstop"):
        SqliteStore(c, ledger)


def test_a_failed_migration_leaves_the_previous_version(tmp_path, monkeypatch):
    """One transaction per migration: a step that fails is rolled back whole."""
    c, ledger = tmp_path / "c.db", tmp_path / "l.db"
    make_release1_sqlite(c, ledger, subsystems=False)
    broken = schema.Migration(2, "broken", "CREATE TABLE monitor_events (id INTEGER); CREATE TABLE oops (", "")
    monkeypatch.setattr(schema, "MIGRATIONS", (schema.MIGRATIONS[0], broken))
    with pytest.raises(StoreError, match=r"migration 2 \(broken\) of the control database at /.*/c\.db "
                                         r"failed: .*; it was rolled back, the database is unchanged at version 1"):
        SqliteStore(c, ledger)
    with sqlite3.connect(c) as conn:
        assert conn.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone() == ("1",)
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'monitor_events'").fetchall() == []
    conn.close()


@pytest.mark.parametrize("subsystems", [True, False], ids=["with-monitor-tables", "core-only"])
def test_postgres_release1_database_is_migrated_and_keeps_its_data(fresh_postgres, postgres_url, subsystems):
    import psycopg

    make_release1_postgres(fresh_postgres, subsystems=subsystems)
    store = open_store(fresh_postgres)
    try:
        assert store.schema_versions() == {"control": schema.VERSION}
        if subsystems:
            check_data_kept(store)
            check_still_writable(store)
        else:
            assert store.get_key("app").id == "k1" and eventlog.read(store) == []
        assert store.migrate() == []
    finally:
        store.close()
    # Compare with a database this release creates from nothing.
    name = fresh_postgres.rpartition("/")[2] + "_new"
    base = postgres_url.rpartition("/")[0]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        open_store(f"{base}/{name}").close()
        assert postgres_shape(fresh_postgres) == postgres_shape(f"{base}/{name}")
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_instances_starting_together_migrate_once(fresh_postgres):
    import threading

    make_release1_postgres(fresh_postgres, subsystems=False)
    applied, errors = [], []

    def start():
        try:
            s = open_store(fresh_postgres)
            applied.append(s.migrate())
            s.close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and applied == [[]] * 4
    s = open_store(fresh_postgres)
    try:
        assert s.schema_versions() == {"control": schema.VERSION} and s.get_key("app").id == "k1"
    finally:
        s.close()
