-- Integration events (a mapping went silent or recovered, refusals spiked, a token
-- is expiring or expired): one row per state change. `key` names the change
-- (kind, subject, the moment the state began), so instances that notice the same
-- change at once write it once. `dispatched_at` is set when the event has been
-- handed to the alert targets subscribed to its kind.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    at TIMESTAMP NOT NULL,
    payload TEXT NOT NULL,
    dispatched_at TIMESTAMP
);
CREATE INDEX events_undispatched ON events(id) WHERE dispatched_at IS NULL;
