#!/usr/bin/env bash
# Issue 14, attack 4, from the command line: "deleting the newest audit
# rows still gave 'audit chain verified'".  After the newest rows or a
# middle row are deleted with sqlite3, `softse-tool audit --verify` fails
# and never prints "verified"; the untouched file verifies.
. "$(dirname "${BASH_SOURCE[0]}")/../tools/lib.sh"
need sqlite3
export SOFTSE_ROT_DIR=$work/rot
unset SOFTSE_ROT_PROVIDER SOFTSE_ROT_TCTI

step "a token with some audit records"
new_token t
serial=$(serial_of t)
db=$SOFTSE_STORE/$serial.sqlite
ok "lifecycle operational" tool lifecycle --token t --to operational --so-pin $SO_PIN
ok "audit --verify" tool audit --token t --verify
expect_in "$out" "audit chain verified" "the untouched chain"
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
cp "$db" pristine.sqlite
restore() { rm -f "$db-wal" "$db-shm"; cp pristine.sqlite "$db"; }

step "the newest records deleted"
sqlite3 "$db" "DELETE FROM audit WHERE seq > (SELECT max(seq) - 2 FROM audit)"
fails "audit --verify after cutting the end" tool audit --token t --verify
expect_not_in "$out" "verified" "audit --verify of a cut log"

step "a middle record deleted"
restore
sqlite3 "$db" "DELETE FROM audit WHERE seq = 2"
fails "audit --verify after deleting record 2" tool audit --token t --verify
expect_not_in "$out" "verified" "audit --verify with a hole"
expect_in "$out" "audit chain broken at record 3" "the record after the removed one"

step "the untouched file verifies"
restore
ok "audit --verify" tool audit --token t --verify
expect_in "$out" "audit chain verified" "the restored chain"
echo "PASS: $steps steps"
