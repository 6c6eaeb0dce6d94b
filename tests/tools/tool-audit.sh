#!/usr/bin/env bash
# softse-tool audit (docs/spec.md §3): the hash-chained log lists a wrong PIN,
# key creation and a lifecycle transition and verifies; a record changed
# or removed with sqlite3 is detected and named.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need pkcs11-tool
need sqlite3

step "some activity: a wrong PIN, a key pair, a lifecycle transition"
new_token t
serial=$(serial_of t)
db=$SOFTSE_STORE/$serial.sqlite
[ -f "$db" ] || fail "no store file $db"
fails "wrong user PIN" p11 --token-label t --login --pin 999999 --list-objects
ok "generate a key pair" p11 --token-label t --login --pin $PIN --keypairgen --key-type EC:prime256v1 \
    --label audited-key --id 01
ok "lifecycle operational" tool lifecycle --token t --to operational --so-pin $SO_PIN

step "audit --verify accepts the chain and lists those events"
ok "audit --verify" tool audit --token t --verify
log=$out
expect_in "$log" "audit chain verified" "audit --verify"
expect_in "$log" "^ +1  [0-9]{4}-[0-9]{2}-[0-9]{2}T" "record 1 with its time"
expect_in "$log" "token-created" "the token creation"
expect_in "$log" "pin-incorrect .*user PIN incorrect" "the wrong PIN"
expect_in "$log" "object-created .*CKM_EC_KEY_PAIR_GEN" "the key creation"
expect_in "$log" "lifecycle .*1 -> 2" "the transition"
records=$(sqlite3 "$db" "SELECT count(*) FROM audit")
[ "$records" -ge 5 ] || fail "only $records audit records"
ok "audit by serial" tool audit --serial "$serial" --verify
ok "audit by slot" tool audit --slot 0 --verify
fails "audit of an unknown token" tool audit --token nobody --verify
expect_in "$out" "no token \"nobody\"" "unknown token"

# The store is in WAL mode: a copy is taken after a checkpoint.
snapshot() {
    sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    cp "$db" pristine.sqlite
}
restore() {
    rm -f "$db-wal" "$db-shm"
    cp pristine.sqlite "$db"
}

step "a changed record is detected and named"
snapshot
sqlite3 "$db" "UPDATE audit SET detail='x' WHERE seq=3"
fails "audit --verify after UPDATE" tool audit --token t --verify
expect_in "$out" "audit chain broken at record 3" "the changed record"
ok "audit without --verify still prints" tool audit --token t
expect_in "$out" "warning: audit chain broken at record 3" "the warning without --verify"

step "a removed record in the middle is detected"
restore
ok "audit --verify of the restored file" tool audit --token t --verify
sqlite3 "$db" "DELETE FROM audit WHERE seq=2"
fails "audit --verify after DELETE" tool audit --token t --verify
expect_in "$out" "audit chain broken at record 3" "the record after the removed one"

echo "PASS: $steps steps"
