-- Built concurrently: pad_request and audit_log are busy tables in prod and a
-- plain CREATE INDEX would block writes for the whole build.
-- IF NOT EXISTS so a re-run after a partial failure picks up where it stopped
-- (an INVALID leftover must be dropped first; padctl reports those).
CREATE INDEX CONCURRENTLY IF NOT EXISTS pad_request_status_created_at_idx
	ON padealing.pad_request (status, created_at DESC) WHERE deleted_at IS NULL;

CREATE INDEX CONCURRENTLY IF NOT EXISTS pad_breach_request_id_idx
	ON padealing.pad_breach (request_id);

CREATE INDEX CONCURRENTLY IF NOT EXISTS chatbot_session_request_id_idx
	ON padealing.chatbot_session (request_id);
