-- Requests now carry their whole life cycle: 'executed' once the trade is
-- recorded (pad_execution), 'withdrawn' when the employee cancels (soft
-- delete via deleted_at / deleted_by_id).
ALTER TABLE padealing.pad_request DROP CONSTRAINT pad_request_status_check;

ALTER TABLE padealing.pad_request
	ADD CONSTRAINT pad_request_status_check
	CHECK (status IN ('pending_manager', 'pending_compliance', 'approved', 'declined',
			  'executed', 'withdrawn'));
