-- Which ids each day of the call log holds (src/store/call_days.rs): for every day
-- with calls, bounds below its smallest id and above its largest, rounded out to
-- blocks of 4,096 ids. The viewer's newest page (no time range, or a wide one) reads
-- the newest days first, and knows from these bounds when no older day can hold a
-- newer id, so it plans and reads a few day partitions instead of every one.
--
-- Kept by the database after every statement that inserts or updates calls (a
-- backfill, a clock set back, a call written straight into the database are all
-- counted). A day's row is written only when a bound moves past its block, about
-- once every 4,096 calls, so instances writing the same day rarely wait on it.
-- Deleted calls leave the bounds as wide as they were (wider is still exact); a
-- dropped day partition takes its row with it.
CREATE TABLE calls_days (
    day DATE PRIMARY KEY,
    first_id BIGINT NOT NULL,
    last_id BIGINT NOT NULL
);

INSERT INTO calls_days (day, first_id, last_id)
SELECT at::date, MIN(id) & ~4095::bigint, MAX(id) | 4095 FROM calls GROUP BY 1;

CREATE FUNCTION calls_days_widen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d RECORD;
BEGIN
    -- Day by day in order, so two statements never wait on each other's days crosswise.
    FOR d IN SELECT at::date AS day, MIN(id) & ~4095::bigint AS lo, MAX(id) | 4095 AS hi
             FROM changed_calls GROUP BY 1 ORDER BY 1 LOOP
        UPDATE calls_days SET first_id = LEAST(first_id, d.lo), last_id = GREATEST(last_id, d.hi)
        WHERE day = d.day AND (first_id > d.lo OR last_id < d.hi);
        IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM calls_days WHERE day = d.day) THEN
            INSERT INTO calls_days (day, first_id, last_id) VALUES (d.day, d.lo, d.hi)
            ON CONFLICT (day) DO UPDATE SET
                first_id = LEAST(calls_days.first_id, excluded.first_id),
                last_id = GREATEST(calls_days.last_id, excluded.last_id);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER calls_days_insert AFTER INSERT ON calls
REFERENCING NEW TABLE AS changed_calls
FOR EACH STATEMENT EXECUTE FUNCTION calls_days_widen();

CREATE TRIGGER calls_days_update AFTER UPDATE ON calls
REFERENCING NEW TABLE AS changed_calls
FOR EACH STATEMENT EXECUTE FUNCTION calls_days_widen();
