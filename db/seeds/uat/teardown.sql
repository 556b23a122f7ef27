-- `padctl seed ENV --teardown uat`: removes what this set added, after UAT.
-- Only the rows the set's files insert: the UAT people's roles as the set
-- grants them, and the TSLA restriction with the UAT reason. Never applied as
-- a seed file.
DELETE FROM padealing.employee_role r
USING bo_airflow.oracle_employee e, (VALUES
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
WHERE e.user_name = v.user_name AND r.employee_id = e.id AND r.role = v.role;

DELETE FROM padealing.restricted_security
WHERE ticker = 'TSLA' AND reason = 'Test restriction for UAT';
