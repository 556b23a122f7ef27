-- Test users and a restricted security for local development and UAT rehearsal.
-- Never applied to prod (the prod env does not list the `local` seed set).
-- Employee and security ids are those of db/fixtures/bo_airflow.sql:
-- 1001 Alice Martin (requester), 1002 Ben Carter (her manager),
-- 1003 Chloe Nguyen (compliance), 1004 David Okafor (compliance, SMF16, admin).
-- Idempotent: re-running inserts nothing twice.
INSERT INTO padealing.employee_role (employee_id, role, granted_by_id) VALUES
	(1001, 'employee',   1004),
	(1002, 'employee',   1004),
	(1002, 'manager',    1004),
	(1003, 'employee',   1004),
	(1003, 'compliance', 1004),
	(1004, 'employee',   1004),
	(1004, 'compliance', 1004),
	(1004, 'smf16',      1004),
	(1004, 'admin',      1004)
ON CONFLICT (employee_id, role) DO NOTHING;

-- TSLA: oracle_bloomberg id 7004.
INSERT INTO padealing.restricted_security
	(security_id, ticker, isin, inst_symbol, reason, added_by_id) VALUES
	(7004, 'TSLA', 'US88160R1014', 'TSLA.OQ', 'Test restriction for UAT (local seed)', 1003)
ON CONFLICT (ticker) WHERE is_active DO NOTHING;
