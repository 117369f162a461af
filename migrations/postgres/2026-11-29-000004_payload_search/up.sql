-- "Text in payload" (the viewer's q) without reading every record: a trigram index
-- over the payload as the search compares it (lowercased), which serves
-- `lower(data) LIKE '%needle%'` for needles of three characters or more. GIN's pending
-- list (fastupdate) keeps an insert cheap: entries are appended and merged later, by
-- Portico every second and by autovacuum; searches read the pending list too, so a
-- record is found as soon as it is stored. pg_trgm ships with PostgreSQL (contrib)
-- and is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX records_search ON records USING gin (lower(data) gin_trgm_ops) WITH (fastupdate = on);
-- From a matching record to its calls (the viewer filters calls by their record).
CREATE INDEX calls_record ON calls (record_id) WHERE record_id IS NOT NULL;
