-- The status filter is for finding refusals, which are few: a partial index over
-- them serves it, and an accepted call (most calls) no longer pays for an index
-- entry. A filter on 2xx walks the primary key newest first and stops at a page.
DROP INDEX calls_status;
CREATE INDEX calls_refused ON calls (status, id) WHERE status >= 400;
