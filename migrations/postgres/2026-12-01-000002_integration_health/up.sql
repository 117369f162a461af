-- Integration health: how often a mapping's application is expected to call, and
-- running aggregates of its calls kept by the ingest path, so the Health page and
-- the periodic check never read the call log.
-- `expect_since`: when the expectation was set (a mapping never called is overdue
-- counting from the later of its creation and this moment).
ALTER TABLE mappings ADD COLUMN expect_every_seconds INTEGER;
ALTER TABLE mappings ADD COLUMN expect_since TIMESTAMP;
-- One row per (token, endpoint, method) that has been called: the last call and
-- the last refusal; `silent_since` is the moment a raised silence began (cleared
-- when its recovery is raised), `resumed_at` the first call after it.
CREATE TABLE mapping_activity (
    token_id BIGINT NOT NULL,
    endpoint_id BIGINT NOT NULL,
    method TEXT NOT NULL,
    last_call_at TIMESTAMP,
    last_refusal_at TIMESTAMP,
    silent_since TIMESTAMP,
    resumed_at TIMESTAMP,
    PRIMARY KEY (token_id, endpoint_id, method)
);
-- Calls and refusals per mapping and hour (as the call log counts them: a folded
-- row by its repeats); hours older than a day are pruned by the sweep.
CREATE TABLE mapping_hours (
    token_id BIGINT NOT NULL,
    endpoint_id BIGINT NOT NULL,
    method TEXT NOT NULL,
    hour TIMESTAMP NOT NULL,
    calls BIGINT NOT NULL,
    refusals BIGINT NOT NULL,
    PRIMARY KEY (token_id, endpoint_id, method, hour)
);
CREATE INDEX mapping_hours_hour ON mapping_hours(hour);
-- Refusals per mapping and 5-minute window (a spike is one window over the
-- threshold); windows older than an hour are pruned by the sweep.
CREATE TABLE mapping_refusal_windows (
    token_id BIGINT NOT NULL,
    endpoint_id BIGINT NOT NULL,
    method TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    refusals BIGINT NOT NULL,
    PRIMARY KEY (token_id, endpoint_id, method, window_start)
);
CREATE INDEX mapping_refusal_windows_start ON mapping_refusal_windows(window_start);
