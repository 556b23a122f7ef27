#!/usr/bin/env bash
# When OpenSSL cannot hash (here: a configuration that loads no provider with
# SHA-256), padctl stops with a message instead of comparing or recording a
# checksum made of garbage (issue 6 item 14: unchecked OpenSSL calls).
. "$(dirname "$0")/lib.sh"

new_project nossl
add_migration 0001 create_app "CREATE SCHEMA app;"
CONF=$PROJECT/.openssl-null.cnf
cat >"$CONF" <<'CNF'
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
null = null_sect
[null_sect]
activate = 1
CNF

group "no SHA-256 provider"
for c in "status test" "deploy test" "plan test"; do
	# shellcheck disable=SC2086
	OPENSSL_CONF=$CONF pc $c
	assert_rc 1
	assert_err_contains "could not compute a SHA-256"
	assert_err_contains "EVP_MD_fetch(SHA256) failed"
done
assert_eq f "$(psql_q "SELECT to_regnamespace('app') IS NOT NULL")" "nothing deployed"
ok "status, deploy and plan stop with a message and deploy nothing"

group "with the default provider"
pc deploy test
assert_rc 0
ok "the same project deploys normally"

finish
