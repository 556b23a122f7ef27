-- UAT people, as the team rehearsed the approval flow (db/fixtures/bo_airflow.sql
-- holds them locally; a qa database gets them from the Oracle sync):
--   amartin  Alice Martin  the employee who submits requests
--   bcarter  Ben Carter    her line manager (oracle_employee.manager_id)
--   cnguyen  Chloe Nguyen  the compliance officer who approves and restricts
--   dokafor  David Okafor  compliance, SMF16 holder and admin; grants the roles
-- Employees are found by user_name, never by a hard-coded id, so the set
-- follows whatever ids the reference data has. Idempotent: a role that exists
-- is left as it is (ON CONFLICT DO NOTHING).
INSERT INTO padealing.employee_role (employee_id, role, granted_by_id)
SELECT e.id, v.role, (SELECT g.id FROM bo_airflow.oracle_employee g WHERE g.user_name = 'dokafor')
FROM (VALUES
	('amartin', 'employee'),
	('bcarter', 'employee'),
	('bcarter', 'manager'),
	('cnguyen', 'employee'),
	('cnguyen', 'compliance'),
	('dokafor', 'employee'),
	('dokafor', 'compliance'),
	('dokafor', 'smf16'),
	('dokafor', 'admin')
) AS v (user_name, role)
JOIN bo_airflow.oracle_employee e ON e.user_name = v.user_name
ON CONFLICT (employee_id, role) DO NOTHING;

-- Say so when the reference data lacks someone, rather than seeding half a cast.
DO $$
DECLARE
	missing text;
BEGIN
	SELECT string_agg(u, ', ') INTO missing
	FROM unnest(ARRAY['amartin', 'bcarter', 'cnguyen', 'dokafor']) AS u
	WHERE NOT EXISTS (SELECT 1 FROM bo_airflow.oracle_employee e WHERE e.user_name = u);
	IF missing IS NOT NULL THEN
		RAISE NOTICE 'uat seed: no bo_airflow.oracle_employee row for %: their roles were not granted', missing;
	END IF;
END
$$;
