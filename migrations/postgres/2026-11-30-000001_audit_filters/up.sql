-- The audit page filters by actor, action and target type and pages newest first
-- (by id): one index per filter, ending in id, so a filtered page walks one index
-- backwards instead of reading the whole log. (`at` already has its index.)
CREATE INDEX audit_log_actor ON audit_log(actor, id);
CREATE INDEX audit_log_action ON audit_log(action, id);
CREATE INDEX audit_log_target ON audit_log(target_type, id);

-- Mappings became a target type of their own (they were filed under their token).
UPDATE audit_log SET target_type = 'mapping' WHERE action LIKE 'mapping.%';
