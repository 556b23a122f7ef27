-- padctl:allow syntax PostgreSQL 17 on the target
ALTER TABLE app.t ALTER COLUMN c SET EXPRESSION AS (1);
SET search_path = app, bo_airflow;
CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
ALTER TABLE t ADD c int DEFAULT g(;
frobnicate;
CREATE RULE r AS ON INSERT TO t DO ALSO (DELETE FROM u; DELETE FROM v);
INSERT INTO oracle_employee VALUES (1);
DROP TABLE x;
SELECT $$open
