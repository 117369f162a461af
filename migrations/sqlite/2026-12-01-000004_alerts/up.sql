-- Alert targets and the delivery of events to them (signed per Standard Webhooks).
-- A target's signing secret is needed to sign, so it cannot be hashed: it is kept
-- sealed (ChaCha20-Poly1305 under the server's secret key, which the database never
-- holds), with a hint to tell secrets apart.
CREATE TABLE alert_targets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    -- The subscribed event kinds, space-separated.
    events TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    secret_sealed BLOB NOT NULL,
    secret_hint TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX alert_targets_name ON alert_targets (lower(name));

-- One per event and target. `lease`/`leased_until`: the instance sending it now
-- (claimed by one UPDATE, so two instances never send the same delivery at once).
CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target_id BIGINT NOT NULL REFERENCES alert_targets(id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease TEXT,
    leased_until TIMESTAMP,
    finished_at TIMESTAMP,
    UNIQUE (event_id, target_id)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX alert_deliveries_target ON alert_deliveries (target_id, id);
CREATE INDEX alert_deliveries_finished ON alert_deliveries (finished_at) WHERE finished_at IS NOT NULL;

-- Every try: when, the answer's status (none when there was no answer), how long,
-- and what went wrong in our own words (never a secret).
CREATE TABLE alert_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id BIGINT NOT NULL REFERENCES alert_deliveries(id) ON DELETE CASCADE,
    at TIMESTAMP NOT NULL,
    status_code INTEGER,
    latency_ms BIGINT NOT NULL,
    error TEXT
);
CREATE INDEX alert_attempts_delivery ON alert_attempts (delivery_id, id);
CREATE INDEX alert_attempts_at ON alert_attempts (at);
