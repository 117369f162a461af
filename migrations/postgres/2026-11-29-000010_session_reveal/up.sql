-- A show-once value waiting for the page a form redirected to, sealed with a key
-- derived from the session cookie (which the database never holds).
ALTER TABLE sessions ADD COLUMN reveal BYTEA;
