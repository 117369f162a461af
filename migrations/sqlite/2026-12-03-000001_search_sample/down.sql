ALTER TABLE records_search_progress DROP COLUMN sampled_newest;
ALTER TABLE records_search_progress DROP COLUMN sampled_oldest;
DROP TABLE records_search_sample;
