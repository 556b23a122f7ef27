DROP TABLE padealing.audit_log;
