-- The payload search's index moves to a database file of its own (PATH.search,
-- attached to every connection as `search`: src/db/search_file.rs), so the indexer
-- no longer holds the database's one write lock that ingest waits for. The index
-- there starts empty and is built again behind ingest (a search reads the records
-- not indexed yet directly meanwhile).
DROP TRIGGER main.records_search_forget;
DROP TABLE main.records_search;
DROP TABLE main.records_search_sample;
DROP TABLE main.records_search_progress;
-- A trigger cannot reach another file: deleted records are queued here, and the
-- indexer forgets them in the index and takes them off the queue.
CREATE TABLE records_search_forgotten (
    id INTEGER PRIMARY KEY NOT NULL
);
CREATE TRIGGER records_search_forget AFTER DELETE ON records
BEGIN
    INSERT OR IGNORE INTO records_search_forgotten (id) VALUES (old.id);
END;
