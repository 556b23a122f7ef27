SELECT (SELECT count(*)
	  FROM information_schema.columns
	 WHERE table_schema = 'padealing'
	   AND table_name = 'pad_breach'
	   AND column_name IN ('id', 'request_id', 'employee_id', 'breach_type', 'severity',
			       'description', 'status', 'detected_at', 'detected_by_id',
			       'resolved_at', 'resolved_by_id', 'resolution_notes',
			       'created_at')) = 13
   AND (SELECT count(*)
	  FROM pg_indexes
	 WHERE schemaname = 'padealing'
	   AND indexname IN ('pad_breach_employee_id_idx', 'pad_breach_open_idx')) = 2
	AS ok;
