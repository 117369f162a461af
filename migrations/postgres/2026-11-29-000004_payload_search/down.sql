DROP INDEX calls_record;
DROP INDEX records_search;
