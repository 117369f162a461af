-- Limits every instance on the database shares (SPEC: "N instances together accept
-- no more than one would").
--
-- limit_windows: how much of a window's budget the instances have taken between them
-- (scope 'rpm': a token's requests in a minute; 'failed_token': an address's requests
-- with an invalid token in a minute). An instance takes a share (a lease) in one
-- statement and spends it in memory. UNLOGGED: a counter is not worth a WAL record,
-- and one lost to a database crash only resets a minute's count.
CREATE UNLOGGED TABLE limit_windows (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    used BIGINT NOT NULL,
    granted BIGINT NOT NULL,
    PRIMARY KEY (scope, key, window_start)
);
-- Blocks in force (an address past its invalid-token limit), read by every instance.
CREATE TABLE limit_blocks (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    until TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX limit_blocks_until ON limit_blocks (until);
-- Failed sign-ins, per user ('user:NAME') and per address ('addr:IP').
CREATE TABLE login_failures (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);
