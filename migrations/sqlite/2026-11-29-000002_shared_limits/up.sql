-- Limits shared by every instance on a database. On SQLite one process serves the
-- file, so request limits stay in its memory and only failed sign-ins are kept
-- here (they then also survive a restart); the tables match PostgreSQL's.
CREATE TABLE limit_windows (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    used BIGINT NOT NULL,
    granted BIGINT NOT NULL,
    PRIMARY KEY (scope, key, window_start)
);
CREATE TABLE limit_blocks (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    until TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX limit_blocks_until ON limit_blocks (until);
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    key TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);
