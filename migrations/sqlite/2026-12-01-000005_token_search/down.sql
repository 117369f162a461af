DROP TRIGGER tokens_search_update;
DROP TRIGGER tokens_search_delete;
DROP TRIGGER tokens_search_insert;
DROP TABLE tokens_search;
