DROP TRIGGER calls_spans_update;
DROP TRIGGER calls_spans_insert;
DROP TABLE calls_spans;
CREATE TABLE calls_disorder (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- The latest `at` so far (a julianday), the largest id so far.
    latest_day REAL,
    last_id BIGINT NOT NULL,
    lag_ms BIGINT
);

INSERT INTO calls_disorder (id, latest_day, last_id, lag_ms)
SELECT 1, MAX(t), COALESCE(MAX(id), 0),
       CASE WHEN COUNT(t) < COUNT(*) THEN NULL
            ELSE MAX(0, COALESCE(CAST(MAX(before - t) * 86400000 AS INTEGER), 0)) + 5 END
FROM (SELECT id, t, MAX(t) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
      FROM (SELECT id, julianday(at) AS t FROM calls));

CREATE TRIGGER calls_disorder_insert AFTER INSERT ON calls BEGIN
    UPDATE calls_disorder SET
        lag_ms = CASE
            WHEN NEW.id <= last_id OR julianday(NEW.at) IS NULL THEN NULL
            WHEN latest_day IS NULL THEN lag_ms
            ELSE MAX(lag_ms, CAST((latest_day - julianday(NEW.at)) * 86400000 AS INTEGER) + 5)
        END,
        latest_day = MAX(COALESCE(latest_day, julianday(NEW.at)), julianday(NEW.at)),
        last_id = MAX(last_id, NEW.id);
END;

CREATE TRIGGER calls_disorder_update AFTER UPDATE OF id, at ON calls
WHEN NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at BEGIN
    UPDATE calls_disorder SET lag_ms = NULL;
END;
