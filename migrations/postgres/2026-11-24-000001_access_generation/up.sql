-- One counter that every change to endpoints, tokens or mappings raises in its own
-- transaction. Instances cache access decisions under the value they read; a request
-- that reads a new value drops the cache, so a revocation holds on every instance on
-- the next request after it was acknowledged.
CREATE TABLE access_generation (
    id INTEGER PRIMARY KEY NOT NULL,
    n BIGINT NOT NULL
);
INSERT INTO access_generation (id, n) VALUES (1, 0);
