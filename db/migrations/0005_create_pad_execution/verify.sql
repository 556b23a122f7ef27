SELECT (SELECT count(*)
	  FROM information_schema.columns
	 WHERE table_schema = 'padealing'
	   AND table_name = 'pad_execution'
	   AND column_name IN ('id', 'request_id', 'executed_at', 'execution_price',
			       'execution_quantity', 'broker_reference', 'contract_note_path',
			       'contract_note_received', 'contract_note_verified',
			       'verification_metadata', 'recorded_by_id', 'created_at')) = 12
   AND EXISTS (SELECT 1
		 FROM pg_constraint
		WHERE conname = 'pad_execution_request_id_fkey'
		  AND contype = 'f'
		  AND conrelid = 'padealing.pad_execution'::regclass
		  AND confrelid = 'padealing.pad_request'::regclass)
   AND (SELECT count(*)
	  FROM pg_indexes
	 WHERE schemaname = 'padealing'
	   AND indexname IN ('pad_execution_request_id_key', 'pad_execution_executed_at_idx',
			     'pad_execution_unverified_idx')) = 3
	AS ok;
