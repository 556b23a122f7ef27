-- Present and valid (a failed concurrent build leaves an INVALID index behind).
SELECT (SELECT count(*)
	  FROM pg_index i
	  JOIN pg_class c ON c.oid = i.indexrelid
	  JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'padealing'
	   AND c.relname IN ('pad_request_status_created_at_idx', 'pad_breach_request_id_idx',
			     'chatbot_session_request_id_idx')
	   AND i.indisvalid
	   AND i.indisready) = 3
	AS ok;
