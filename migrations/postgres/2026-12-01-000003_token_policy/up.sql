-- The token lifetime policy: one row, read by every instance on every token change
-- (so a change holds everywhere from the next request). `default_expiry_days`: a new
-- secondary token created without an expiry expires that many days later (NULL:
-- never). `max_lifetime_days`: no token may be given an expiry further away than
-- that, nor none at all (NULL: no maximum). One year by default, as Cloudflare
-- Access does; no maximum until an admin sets one.
CREATE TABLE token_policy (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    default_expiry_days INTEGER CHECK (default_expiry_days BETWEEN 1 AND 3650),
    max_lifetime_days INTEGER CHECK (max_lifetime_days BETWEEN 1 AND 3650),
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO token_policy (id, default_expiry_days, max_lifetime_days, updated_by, updated_at)
VALUES (1, 365, NULL, 'portico', (now() AT TIME ZONE 'utc'));
