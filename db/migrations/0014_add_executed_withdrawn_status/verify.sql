SELECT EXISTS (SELECT 1
		 FROM pg_constraint
		WHERE conname = 'pad_request_status_check'
		  AND conrelid = 'padealing.pad_request'::regclass
		  AND pg_get_constraintdef(oid) LIKE '%''executed''%'
		  AND pg_get_constraintdef(oid) LIKE '%''withdrawn''%')
	AS ok;
