#!/usr/bin/env bash
# padctl hashes (migration checksums, plan hashes) with OpenSSL's
# provider-free SHA-256, so a configuration that loads no usable provider
# (here: only the null one) changes no digest. What still needs a provider is
# OpenSSL's random generator (temporary file names): that fails with a message
# saying so, and nothing half-done is recorded (issue 6 item 14: unchecked
# OpenSSL calls).
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
# plan's first run writes known_targets (a temporary file and a rename): the
# temporary name needs random bytes, which need a provider
OPENSSL_CONF=$CONF pc plan test
assert_rc 1
assert_err_contains "no random bytes for a temporary name"
assert_err_contains "OPENSSL_CONF"
assert_eq f "$(psql_q "SELECT to_regclass('padctl.plans') IS NOT NULL")" "no plan recorded"
ok "checksums do not depend on the provider; random bytes fail with a message and nothing is recorded"

group "a plan's hash needs no provider"
pc plan test
assert_rc 0
want=$(grep -o 'hash sha256:[0-9a-f]*' <<<"$OUT$ERR" | head -n 1)
[ -n "$want" ] || fail_now "plan printed no hash" "$OUT"
OPENSSL_CONF=$CONF pc plan test
assert_rc 0
assert_any_contains "$want"
ok "plan records the same hash with and without a provider"

group "with the default provider"
pc deploy test
assert_rc 0
ok "the same project deploys normally"

finish
