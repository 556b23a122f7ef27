DROP INDEX CONCURRENTLY IF EXISTS padealing.chatbot_session_request_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS padealing.pad_breach_request_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS padealing.pad_request_status_created_at_idx;
