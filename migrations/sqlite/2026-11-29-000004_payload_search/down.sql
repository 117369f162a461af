DROP INDEX calls_record;
DROP TRIGGER records_search_forget;
DROP TABLE records_search_progress;
DROP TABLE records_search;
