SELECT (SELECT count(*)
	  FROM information_schema.columns
	 WHERE table_schema = 'padealing'
	   AND table_name = 'audit_log'
	   AND column_name IN ('id', 'timestamp', 'action_type', 'action_status', 'actor_type',
			       'actor_id', 'google_uid', 'entity_type', 'entity_id', 'request_id',
			       'decision', 'comments', 'details')) = 13
   AND (SELECT count(*)
	  FROM pg_indexes
	 WHERE schemaname = 'padealing'
	   AND indexname IN ('audit_log_timestamp_idx', 'audit_log_request_id_idx',
			     'audit_log_actor_id_timestamp_idx', 'audit_log_entity_idx')) = 4
	AS ok;
