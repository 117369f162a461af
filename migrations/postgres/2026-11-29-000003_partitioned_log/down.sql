-- Back to one table each, every row kept.
CREATE TABLE calls_single (LIKE calls INCLUDING DEFAULTS);
INSERT INTO calls_single SELECT * FROM calls;
ALTER SEQUENCE calls_id_seq OWNED BY NONE;
DROP TABLE calls;
ALTER TABLE calls_single RENAME TO calls;
ALTER TABLE calls ADD PRIMARY KEY (id);
ALTER SEQUENCE calls_id_seq OWNED BY calls.id;
CREATE INDEX calls_token ON calls (token_id, id);
CREATE INDEX calls_endpoint ON calls (endpoint_id, id);
CREATE INDEX calls_at ON calls (at);
CREATE INDEX calls_refused ON calls (status, id) WHERE status >= 400;

CREATE TABLE records_single (LIKE records INCLUDING DEFAULTS);
INSERT INTO records_single SELECT * FROM records;
ALTER SEQUENCE records_id_seq OWNED BY NONE;
DROP TABLE records;
ALTER TABLE records_single RENAME TO records;
ALTER TABLE records ADD PRIMARY KEY (id);
ALTER TABLE records ADD FOREIGN KEY (endpoint_id) REFERENCES endpoints(id) ON DELETE CASCADE;
ALTER SEQUENCE records_id_seq OWNED BY records.id;
CREATE INDEX records_endpoint_id ON records (endpoint_id, id);
CREATE INDEX records_received_at ON records (endpoint_id, received_at);
