SELECT (SELECT count(*)
	  FROM information_schema.columns
	 WHERE table_schema = 'padealing'
	   AND table_name = 'restricted_security'
	   AND column_name IN ('id', 'security_id', 'ticker', 'isin', 'inst_symbol', 'reason',
			       'is_active', 'added_by_id', 'added_at', 'removed_by_id',
			       'removed_at')) = 11
   AND EXISTS (SELECT 1
		 FROM pg_index i
		 JOIN pg_class c ON c.oid = i.indexrelid
		 JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'padealing'
		  AND c.relname = 'restricted_security_active_ticker_key'
		  AND i.indisunique)
	AS ok;
