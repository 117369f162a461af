-- The token list's search (text in name, description or hint, any case) without
-- reading every token: an FTS5 index of those three columns with the trigram
-- tokenizer, which finds any substring of three characters or more (shorter needles
-- read the table as before). It holds no copy of the text (external content: the
-- tokens table) and follows every change of the three columns through the triggers;
-- `last_used_at` and the other columns change without touching it.
CREATE VIRTUAL TABLE tokens_search USING fts5(
    name,
    description,
    hint,
    content = 'tokens',
    content_rowid = 'id',
    tokenize = 'trigram'
);
INSERT INTO tokens_search (tokens_search) VALUES ('rebuild');
CREATE TRIGGER tokens_search_insert AFTER INSERT ON tokens
BEGIN
    INSERT INTO tokens_search (rowid, name, description, hint)
    VALUES (new.id, new.name, new.description, new.hint);
END;
CREATE TRIGGER tokens_search_delete AFTER DELETE ON tokens
BEGIN
    INSERT INTO tokens_search (tokens_search, rowid, name, description, hint)
    VALUES ('delete', old.id, old.name, old.description, old.hint);
END;
CREATE TRIGGER tokens_search_update AFTER UPDATE OF name, description, hint ON tokens
BEGIN
    INSERT INTO tokens_search (tokens_search, rowid, name, description, hint)
    VALUES ('delete', old.id, old.name, old.description, old.hint);
    INSERT INTO tokens_search (rowid, name, description, hint)
    VALUES (new.id, new.name, new.description, new.hint);
END;
