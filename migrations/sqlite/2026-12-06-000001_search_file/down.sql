DROP TRIGGER records_search_forget;
DROP TABLE records_search_forgotten;
CREATE VIRTUAL TABLE main.records_search USING fts5(
    data,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram',
    detail = 'none'
);
CREATE TABLE main.records_search_progress (
    id INTEGER PRIMARY KEY NOT NULL,
    indexed_upto BIGINT NOT NULL,
    sampled_oldest BIGINT NOT NULL DEFAULT 0,
    sampled_newest BIGINT NOT NULL DEFAULT 0
);
INSERT INTO main.records_search_progress (id, indexed_upto) VALUES (1, 0);
CREATE TABLE main.records_search_sample (
    i INTEGER PRIMARY KEY NOT NULL,
    data TEXT NOT NULL
);
CREATE TRIGGER records_search_forget AFTER DELETE ON records
BEGIN
    DELETE FROM main.records_search WHERE rowid = old.id;
END;
