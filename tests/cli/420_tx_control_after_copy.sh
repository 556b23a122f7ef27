#!/usr/bin/env bash
# Transaction control right after COPY data (after its "\." line) or after a
# \restrict line follows no semicolon; load still finds it in a transactional
# migration and refuses the whole run before anything is sent, as it does
# anywhere else in the file.
. "$(dirname "$0")/lib.sh"

new_project txcopy
add_migration 0001 app "CREATE SCHEMA app;"

copy_then() {   # NAME TEXT (printf format)
	rm -rf "$PROJECT"/migrations/0002_*
	mkdir -p "$PROJECT/migrations/0002_$1"
	printf "$2" >"$PROJECT/migrations/0002_$1/up.sql"
}

group "COMMIT after COPY data (LF)"
copy_then copy_lf 'CREATE TABLE app.c (t text);\nCOPY app.c (t) FROM stdin;\nx\n\\.\nCOMMIT;\nSELECT no_such_fn();\n'
pc plan test
assert_rc 2
assert_err_contains "0002_copy_lf/up.sql:5: transaction control"
pc deploy test
assert_rc 2
assert_eq f "$(psql_q "SELECT to_regnamespace('app') IS NOT NULL")" "nothing ran, not even 0001"
ok "refused at load, at its line"

group "BEGIN after COPY data (CRLF)"
copy_then copy_crlf 'CREATE TABLE app.c (t text);\r\nCOPY app.c (t) FROM stdin;\r\nx\r\n\\.\r\nBEGIN;\r\n'
pc deploy test
assert_rc 2
assert_err_contains "0002_copy_crlf/up.sql:5: transaction control"
ok "refused at load, at its line"

group "ROLLBACK after a \\unrestrict line"
copy_then unrestrict 'SELECT 1;\n\\unrestrict abc\nROLLBACK;\n'
pc deploy test
assert_rc 2
assert_err_contains "0002_unrestrict/up.sql:3: transaction control"
ok "refused at load, at its line"

group "a COPY data row \"COMMIT;\" is data"
copy_then copy_row 'CREATE TABLE app.c (t text);\nCOPY app.c (t) FROM stdin;\nCOMMIT;\n\\.\n'
pc deploy test
assert_rc 0
assert_eq "COMMIT;" "$(psql_q "SELECT t FROM app.c")" "the row"
ok "deployed"

finish
