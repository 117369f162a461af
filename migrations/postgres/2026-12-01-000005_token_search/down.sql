DROP INDEX tokens_search;
ALTER TABLE tokens DROP COLUMN search_text;
