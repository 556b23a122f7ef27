SELECT (SELECT count(*)
	  FROM information_schema.columns
	 WHERE table_schema = 'padealing'
	   AND table_name = 'pad_request'
	   AND (column_name, data_type) IN (('conflict_comments', 'text'),
					    ('other_comments', 'text'),
					    ('broker_reporting', 'boolean'),
					    ('is_derivative', 'boolean'),
					    ('is_leveraged', 'boolean'),
					    ('related_party_name', 'character varying'),
					    ('signed_declaration', 'boolean'),
					    ('updated_by_id', 'bigint'),
					    ('deleted_at', 'timestamp with time zone'),
					    ('deleted_by_id', 'bigint'),
					    ('executed_within_two_days', 'boolean'))) = 11
	AS ok;
