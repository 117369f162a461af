-- The records go by week from here on (Monday to Monday, UTC; the call log stays by
-- day): every read of a record by id, by endpoint or by payload (the trigram index)
-- probes each partition, and a week is a seventh of the partitions to probe. Portico
-- makes the weeks ahead of need; where partitions made before hold part of a week,
-- the week's partition holds only the days between them. Here the day partitions of
-- records that hold no row (the days ahead, made by Portico) are replaced by weeks
-- in the same way; those that hold rows stay as they are until retention drops
-- them. No row moves.
CREATE TEMP VIEW record_partitions AS
    SELECT c.relname::text AS name,
           to_date(substr(c.relname, 10, 8), 'YYYYMMDD') AS from_day,
           CASE WHEN length(c.relname) = 17 THEN to_date(substr(c.relname, 10, 8), 'YYYYMMDD') + 1
                ELSE to_date(substr(c.relname, 19, 8), 'YYYYMMDD') END AS to_day
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'records'::regclass
      AND c.relname ~ '^records_p[0-9]{8}(_[0-9]{8})?$';

DO $$
DECLARE
    p record;
    empty boolean;
    d date;
    lo date;
    hi date;
BEGIN
    CREATE TEMP TABLE emptied_days (day date) ON COMMIT DROP;
    FOR p IN SELECT name, from_day FROM record_partitions WHERE to_day = from_day + 1 LOOP
        EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %I)', p.name) INTO empty;
        IF empty THEN
            EXECUTE format('DROP TABLE %I', p.name);
            INSERT INTO emptied_days VALUES (p.from_day);
        END IF;
    END LOOP;
    FOR d IN SELECT day FROM emptied_days ORDER BY day LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM record_partitions WHERE from_day <= d AND d < to_day);
        -- The week of d, between the partitions before and after it.
        SELECT greatest(date_trunc('week', d)::date, max(to_day)) INTO lo
        FROM record_partitions WHERE to_day <= d;
        SELECT least(date_trunc('week', d)::date + 7, min(from_day)) INTO hi
        FROM record_partitions WHERE from_day > d;
        EXECUTE format('CREATE TABLE %I PARTITION OF records FOR VALUES FROM (%L) TO (%L)',
                       'records_p' || to_char(lo, 'YYYYMMDD')
                           || CASE WHEN hi = lo + 1 THEN '' ELSE '_' || to_char(hi, 'YYYYMMDD') END,
                       lo, hi);
    END LOOP;
END $$;

DROP VIEW record_partitions;
