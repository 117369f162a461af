-- Refused calls that repeat (same endpoint, path, status, code, credential, address
-- and user agent within one second) are kept as one row counting them, so a flood of
-- denied requests cannot fill the disk.
ALTER TABLE calls ADD COLUMN repeats BIGINT NOT NULL DEFAULT 1;
