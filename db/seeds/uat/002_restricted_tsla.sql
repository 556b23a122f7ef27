-- The restricted security of UAT scenario 8: TSLA, found in the reference
-- data by ticker (oracle_bloomberg), added by the compliance officer.
-- Idempotent: at most one active restriction per ticker (the partial unique
-- index restricted_security_active_ticker_key), so a second run inserts nothing.
INSERT INTO padealing.restricted_security (security_id, ticker, isin, inst_symbol, reason, added_by_id)
SELECT b.id, b.ticker, b.isin, b.inst_symbol, 'Test restriction for UAT',
	(SELECT e.id FROM bo_airflow.oracle_employee e WHERE e.user_name = 'cnguyen')
FROM bo_airflow.oracle_bloomberg b
WHERE b.ticker = 'TSLA'
ORDER BY b.id
LIMIT 1
ON CONFLICT (ticker) WHERE is_active DO NOTHING;
