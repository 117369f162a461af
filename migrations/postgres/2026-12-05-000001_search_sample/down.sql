DROP TABLE records_search_progress;
DROP TABLE records_search_sample;
