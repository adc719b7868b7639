"""The schema of the previous release (commit 24d5016), verbatim, to create the databases the
migration test upgrades. Never edit: it is what users' databases hold."""

# ruff: noqa: E501

CONTROL = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS epoch (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL);
INSERT INTO epoch (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY, nonce TEXT NOT NULL, ciphertext TEXT NOT NULL, last4 TEXT NOT NULL,
    created_at {REAL} NOT NULL, updated_at {REAL} NOT NULL, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS providers (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, base_url TEXT NOT NULL, secret_ref TEXT NOT NULL,
    policy TEXT NOT NULL DEFAULT '{}',
    created_at {REAL} NOT NULL, updated_at {REAL} NOT NULL, removed_at {REAL}, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY, policy TEXT NOT NULL DEFAULT '{}',
    created_at {REAL} NOT NULL, updated_at {REAL} NOT NULL, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, provider TEXT NOT NULL,
    project TEXT, parent_id TEXT, status TEXT NOT NULL, status_reason TEXT NOT NULL DEFAULT '',
    policy TEXT NOT NULL DEFAULT '{}', expires_at {REAL},
    created_at {REAL} NOT NULL, updated_at {REAL} NOT NULL, seq BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS keys_seq ON keys (seq);
CREATE TABLE IF NOT EXISTS key_credentials (
    hash TEXT PRIMARY KEY, key_id TEXT NOT NULL, display TEXT NOT NULL,
    created_at {REAL} NOT NULL, not_after {REAL}, seq BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS key_credentials_seq ON key_credentials (seq);
CREATE TABLE IF NOT EXISTS admin_tokens (
    hash TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, display TEXT NOT NULL,
    created_at {REAL} NOT NULL, revoked_at {REAL}, seq BIGINT NOT NULL);
-- What a mint-role admin token may mint from (no row: not limited).
CREATE TABLE IF NOT EXISTS admin_token_scopes (hash TEXT PRIMARY KEY, keys TEXT NOT NULL DEFAULT '[]', project TEXT);
CREATE TABLE IF NOT EXISTS audit_log (
    id {ID}, ts {REAL} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{}');
"""

LEDGER = """
CREATE TABLE IF NOT EXISTS ledger (
    id {ID}, ts {REAL} NOT NULL, request_id TEXT NOT NULL,
    key_id TEXT, key_name TEXT, project TEXT, provider TEXT, provider_kind TEXT,
    endpoint TEXT NOT NULL, model TEXT, source_ip TEXT, user_agent TEXT,
    status INTEGER NOT NULL, rule TEXT, stream INTEGER NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0, cached_input_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0, output_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0, images INTEGER NOT NULL DEFAULT 0,
    cost_nusd BIGINT NOT NULL DEFAULT 0, reserved_nusd BIGINT NOT NULL DEFAULT 0,
    latency_ms {REAL}, upstream_latency_ms {REAL}, error TEXT);
CREATE INDEX IF NOT EXISTS ledger_ts ON ledger (ts);
CREATE INDEX IF NOT EXISTS ledger_key_ts ON ledger (key_name, ts);
CREATE INDEX IF NOT EXISTS ledger_keyid_ts ON ledger (key_id, ts);
CREATE INDEX IF NOT EXISTS ledger_project_ts ON ledger (project, ts);
CREATE INDEX IF NOT EXISTS ledger_provider_ts ON ledger (provider, ts);
"""

MONITOR_EVENTS = """
CREATE TABLE IF NOT EXISTS monitor_events (
    id {ID}, ts {REAL} NOT NULL, key_name TEXT, project TEXT, source TEXT,
    severity TEXT NOT NULL, detector TEXT NOT NULL, reason TEXT NOT NULL, action TEXT NOT NULL,
    evidence TEXT NOT NULL DEFAULT '{}', baseline TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS monitor_events_key_ts ON monitor_events (key_name, ts);
CREATE INDEX IF NOT EXISTS monitor_events_ts ON monitor_events (ts);
"""

MONITOR_EXPECTATIONS = """
CREATE TABLE IF NOT EXISTS monitor_expectations (
    id {ID}, target TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
    starts_at {REAL} NOT NULL, ends_at {REAL} NOT NULL, note TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL DEFAULT '', created_at {REAL} NOT NULL);
CREATE INDEX IF NOT EXISTS monitor_expectations_end ON monitor_expectations (ends_at);
"""

ALERT_OUTBOX = """
CREATE TABLE IF NOT EXISTS alerts (
    id {ID}, dedupe_key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, severity TEXT NOT NULL,
    title TEXT NOT NULL, message TEXT NOT NULL, fields TEXT NOT NULL DEFAULT '{}',
    ts {REAL} NOT NULL, created_at {REAL} NOT NULL, routed INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts);
CREATE INDEX IF NOT EXISTS alerts_unrouted ON alerts (routed, created_at);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    alert_id BIGINT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at {REAL} NOT NULL, last_error TEXT NOT NULL DEFAULT '',
    last_attempt_at {REAL}, delivered_at {REAL}, lease_owner TEXT, lease_until {REAL},
    PRIMARY KEY (alert_id, channel));
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (status, next_at);
"""

SQLITE = {"ID": "INTEGER PRIMARY KEY AUTOINCREMENT", "REAL": "REAL"}
POSTGRES = {"ID": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "REAL": "DOUBLE PRECISION"}


def render(text: str, dialect: dict[str, str]) -> list[str]:
    sql = text.replace("{ID}", dialect["ID"]).replace("{REAL}", dialect["REAL"])
    return [s.strip() for s in sql.split(";") if s.strip()]
