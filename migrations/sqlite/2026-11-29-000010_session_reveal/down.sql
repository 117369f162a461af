ALTER TABLE sessions DROP COLUMN reveal;
