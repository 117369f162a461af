-- "Text in payload" (the viewer's q) without reading every record: an FTS5 index of
-- the payloads with the trigram tokenizer, which finds any substring of three
-- characters or more. It holds no copy of the text (contentless) and forgets a
-- record when it is deleted (the trigger). Portico fills it behind ingest, in small
-- batches on the writer; records_search_progress says how far. A search reads the
-- index for the records up to there and the few after it directly, so a record is
-- found as soon as it is stored.
CREATE VIRTUAL TABLE records_search USING fts5(
    data,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram',
    detail = 'none'
);
CREATE TABLE records_search_progress (
    id INTEGER PRIMARY KEY NOT NULL,
    indexed_upto BIGINT NOT NULL
);
INSERT INTO records_search_progress (id, indexed_upto) VALUES (1, 0);
CREATE TRIGGER records_search_forget AFTER DELETE ON records
BEGIN
    DELETE FROM records_search WHERE rowid = old.id;
END;
-- From a matching record to its calls (the viewer filters calls by their record).
CREATE INDEX calls_record ON calls (record_id) WHERE record_id IS NOT NULL;
