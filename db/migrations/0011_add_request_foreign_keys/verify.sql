SELECT (SELECT count(*)
	  FROM pg_constraint c
	  JOIN pg_namespace n ON n.oid = c.connamespace
	 WHERE n.nspname = 'padealing'
	   AND c.contype = 'f'
	   AND c.confrelid = 'padealing.pad_request'::regclass
	   AND c.convalidated
	   AND c.conname IN ('audit_log_request_id_fkey', 'pad_breach_request_id_fkey',
			     'chatbot_session_request_id_fkey')) = 3
	AS ok;
