SELECT (SELECT count(*)
	  FROM information_schema.columns
	 WHERE table_schema = 'padealing'
	   AND table_name = 'employee_role'
	   AND column_name IN ('id', 'employee_id', 'role', 'is_active', 'granted_by_id', 'granted_at')) = 6
   AND EXISTS (SELECT 1 FROM pg_constraint
		WHERE conname = 'employee_role_employee_id_role_key'
		  AND conrelid = 'padealing.employee_role'::regclass)
	AS ok;
