SELECT (SELECT count(*)
	  FROM information_schema.columns
	 WHERE table_schema = 'padealing'
	   AND table_name = 'compliance_config'
	   AND column_name IN ('id', 'config_key', 'config_value', 'description', 'is_active',
			       'updated_by_id', 'created_at', 'updated_at')) = 8
   AND EXISTS (SELECT 1 FROM pg_constraint
		WHERE conname = 'compliance_config_config_key_key'
		  AND contype = 'u'
		  AND conrelid = 'padealing.compliance_config'::regclass)
	AS ok;
