SELECT (SELECT count(*)
	  FROM pg_trigger t
	  JOIN pg_class c ON c.oid = t.tgrelid
	  JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'padealing'
	   AND NOT t.tgisinternal
	   AND t.tgfoid = 'padealing.set_updated_at()'::regprocedure
	   AND t.tgname IN ('pad_request_set_updated_at', 'compliance_config_set_updated_at',
			    'chatbot_session_set_updated_at')) = 3
	AS ok;
