SELECT (SELECT count(*)
	  FROM information_schema.columns
	 WHERE table_schema = 'padealing'
	   AND table_name = 'chatbot_session'
	   AND column_name IN ('id', 'session_id', 'employee_id', 'slack_user_id',
			       'slack_channel_id', 'state', 'conversation', 'draft_request',
			       'request_id', 'created_at', 'updated_at', 'expires_at')) = 12
   AND EXISTS (SELECT 1 FROM pg_indexes
		WHERE schemaname = 'padealing'
		  AND indexname = 'chatbot_session_employee_active_idx')
	AS ok;
