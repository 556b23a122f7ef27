#!/usr/bin/env bash
# When OpenSSL cannot hash through EVP (here: a configuration that loads no
# provider with SHA-256), padctl stops with a message instead of comparing or
# recording a digest made of garbage (issue 6 item 14: unchecked OpenSSL
# calls); migration checksums do not need a provider at all.
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
# migration checksums use OpenSSL's provider-free SHA256 functions (status
# checksums every file; fetching the provider's digest costs a millisecond),
# so they are the same whatever OPENSSL_CONF says, and every call is checked
pc --json status test
assert_rc 0
want=$OUT
OPENSSL_CONF=$CONF pc --json status test
assert_rc 0
assert_eq "$want" "$OUT" "status with and without a SHA-256 provider"
# plan hashes its body through EVP: without a provider it stops with a message
OPENSSL_CONF=$CONF pc plan test
assert_rc 1
assert_err_contains "SHA-256"
assert_eq f "$(psql_q "SELECT to_regclass('padctl.plans') IS NOT NULL")" "no plan recorded"
ok "checksums do not depend on the provider; plan stops with a message and records nothing"

group "with the default provider"
pc deploy test
assert_rc 0
ok "the same project deploys normally"

finish
