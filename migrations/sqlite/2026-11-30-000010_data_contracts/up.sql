-- Data contracts: every version of an endpoint's JSON Schema (kept, for its history);
-- the endpoint points at the one in force; calls say whether their body conformed.
CREATE TABLE endpoint_schemas (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    endpoint_id BIGINT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    mode TEXT NOT NULL,
    schema TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (endpoint_id, version)
);
ALTER TABLE endpoints ADD COLUMN schema_id BIGINT;
ALTER TABLE calls ADD COLUMN conforms BOOLEAN;
-- Why a call was refused where its code alone does not say (a schema violation's
-- pointers and messages, which never repeat the body's values).
ALTER TABLE calls ADD COLUMN detail TEXT;
