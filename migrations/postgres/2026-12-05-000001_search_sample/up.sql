-- The payloads a payload search weighs a needle's trigrams against (store/search.rs),
-- as on SQLite: the trigram index is then asked for the needle's rare trigrams
-- alone, where asking for all of them walked the posting lists of trigrams in
-- every payload (`rea`, `ead`, ... of `"reading"`). Kept by every instance in turn
-- (the progress row is locked while the sample is taken) and taken again when the
-- records have moved by a sixteenth of their span.
CREATE TABLE records_search_sample (
    i INTEGER PRIMARY KEY NOT NULL,
    data TEXT NOT NULL
);
-- The records' span when the sample was taken (0, 0: never).
CREATE TABLE records_search_progress (
    id INTEGER PRIMARY KEY NOT NULL,
    sampled_oldest BIGINT NOT NULL DEFAULT 0,
    sampled_newest BIGINT NOT NULL DEFAULT 0
);
INSERT INTO records_search_progress (id) VALUES (1);
