#!/usr/bin/env bash
# What a backfill leaves in the ledger: `--dry-run` is recorded as a dry run
# in padctl.runs (not only in padctl.backfill_runs); the file's
# statement_timeout holds for the mapping rows and counts written in each
# batch's transaction (the host's session reset in front of a ledger write
# must not drop it); and mapping rows recorded one per target row (before
# padctl.backfill_mapping) move over and are still skipped by a re-run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

bf_reference_project bfledger
psql_q "DELETE FROM backoffice.personal_account_dealing" >/dev/null
bf_generate 1 40 0

group "--dry-run is a dry run in padctl.runs"
pc backfill test personal_account_dealing --dry-run
assert_rc 0
assert_eq "t|t" "$(psql_q "SELECT r.dry_run, b.dry_run FROM padctl.runs r JOIN padctl.backfill_runs b ON b.run_id = r.id
	WHERE r.command = 'backfill'")" "runs.dry_run and backfill_runs.dry_run"
assert_eq "0|0" "$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(*) FROM padctl.migration_mapping)")" \
	"nothing written"
ok "the dry run's run is recorded with dry_run = true"

group "the batch's statement timeout holds for its mapping rows"
# a trigger on the mapping table records the timeout the mapping insert ran under
psql_q "CREATE TABLE public.seen_timeout (setting text);
	CREATE FUNCTION public.note_timeout() RETURNS trigger LANGUAGE plpgsql AS
	\$\$BEGIN INSERT INTO public.seen_timeout VALUES (current_setting('statement_timeout')); RETURN NULL; END\$\$;
	CREATE TRIGGER note_timeout AFTER INSERT ON padctl.backfill_mapping
	FOR EACH STATEMENT EXECUTE FUNCTION public.note_timeout()" >/dev/null
sed -i 's/^statement_timeout: .*/statement_timeout: 7/' "$PROJECT/backfills/personal_account_dealing.yml"
pc backfill test personal_account_dealing --limit 20 --batch 10
assert_rc 0
assert_eq "7s|7s" "$(psql_q "SELECT string_agg(setting, '|') FROM public.seen_timeout")" "each batch's mapping insert under 7s"
assert_eq "0" "$(psql_q "SHOW statement_timeout")" "the session's own setting is untouched"
ok "statement_timeout 7 applied to the mapping insert of both batches"

group "mapping rows of the old form move to padctl.backfill_mapping"
psql_q "DROP TRIGGER note_timeout ON padctl.backfill_mapping" >/dev/null
# the ledger as the step before padctl.backfill_mapping left it: a table with one row per target row
psql_q "CREATE TABLE padctl.old_mapping AS SELECT source_table, source_id, target_table, target_id, migrated_at
		FROM padctl.migration_mapping;
	DROP VIEW padctl.migration_mapping; DROP TABLE padctl.backfill_mapping;
	ALTER TABLE padctl.old_mapping RENAME TO migration_mapping;
	ALTER TABLE padctl.migration_mapping ADD PRIMARY KEY (source_table, source_id, target_table, target_id);
	UPDATE padctl.meta SET value = '11' WHERE key = 'ledger_version'" >/dev/null # before step 12
before=$(psql_q "SELECT count(*), count(DISTINCT source_id) FROM padctl.migration_mapping")
pc backfill test personal_account_dealing
assert_rc 0
assert_err_contains "40 source rows in backoffice.personal_account_dealing, 20 to do"
assert_eq "v" "$(psql_q "SELECT relkind FROM pg_class WHERE oid = 'padctl.migration_mapping'::regclass")" "now a view"
assert_eq "20" "$(psql_q "SELECT count(*) FROM padctl.backfill_mapping WHERE source_id <= 20")" "one row per old source row"
assert_eq "$before" "$(psql_q "SELECT count(*), count(DISTINCT source_id) FROM padctl.migration_mapping WHERE source_id <= 20")" \
	"the old rows read the same through the view"
assert_eq "40|40|0" "$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(DISTINCT source_id) FROM padctl.migration_mapping),
	(SELECT count(*) FROM (SELECT target_table, target_id FROM padctl.migration_mapping GROUP BY 1, 2 HAVING count(*) > 1) d)")" \
	"every source row once, no target row twice"
pc backfill test personal_account_dealing
assert_rc 0
assert_err_contains "0 to do"
ok "the old mapping rows moved over; the run did only the 20 rows left"

finish
