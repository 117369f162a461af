DROP TRIGGER calls_days_update ON calls;
DROP TRIGGER calls_days_insert ON calls;
DROP FUNCTION calls_days_widen();
DROP TABLE calls_days;
