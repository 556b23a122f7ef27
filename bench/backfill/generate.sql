-- generate.sql: deterministic legacy rows for backoffice.personal_account_dealing,
-- ids :first to :last, with the variety of the reference mapping (every status
-- branch, '1'/'2'/NULL flags, B/S, known and unknown instruments, soft
-- deletes, executions). With :bad_every > 0 every :bad_every-th id is bad:
-- alternately an employee that does not exist (a pre-check failure) and a
-- trade size of 0 (a check constraint the server refuses).
--   psql -v first=1 -v last=1000000 -v bad_every=0 -f generate.sql
-- Used by bench/backfill/run.sh and the backfill CLI scenarios (tests/cli/82x).
INSERT INTO backoffice.personal_account_dealing (id, employee, requested_date, name, related_yn, relation,
	broker_reporting_yn, security_description, isin, sedol, bloomberg, ticker, inst_symbol, trade_size, value,
	currency, derivative_contract_yn, justification, leveraged_yn, buysell, inside_info_yn, existing_pos_yn,
	signed_yn, status, restricted_yn, holding_period_yn, conflicts_yn, conflict_comments, other_comments,
	two_business_days_execution_yn, contract_notes_received_yn, auth_manager, auth_manager_date, status_manager,
	comments_manager, auth_compliance, auth_compliance_date, status_compliance, comments_compliance,
	last_modified_by, last_modified_date, is_deleted_yn)
SELECT g,
	CASE WHEN :bad_every > 0 AND g % :bad_every = 0 AND (g / :bad_every) % 2 = 0 THEN 9999 ELSE 1001 + g % 5 END,
	t, 'Employee ' || (g % 5),
	f1, CASE WHEN f1 = '1' THEN 'spouse' END, f2,
	'Security ' || (g % 9), 'XS' || lpad((g % 9)::text, 10, '0'), lpad((g % 9)::text, 7, '0'), 'SEC' || (g % 9) || ' Equity',
	'SEC' || (g % 9),
	(ARRAY['AAPL.OQ', 'MSFT.OQ', 'GOOGL.OQ', 'TSLA.OQ', 'VOD.L', 'HSBA.L', 'SAPG.DE', 'ISF.L', 'UNKNOWN.X'])[1 + g % 9],
	CASE WHEN :bad_every > 0 AND g % :bad_every = 0 AND (g / :bad_every) % 2 = 1 THEN 0 ELSE 1 + g % 997 END,
	(1 + g % 997) * 12.5, (ARRAY['USD', 'GBP', 'EUR'])[1 + g % 3],
	f3, 'justification ' || (g % 11), f1, CASE WHEN g % 2 = 0 THEN 'B' ELSE 'S' END,
	f2, f3, f1,
	(ARRAY['request', 'approved', 'approved', 'declined', 'declined'])[1 + st],
	f2, f3, f1, CASE WHEN g % 13 = 0 THEN 'conflict ' || g END, CASE WHEN g % 7 = 0 THEN 'comment ' || g END,
	CASE WHEN st = 1 AND g % 3 = 0 THEN f2 END, CASE WHEN st = 1 AND g % 3 = 0 THEN f1 END,
	CASE WHEN st > 0 THEN 1001 + (g + 1) % 5 END, CASE WHEN st > 0 THEN t + interval '1 hour' END,
	CASE st WHEN 0 THEN NULL WHEN 3 THEN 'declined' ELSE 'approved' END,
	CASE WHEN st = 3 THEN 'no' END,
	CASE WHEN st IN (1, 4) THEN 1003 + g % 2 END, CASE WHEN st IN (1, 4) THEN t + interval '5 hours' END,
	CASE st WHEN 1 THEN 'approved' WHEN 2 THEN 'pending' WHEN 4 THEN 'declined' END,
	CASE WHEN st = 4 THEN 'restricted' END,
	1001 + g % 5, t + interval '6 hours', CASE WHEN g % 17 = 0 THEN 'Y' ELSE 'N' END
FROM (SELECT g, timestamp '2020-01-01' + g * interval '1 minute' AS t, g % 5 AS st,
	     (ARRAY['1', '2', NULL])[1 + g % 3] AS f1, (ARRAY['2', '1', NULL])[1 + (g / 3) % 3] AS f2,
	     (ARRAY['1', '2'])[1 + (g / 7) % 2] AS f3
      FROM generate_series(:first::bigint, :last::bigint) g) s;
