-- Fails while rows use the new statuses: map them back first if that happens.
ALTER TABLE padealing.pad_request DROP CONSTRAINT pad_request_status_check;

ALTER TABLE padealing.pad_request
	ADD CONSTRAINT pad_request_status_check
	CHECK (status IN ('pending_manager', 'pending_compliance', 'approved', 'declined'));
