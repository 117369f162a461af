-- Portico schema, SQLite flavour. Keep in step with ../../postgres and src/db/schema.rs.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    session_hash BLOB NOT NULL UNIQUE,
    csrf_hash BLOB NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash BLOB NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    auth TEXT NOT NULL,
    allow_delete BOOLEAN NOT NULL,
    enabled BOOLEAN NOT NULL,
    max_body_bytes BIGINT NOT NULL,
    retention_days INTEGER,
    ip_allowlist TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE primary_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    endpoint_id BIGINT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    UNIQUE (endpoint_id, method)
);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    previous_hash BLOB,
    previous_valid_until TIMESTAMP,
    enabled BOOLEAN NOT NULL,
    active BOOLEAN NOT NULL,
    expires_at TIMESTAMP,
    rate_limit_per_minute INTEGER,
    ip_allowlist TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX tokens_previous_hash ON tokens(previous_hash) WHERE previous_hash IS NOT NULL;
CREATE INDEX tokens_active_name ON tokens(active, name);

CREATE TABLE mappings (
    token_id BIGINT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    endpoint_id BIGINT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (token_id, endpoint_id, method)
);
CREATE INDEX mappings_endpoint ON mappings(endpoint_id, method);

CREATE TABLE records (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    endpoint_id BIGINT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    received_at TIMESTAMP NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX records_endpoint_id ON records(endpoint_id, id);
CREATE INDEX records_received_at ON records(endpoint_id, received_at);

CREATE TABLE idempotency_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    endpoint_id BIGINT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    principal TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    body_hash BLOB NOT NULL,
    record_id BIGINT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (endpoint_id, principal, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

-- Calls keep no foreign keys: the log outlives endpoints and tokens it names.
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    at TIMESTAMP NOT NULL,
    endpoint_id BIGINT,
    endpoint_slug TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    code TEXT,
    token_kind TEXT NOT NULL,
    token_id BIGINT,
    token_name TEXT,
    token_method TEXT,
    remote_addr TEXT NOT NULL,
    user_agent TEXT,
    request_bytes BIGINT NOT NULL,
    response_bytes BIGINT NOT NULL,
    duration_us BIGINT NOT NULL,
    record_id BIGINT
);
CREATE INDEX calls_token ON calls(token_id, id);
CREATE INDEX calls_endpoint ON calls(endpoint_id, id);
CREATE INDEX calls_at ON calls(at);
CREATE INDEX calls_status ON calls(status, id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id BIGINT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);
