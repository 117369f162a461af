-- The call log and the records, partitioned by day (declarative range partitions on
-- the time of the call, and of the record's arrival). Retention drops whole days
-- instead of deleting rows one by one, and a viewer query with a time range reads
-- only that range's days. Portico creates the days ahead of need (today-1 .. today+7,
-- at start and at every sweep); this migration creates one per day that already
-- holds rows and moves every row across. The primary keys include the time column,
-- as a partitioned table requires; ids stay unique, drawn from the same sequences.

-- The call log.
ALTER TABLE calls RENAME TO calls_unpartitioned;
ALTER INDEX calls_pkey RENAME TO calls_unpartitioned_pkey;
ALTER INDEX calls_token RENAME TO calls_unpartitioned_token;
ALTER INDEX calls_endpoint RENAME TO calls_unpartitioned_endpoint;
ALTER INDEX calls_at RENAME TO calls_unpartitioned_at;
ALTER INDEX calls_refused RENAME TO calls_unpartitioned_refused;
ALTER SEQUENCE calls_id_seq OWNED BY NONE;
CREATE TABLE calls (
    id BIGINT NOT NULL DEFAULT nextval('calls_id_seq'),
    at TIMESTAMP NOT NULL,
    endpoint_id BIGINT,
    endpoint_slug TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    code TEXT,
    token_kind TEXT NOT NULL,
    token_id BIGINT,
    token_name TEXT,
    token_method TEXT,
    remote_addr TEXT NOT NULL,
    user_agent TEXT,
    request_bytes BIGINT NOT NULL,
    response_bytes BIGINT NOT NULL,
    duration_us BIGINT NOT NULL,
    record_id BIGINT,
    repeats BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE calls_id_seq OWNED BY calls.id;
CREATE INDEX calls_token ON calls (token_id, id);
CREATE INDEX calls_endpoint ON calls (endpoint_id, id);
CREATE INDEX calls_at ON calls (at);
CREATE INDEX calls_refused ON calls (status, id) WHERE status >= 400;

-- The records.
ALTER TABLE records RENAME TO records_unpartitioned;
ALTER INDEX records_pkey RENAME TO records_unpartitioned_pkey;
ALTER INDEX records_endpoint_id RENAME TO records_unpartitioned_endpoint_id;
ALTER INDEX records_received_at RENAME TO records_unpartitioned_received_at;
ALTER TABLE records_unpartitioned RENAME CONSTRAINT records_endpoint_id_fkey TO records_unpartitioned_endpoint_id_fkey;
ALTER SEQUENCE records_id_seq OWNED BY NONE;
CREATE TABLE records (
    id BIGINT NOT NULL DEFAULT nextval('records_id_seq'),
    endpoint_id BIGINT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    received_at TIMESTAMP NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE records_id_seq OWNED BY records.id;
CREATE INDEX records_endpoint_id ON records (endpoint_id, id);
CREATE INDEX records_received_at ON records (endpoint_id, received_at);

-- A partition for every day that holds rows, and for the days around today (UTC:
-- times are stored as UTC).
DO $$
DECLARE
    d date;
BEGIN
    FOR d IN
        SELECT day FROM (
            SELECT DISTINCT at::date AS day FROM calls_unpartitioned
            UNION SELECT DISTINCT received_at::date FROM records_unpartitioned
            UNION SELECT generate_series((now() AT TIME ZONE 'UTC')::date - 1,
                                         (now() AT TIME ZONE 'UTC')::date + 7,
                                         interval '1 day')::date
        ) AS days ORDER BY day
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF calls FOR VALUES FROM (%L) TO (%L)',
                       'calls_p' || to_char(d, 'YYYYMMDD'), d, d + 1);
        EXECUTE format('CREATE TABLE %I PARTITION OF records FOR VALUES FROM (%L) TO (%L)',
                       'records_p' || to_char(d, 'YYYYMMDD'), d, d + 1);
    END LOOP;
END $$;

INSERT INTO calls (id, at, endpoint_id, endpoint_slug, method, path, status, code, token_kind,
                   token_id, token_name, token_method, remote_addr, user_agent, request_bytes,
                   response_bytes, duration_us, record_id, repeats)
SELECT id, at, endpoint_id, endpoint_slug, method, path, status, code, token_kind, token_id,
       token_name, token_method, remote_addr, user_agent, request_bytes, response_bytes,
       duration_us, record_id, repeats
FROM calls_unpartitioned;
DROP TABLE calls_unpartitioned;

INSERT INTO records (id, endpoint_id, received_at, data)
SELECT id, endpoint_id, received_at, data FROM records_unpartitioned;
DROP TABLE records_unpartitioned;
