# backfill_lib.sh: helpers of the backfill scenarios (82x), sourced after lib.sh.

# bf_reference_project NAME: a project like the repository's own (schemas
# padealing / bo_airflow, db/migrations, the reference backfill) on a fresh
# database holding the bo_airflow and legacy fixtures, deployed.
bf_reference_project() {
	new_project "$1"
	cat >"$PROJECT/padctl.yml" <<EOF
project: $1
schemas:
  owned: [padealing]
  protected: [bo_airflow]
EOF
	cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - migrate
on_failure: stop
EOF
	rm -rf "$PROJECT/migrations"
	cp -r "$PADCTL_SOURCE_DIR/db/migrations" "$PROJECT/migrations"
	mkdir -p "$PROJECT/backfills"
	cp "$PADCTL_SOURCE_DIR/db/backfills/personal_account_dealing.yml" "$PROJECT/backfills/"
	local f
	for f in bo_airflow legacy_personal_account_dealing; do
		"$PSQL" -XAtq -v ON_ERROR_STOP=1 -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
			-f "$PADCTL_SOURCE_DIR/db/fixtures/$f.sql" >/dev/null || die "could not load fixture $f"
	done
	pc deploy test
	[ "$RC" = 0 ] || fail_now "deploy of the reference migrations failed" "$ERR"
}

# bf_check_mapping: every branch of the seed's mapping, row by row, on the
# sample's good rows (101-112).
bf_check_mapping() {
	group "pad_request, row by row"
	assert_eq "101|1001|7001|Apple Inc|BUY|f|t|t|t|t|pending_manager|t|t|t|t|1001||
102|1001|7005|Vodafone Group PLC|SELL|t|f|f|f|f|approved|f|f|f|f|1003||t
103|1002|7002|Microsoft Corp|BUY|t|t|f|f|f|pending_compliance|f|f|f|t|1005||
104|1001|7004|Tesla Inc|BUY|t|f|f|f|t|declined|f|f|f|t|1002||
105|1003|7006|HSBC Holdings PLC|BUY|t|f|f|t|f|declined|t|f|f|t|1004||
106|1002|7007|SAP SE|BUY|t|f|f|f|f|pending_manager|f|f|f|t|1002|2023-06-16 08:00:00+00|
107|1005||Private placement XYZ|BUY|t|f|f|f|f|approved|f|f|f|t|1004||
108|1006|7008|iShares Core FTSE 100 ETF|SELL|f|f|f|f|f|pending_manager|||||||
109|1001|7003|Alphabet Inc Class A|BUY|t|f|f|f|f|approved|f|f|f|t|1003||
110|1002|7001|Apple Inc|SELL|f|t|t|f|f|approved|t|f|f|t|1004||f
111|1003|7004|Tesla Inc|SELL|t|t|f|f|f|declined|f|t|t|t|1004||
112|1005|7002|Microsoft Corp|SELL|t|t|f|f|f|approved|f|f|f|t|1003|2023-11-07 10:00:00+00|" \
		"$(psql_q "SET TimeZone = 'UTC'; SELECT id, employee_id, security_id, security_name, direction,
			insider_info_declaration, existing_position, is_related_party, is_restricted, has_conflict, status,
			broker_reporting, is_derivative, is_leveraged, signed_declaration, updated_by_id, deleted_at,
			executed_within_two_days
			FROM padealing.pad_request ORDER BY id")" "pad_request: ids, lookups, flags, BUY/SELL, status, soft delete"
	assert_eq "101|US0378331005|2046251|AAPL US Equity|AAPL|100.0000|15000.00|USD|long-term holding|spouse|spouse works at a supplier|first trade this year|{\"source\": \"legacy_migration\", \"holding_period\": true}|2023-03-01 09:15:00+00|2023-03-01 09:15:00+00|" \
		"$(psql_q "SET TimeZone = 'UTC'; SELECT id, isin, sedol, bloomberg_ticker, ticker, quantity, estimated_value,
			currency, justification, relation, conflict_comments, other_comments, compliance_assessment, created_at,
			updated_at, deleted_by_id FROM padealing.pad_request WHERE id = 101")" "pad_request 101: the copied fields"
	assert_eq "|" "$(psql_q "SELECT compliance_assessment, relation FROM padealing.pad_request WHERE id = 108")" \
		"108: no holding period answer, no relation"
	assert_eq "2023-11-07 10:00:00+00" "$(psql_q "SET TimeZone = 'UTC'; SELECT updated_at FROM padealing.pad_request WHERE id = 112")" \
		"updated_at from last_modified_date"
	ok "pad_request: all 12 rows as the seed's table maps them"

	group "pad_approval, row by row"
	assert_eq "102|manager|1002|approved|fine by me|2023-03-02 11:00:00+00|||
102|compliance|1003|approved|no conflicts found|2023-03-02 14:30:00+00|f|f|f
103|manager|1005|approved||2023-04-10 09:00:00+00|||
104|manager|1002|declined|you cover this name|2023-05-05 15:00:00+00|||
105|manager|1004|approved||2023-06-01 10:00:00+00|||
105|compliance|1004|declined|on the restricted list|2023-06-01 16:45:00+00|t|f|f
107|manager|1005|approved||2023-07-03 10:00:00+00|||
107|compliance|1004|approved||2023-07-04 09:00:00+00|f|t|f
109|manager|1002|approved||2023-08-01 10:00:00+00|||
109|compliance|1003|approved||2023-08-01 12:00:00+00|f|f|f
110|manager|1005|approved||2023-09-12 11:00:00+00|||
110|compliance|1004|approved|ok, trust account|2023-09-13 09:10:00+00|f|f|f
111|manager|1004|declined|no derivatives|2023-10-02 17:00:00+00|||
112|manager|1005|approved||2023-11-06 09:05:00+00|||
112|compliance|1003|approved||2023-11-06 10:00:00+00|f|t|f" \
		"$(psql_q "SET TimeZone = 'UTC'; SELECT request_id, approval_type, approver_id, decision, comments, decided_at,
			restricted_check, holding_period_check, conflict_check FROM padealing.pad_approval
			ORDER BY request_id, approval_type DESC")" "approvals"
	assert_eq "0" "$(psql_q "SELECT count(*) FROM padealing.pad_approval WHERE approver_google_uid IS NOT NULL")" "no google uids"
	ok "pad_approval: a manager row where auth_manager is set, a compliance row where auth_compliance is set"

	group "pad_execution, row by row"
	assert_eq "102|2023-03-02 14:30:00+00|0.750000|2000.0000|t|f|1003
109|2023-08-01 12:00:00+00|130.000000|20.0000|f|f|1003
110|2023-09-13 09:10:00+00|180.000000|5.0000|t|f|1004" \
		"$(psql_q "SET TimeZone = 'UTC'; SELECT request_id, executed_at, execution_price, execution_quantity,
			contract_note_received, contract_note_verified, recorded_by_id FROM padealing.pad_execution ORDER BY request_id")" \
		"executions"
	ok "pad_execution: only where the execution fields are set"

	group "audit_log, row by row"
	assert_eq "12|12|12" "$(psql_q "SELECT count(*), count(DISTINCT request_id), count(*) FILTER (WHERE details = jsonb_build_object('source', 'legacy_migration',
		'original_table', 'personal_account_dealing', 'original_id', request_id)) FROM padealing.audit_log WHERE action_type = 'request_submitted'")" \
		"one request_submitted entry per request, with the legacy_migration details"
	assert_eq "102|request_submitted|success|1001|||2023-03-02 10:00:00+00
102|approval_manager|success|1002|approved|fine by me|2023-03-02 11:00:00+00
102|approval_compliance|success|1003|approved|no conflicts found|2023-03-02 14:30:00+00
104|request_submitted|success|1001|||2023-05-05 13:00:00+00
104|approval_manager|blocked|1002|declined|you cover this name|2023-05-05 15:00:00+00
105|request_submitted|success|1003|||2023-06-01 09:00:00+00
105|approval_manager|success|1004|approved||2023-06-01 10:00:00+00
105|approval_compliance|blocked|1004|declined|on the restricted list|2023-06-01 16:45:00+00" \
		"$(psql_q "SET TimeZone = 'UTC'; SELECT request_id, action_type, action_status, actor_id, decision, comments, \"timestamp\"
			FROM padealing.audit_log WHERE request_id IN (102, 104, 105) ORDER BY request_id, \"timestamp\"")" "audit entries of 102, 104, 105"
	assert_eq "27|0" "$(psql_q "SELECT count(*), count(*) FILTER (WHERE actor_type <> 'user' OR entity_type <> 'pad_request' OR entity_id <> request_id OR google_uid IS NOT NULL OR details->>'source' <> 'legacy_migration') FROM padealing.audit_log")" \
		"12 submissions + 10 manager + 5 compliance entries, all user actions on their pad_request"
	ok "audit_log: three synthetic entries per request where the approvers exist"

	group "migration_mapping"
	assert_eq "padealing.audit_log|27
padealing.pad_approval|15
padealing.pad_execution|3
padealing.pad_request|12" "$(psql_q "SELECT target_table, count(*) FROM padctl.migration_mapping WHERE source_table = 'backoffice.personal_account_dealing' GROUP BY 1 ORDER BY 1")" "mapping per target"
	assert_eq "0" "$(psql_q "SELECT count(*) FROM padctl.migration_mapping m WHERE m.target_table = 'padealing.pad_approval' AND NOT EXISTS (SELECT 1 FROM padealing.pad_approval a WHERE a.id = m.target_id AND a.request_id = m.source_id)")" "mapping points at the rows"
	ok "migration_mapping: every target row, with its source row"
}

# bf_generate FIRST LAST BAD_EVERY: deterministic legacy rows (bench/backfill/generate.sql).
bf_generate() {
	"$PSQL" -XAtq -v ON_ERROR_STOP=1 -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
		-v first="$1" -v last="$2" -v bad_every="$3" -f "$PADCTL_SOURCE_DIR/bench/backfill/generate.sql" >/dev/null ||
		fail_now "could not generate legacy rows $1-$2"
}
