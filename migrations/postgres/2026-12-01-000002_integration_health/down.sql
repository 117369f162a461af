DROP TABLE mapping_refusal_windows;
DROP TABLE mapping_hours;
DROP TABLE mapping_activity;
ALTER TABLE mappings DROP COLUMN expect_since;
ALTER TABLE mappings DROP COLUMN expect_every_seconds;
