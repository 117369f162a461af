UPDATE audit_log SET target_type = 'token' WHERE target_type = 'mapping';
DROP INDEX audit_log_target;
DROP INDEX audit_log_action;
DROP INDEX audit_log_actor;
