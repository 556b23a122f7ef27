SELECT (SELECT count(*)
	  FROM information_schema.columns
	 WHERE table_schema = 'padealing'
	   AND table_name = 'pad_request'
	   AND column_name IN ('id', 'employee_id', 'security_id', 'security_name', 'isin', 'sedol',
			       'bloomberg_ticker', 'ticker', 'quantity', 'estimated_value', 'currency',
			       'justification', 'direction', 'insider_info_declaration',
			       'existing_position', 'is_related_party', 'relation', 'is_restricted',
			       'has_conflict', 'status', 'compliance_assessment', 'created_at',
			       'updated_at')) = 23
   AND (SELECT count(*)
	  FROM pg_constraint
	 WHERE conrelid = 'padealing.pad_request'::regclass
	   AND conname IN ('pad_request_pkey', 'pad_request_direction_check',
			   'pad_request_quantity_check', 'pad_request_status_check')) = 4
   AND (SELECT count(*)
	  FROM pg_indexes
	 WHERE schemaname = 'padealing'
	   AND indexname IN ('pad_request_employee_id_idx', 'pad_request_created_at_idx',
			     'pad_request_isin_idx')) = 3
	AS ok;
