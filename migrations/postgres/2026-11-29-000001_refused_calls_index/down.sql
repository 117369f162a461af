DROP INDEX calls_refused;
CREATE INDEX calls_status ON calls (status, id);
