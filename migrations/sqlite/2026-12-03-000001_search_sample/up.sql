-- The payloads a payload search weighs a needle's trigrams against (store/search.rs):
-- kept here by the indexer and taken again when the records have moved by a
-- sixteenth of their span, so a search reads 128 short rows in order instead of
-- seeking 128 records spread over all of them.
CREATE TABLE records_search_sample (
    i INTEGER PRIMARY KEY NOT NULL,
    data TEXT NOT NULL
);
-- The records' span when the sample was taken (0, 0: never).
ALTER TABLE records_search_progress ADD COLUMN sampled_oldest BIGINT NOT NULL DEFAULT 0;
ALTER TABLE records_search_progress ADD COLUMN sampled_newest BIGINT NOT NULL DEFAULT 0;
