ALTER TABLE calls DROP COLUMN detail;
ALTER TABLE calls DROP COLUMN conforms;
ALTER TABLE endpoints DROP COLUMN schema_id;
DROP TABLE endpoint_schemas;
