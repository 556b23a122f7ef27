-- Link the satellite tables to pad_request. SET NULL rather than CASCADE:
-- audit entries, breaches and bot sessions outlive a deleted request.
-- (Employee and security ids stay without foreign keys: bo_airflow is not ours.)
ALTER TABLE padealing.audit_log
	ADD CONSTRAINT audit_log_request_id_fkey
	FOREIGN KEY (request_id) REFERENCES padealing.pad_request (id) ON DELETE SET NULL;

ALTER TABLE padealing.pad_breach
	ADD CONSTRAINT pad_breach_request_id_fkey
	FOREIGN KEY (request_id) REFERENCES padealing.pad_request (id) ON DELETE SET NULL;

ALTER TABLE padealing.chatbot_session
	ADD CONSTRAINT chatbot_session_request_id_fkey
	FOREIGN KEY (request_id) REFERENCES padealing.pad_request (id) ON DELETE SET NULL;
