-- Compliance rule defaults, the same in every environment (prod included).
-- Idempotent: an existing key keeps the value compliance may have tuned.
INSERT INTO padealing.compliance_config (config_key, config_value, description) VALUES
	('holding_period_days', '30'::jsonb,
	 'minimum days a position must be held before the opposite trade'),
	('execution_window_business_days', '2'::jsonb,
	 'business days after final approval within which the trade must be executed'),
	('contract_note_due_days', '14'::jsonb,
	 'days after execution by which the contract note must be uploaded'),
	('manager_approval_required', 'true'::jsonb,
	 'requests go to the line manager before compliance'),
	('smf16_escalation_value', '{"amount": 100000, "currency": "GBP"}'::jsonb,
	 'estimated value above which compliance escalates to the SMF16 holder'),
	('restricted_list_check', 'true'::jsonb,
	 'block requests for securities on the restricted list'),
	('firm_conflict_check', '{"enabled": true, "mode": "advisory"}'::jsonb,
	 'flag requests in instruments the firm holds (advisory only, never blocks)')
ON CONFLICT (config_key) DO NOTHING;
