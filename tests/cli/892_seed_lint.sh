#!/usr/bin/env bash
# Seed files are linted for the protected schemas before they run (issue 11:
# "Also applies to seed files"): a seed file or a set's teardown.sql that
# writes to a protected schema is refused at FILE:LINE:COL, nothing of its
# set is applied or recorded; a dry run says so too; reading one is fine.
. "$(dirname "$0")/lib.sh"

new_project seedlint
printf '%s\n' "steps:" "  - migrate" "  - seed" "on_failure: stop" >"$PROJECT/pipelines/standard.yml"
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.x (i int); INSERT INTO ref.x VALUES (1)" >/dev/null
add_migration 0001 tables "CREATE SCHEMA app; CREATE TABLE app.t (i int);"
write_env "$DB" "$TPG_PORT" "seeds: [common]"
mkdir -p "$PROJECT/seeds/common"
printf '%s\n' "INSERT INTO app.t SELECT i FROM ref.x;" >"$PROJECT/seeds/common/001_ok.sql"
printf '%s\n' "INSERT INTO app.t VALUES (2);" "UPDATE ref.x SET i = 3;" >"$PROJECT/seeds/common/002_bad.sql"
rows() { psql_q "SELECT coalesce(string_agg(i::text, ',' ORDER BY i), '') FROM app.t"; }

group "a seed file that writes a protected schema"
pc deploy test
assert_rc 1
assert_err_contains "seeds/common/002_bad.sql:2:1: error protected-schema: writes to ref.x in the protected schema \"ref\""
assert_eq "" "$(rows)" "nothing of the set applied"
assert_eq "1" "$(psql_q "SELECT i FROM ref.x")" "the protected table untouched"
assert_eq "0" "$(psql_q "SELECT count(*) FROM padctl.seeds")" "nothing recorded"
ok "refused"

group "a dry run says so too"
pc seed test --dry-run
assert_rc 1
assert_err_contains "seeds/common/002_bad.sql:2:1: error protected-schema"
ok "refused in a dry run"

group "a teardown.sql that writes a protected schema"
printf '%s\n' "INSERT INTO app.t VALUES (2);" >"$PROJECT/seeds/common/002_bad.sql"
pc seed test
assert_rc 0
assert_eq "1,2" "$(rows)" "the set applied once it only reads the protected schema"
printf '%s\n' "DELETE FROM app.t;" "DELETE FROM ref.x;" >"$PROJECT/seeds/common/teardown.sql"
pc seed test --teardown common
assert_rc 1
assert_err_contains "seeds/common/teardown.sql:2:1: error protected-schema"
assert_eq "1,2" "$(rows)" "nothing of the teardown ran"
assert_eq "1" "$(psql_q "SELECT count(*) FROM ref.x")" "the protected table untouched"
ok "refused"

finish
