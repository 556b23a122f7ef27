#!/usr/bin/env bash
# A password_command comes from a committed env file: padctl runs it only
# after `padctl trust ENV` recorded it (outside the project), and refuses it
# again when it changes or the trust is revoked (issue 6 item 13).
. "$(dirname "$0")/lib.sh"

new_project trust
add_migration 0001 create_app "CREATE SCHEMA app;"
CONF=$(mktemp -d "$PADCTL_TEST_TMP/trustconf.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$CONF")
export XDG_CONFIG_HOME=$CONF
MARK=$PROJECT/command-ran
CMD="touch '$MARK'; echo secret"
write_env "$DB" "$TPG_PORT" "      password_command: \"$CMD\""

group "an untrusted password_command never runs"
for c in "status test" "plan test" "deploy test" "doctor test"; do
	# shellcheck disable=SC2086
	pc $c
	[ ! -e "$MARK" ] || fail_now "\`padctl $c\` ran the untrusted password_command"
	[ "$RC" != 0 ] || fail_now "\`padctl $c\` exited 0 with an untrusted password_command"
	assert_any_contains 'password_command of target "t1": it is not trusted'
	assert_any_contains 'padctl trust test'
done
pc deploy test
assert_rc 2
assert_err_contains "envs/test.yml (line 10)"
assert_err_contains "$CONF/padctl/trusted"
[ ! -e "$CONF/padctl/trusted" ] || fail_now "a refusal wrote the trust file"
ok "status, plan, deploy and doctor refuse to run it and say how to trust it"

group "trust records it outside the project"
pc trust test
assert_rc 0
assert_out_contains "trusted password_command of target t1"
assert_out_contains "$CMD"
[ -f "$CONF/padctl/trusted" ] || fail_now "no trust file"
assert_eq 600 "$(stat -c %a "$CONF/padctl/trusted")" "trust file mode"
assert_not_contains "$(cat "$CONF/padctl/trusted")" "secret" "trust file (holds a digest, not the command)"
[ -z "$(find "$PROJECT" -name trusted)" ] || fail_now "trust wrote into the project"
pc status test
assert_rc 0
[ -e "$MARK" ] || fail_now "the trusted password_command did not run"
pc trust test
assert_rc 0
assert_eq 1 "$(wc -l <"$CONF/padctl/trusted")" "trusting twice records one line"
ok "after padctl trust, the command runs"

group "a changed command is untrusted again"
rm -f "$MARK"
write_env "$DB" "$TPG_PORT" "      password_command: \"$CMD # changed\""
pc status test
assert_rc 1
assert_any_contains "it is not trusted"
[ ! -e "$MARK" ] || fail_now "a changed password_command ran"
ok "a changed command is refused until trusted again"

group "the same project in another directory is untrusted"
write_env "$DB" "$TPG_PORT" "      password_command: \"$CMD\""
COPY=$(mktemp -d "$PADCTL_TEST_TMP/trustcopy.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$COPY")
cp -r "$PROJECT/." "$COPY/"
pc_in "$COPY" status test
assert_rc 1
assert_any_contains "it is not trusted"
pc status test
assert_rc 0
ok "trust is per project directory"

group "revoke"
rm -f "$MARK"
pc trust test --revoke
assert_rc 0
assert_out_contains "untrusted password_command of target t1"
pc status test
assert_rc 1
assert_any_contains "it is not trusted"
[ ! -e "$MARK" ] || fail_now "a revoked password_command ran"
ok "trust --revoke refuses it again"

group "password_env needs no trust"
write_env "$DB"
pc trust test
assert_rc 0
assert_out_contains "env test has no password_command"
ok "an env without password_command has nothing to trust"

finish
