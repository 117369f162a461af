-- The token list's search (text in name, description or hint, any case) without
-- reading every token: a trigram index per column over the text as the search
-- compares it (lowercased). It serves `lower(x) LIKE '%needle%'` for needles of three
-- characters or more; shorter ones read the table as before. (pg_trgm was created by
-- the payload search migration.)
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX tokens_search_name ON tokens USING gin (lower(name) gin_trgm_ops);
CREATE INDEX tokens_search_description ON tokens USING gin (lower(description) gin_trgm_ops);
CREATE INDEX tokens_search_hint ON tokens USING gin (lower(hint) gin_trgm_ops);
