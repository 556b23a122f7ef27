SELECT (SELECT count(*)
	  FROM information_schema.columns
	 WHERE table_schema = 'padealing'
	   AND table_name = 'pad_approval'
	   AND column_name IN ('id', 'request_id', 'approval_type', 'approver_id',
			       'approver_google_uid', 'decision', 'comments', 'decided_at',
			       'restricted_check', 'holding_period_check', 'conflict_check',
			       'created_at')) = 12
   AND EXISTS (SELECT 1
		 FROM pg_constraint
		WHERE conname = 'pad_approval_request_id_fkey'
		  AND contype = 'f'
		  AND conrelid = 'padealing.pad_approval'::regclass
		  AND confrelid = 'padealing.pad_request'::regclass)
   AND (SELECT count(*)
	  FROM pg_indexes
	 WHERE schemaname = 'padealing'
	   AND indexname IN ('pad_approval_approver_id_idx', 'pad_approval_pending_idx',
			     'pad_approval_request_id_approval_type_key')) = 3
	AS ok;
