-- Secondary token names are unique, case-insensitively, so the viewer's token column is
-- never ambiguous. Names already taken twice (by an earlier version, which allowed it)
-- keep the oldest token's name; each later one gets its id appended, "shop-app (17)",
-- which the admin may change.
UPDATE tokens SET name = name || ' (' || id || ')'
WHERE EXISTS (
    SELECT 1 FROM tokens AS older
    WHERE lower(older.name) = lower(tokens.name) AND older.id < tokens.id
);
CREATE UNIQUE INDEX tokens_name_unique ON tokens (lower(name));
