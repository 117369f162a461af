DROP TRIGGER calls_disorder_update;
DROP TRIGGER calls_disorder_insert;
DROP TABLE calls_disorder;
