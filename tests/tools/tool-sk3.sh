#!/usr/bin/env bash
# softse-tool sk3 (docs/spec.md §6, seed 002): SK3 between three tokens — the
# server S and the cards of hosts i and j — driven only from the shell,
# every query its own softse-tool process with its own C_Initialize, the
# values carried between them as hex, as docs/protocols.md scripts it.
# Provisioning (keygen, transport, host-derive, import-host), two honest
# rounds with sigma_i = sigma_j shown by encrypt on i and decrypt on j, a
# tampered beta refused by query 3 (CKR_SE_PROTOCOL_REJECTED, no sigma), a
# wrong rho rejected by query 4 (CKR_SIGNATURE_INVALID), and the lifecycle
# rules for SK3 keys.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need openssl
need xxd

# flip_hex HEX: the same value with its last bit flipped.
flip_hex() {
    local hex=$1 last
    last=$((16#${hex: -1} ^ 1))
    printf '%s%x' "${hex:0:${#hex}-1}" "$last"
}

step "--help"
for c in keygen transport host-derive import-host q1 server q2 q3 q4; do
    ok "sk3 $c --help" tool sk3 $c --help
    expect_in "$out" "^usage: softse-tool sk3 $c " "sk3 $c --help"
done
ok "sk3 --help" tool sk3 --help
expect_in "$out" "^usage: softse-tool sk3 q1 " "sk3 --help"
for c in encrypt decrypt; do
    ok "$c --help" tool $c --help
done

step "three tokens: the server S and the cards of hosts i and j"
for t in server host-i host-j; do
    new_token $t
done
export SOFTSE_PIN=$PIN # the user PIN of every command below
I=$(printf 'alice-host-00001' | xxd -p) # host names: 16 bytes, in hex
J=$(printf 'bob-host-0000002' | xxd -p)

step "provisioning: the server key on S (sk3 keygen)"
ok "keygen" tool sk3 keygen --token server --label sk3-server
expect_in "$out" "^0x[0-9a-f]+ sk3-server$" "keygen's line"

for h in i j; do
    if [ $h = i ]; then id=$I; else id=$J; fi
    step "provisioning: host $h's key, from S to card $h under a transport key"
    transport=$(openssl rand -hex 32)
    ok "transport on S" tool sk3 transport --token server --label transport-$h --value "$transport"
    ok "transport on $h" tool sk3 transport --token host-$h --label transport --value "$transport"
    ok "host-derive" tool sk3 host-derive --token server --server-key sk3-server --host "$id" \
        --transport-key transport-$h --out host-$h.kwp
    expect_in "$out" "^$id [0-9]+$" "host-derive's line"
    ok "import-host" tool sk3 import-host --token host-$h --host "$id" --transport-key transport \
        --in host-$h.kwp --label sk3-host
    expect_in "$out" "^0x[0-9a-f]+ sk3-host$" "import-host's line"
done

step "every token to OPERATIONAL: no more SK3 key creation (CKR_SE_LIFECYCLE)"
for t in server host-i host-j; do
    ok "$t to operational" tool lifecycle --token $t --to operational --so-pin $SO_PIN
done
fails "import-host in OPERATIONAL" tool sk3 import-host --token host-i --host "$I" \
    --transport-key transport --in host-i.kwp --label sk3-host-2
expect_in "$out" "C_UnwrapKey\(CKM_AES_KEY_WRAP_KWP\) of host $I on token \"host-i\": CKR_SE_LIFECYCLE$" \
    "import-host in OPERATIONAL"
fails "keygen in OPERATIONAL" tool sk3 keygen --token server --label sk3-server-2
expect_in "$out" "C_GenerateKey\(CKM_SE_SK3_KEY_GEN\) on token \"server\": CKR_SE_LIFECYCLE$" \
    "keygen in OPERATIONAL"

for round in 1 2; do
    step "round $round: P_i query 1, S answers, P_j query 2, P_i query 3, P_j query 4"
    ok "q1 on i" tool sk3 q1 --token host-i --key sk3-host
    read -r ri ci <<<"$out"
    expect_in "$out" "^[0-9a-f]{64} [0-9a-f]{64}$" "q1's line"
    ok "server on S" tool sk3 server --token server --key sk3-server --i "$I" --j "$J"
    read -r alpha beta <<<"$out"
    ok "q2 on j" tool sk3 q2 --token host-j --key sk3-host --peer "$I" --ri "$ri" \
        --sigma-label sigma-$round
    read -r rj tau <<<"$out"
    ok "q3 on i" tool sk3 q3 --token host-i --key sk3-host --peer "$J" --ri "$ri" --ci "$ci" \
        --alpha "$alpha" --beta "$beta" --rj "$rj" --tau "$tau" --sigma-label sigma-$round
    rho=$out
    expect_in "$rho" "^[0-9a-f]{64}$" "q3's line"
    ok "q4 on j" tool sk3 q4 --token host-j --key sk3-host --peer "$I" --ri "$ri" --rj "$rj" \
        --rho "$rho"
    [ "$out" = accepted ] || fail "round $round: q4 printed \"$out\""

    step "round $round: sigma_i = sigma_j (encrypt on i, decrypt on j)"
    echo "round $round over SK3: $(openssl rand -hex 8)" >message-$round.txt
    iv=$(openssl rand -hex 12)
    ok "encrypt on i" tool encrypt --token host-i --key sigma-$round --iv "$iv" \
        --in message-$round.txt --out message-$round.enc
    ok "decrypt on j" tool decrypt --token host-j --key sigma-$round --iv "$iv" \
        --in message-$round.enc --out message-$round.out
    cmp -s message-$round.txt message-$round.out || fail "round $round: j read another message"
done
fails "sigma of round 1 is not sigma of round 2" tool decrypt --token host-j --key sigma-1 \
    --iv "$iv" --in message-2.enc --out wrong.out
expect_in "$out" "C_Decrypt\(CKM_AES_GCM\) with \"sigma-1\" on token \"host-j\": CKR_ENCRYPTED_DATA_INVALID$" \
    "another round's sigma"
[ ! -e wrong.out ] || fail "decrypt wrote a plaintext whose tag did not verify"

step "a tampered beta: query 3 refuses, makes no sigma"
ok "q1 on i" tool sk3 q1 --token host-i --key sk3-host
read -r ri ci <<<"$out"
ok "server on S" tool sk3 server --token server --key sk3-server --i "$I" --j "$J"
read -r alpha beta <<<"$out"
ok "q2 on j" tool sk3 q2 --token host-j --key sk3-host --peer "$I" --ri "$ri"
read -r rj tau <<<"$out"
fails "q3 with a tampered beta" tool sk3 q3 --token host-i --key sk3-host --peer "$J" --ri "$ri" \
    --ci "$ci" --alpha "$alpha" --beta "$(flip_hex "$beta")" --rj "$rj" --tau "$tau" \
    --sigma-label sigma-tampered
[ "$status" -eq 1 ] || fail "q3 with a tampered beta: exit status $status, expected 1"
expect_in "$out" "^softse-tool: query 3 \(C_DeriveKey CKM_SE_SK3_Q3\) with \"sk3-host\" on token \"host-i\": CKR_SE_PROTOCOL_REJECTED$" \
    "a tampered beta"
fails "the refused sigma" tool encrypt --token host-i --key sigma-tampered --iv "$iv" \
    --in message-1.txt --out x.enc
expect_in "$out" "token \"host-i\" has no secret key labelled \"sigma-tampered\"" "no sigma"
fails "q3 with a tampered c_i" tool sk3 q3 --token host-i --key sk3-host --peer "$J" --ri "$ri" \
    --ci "$(flip_hex "$ci")" --alpha "$alpha" --beta "$beta" --rj "$rj" --tau "$tau"
expect_in "$out" "CKR_SE_PROTOCOL_REJECTED$" "a tampered c_i"
fails "q3 with a tampered tau" tool sk3 q3 --token host-i --key sk3-host --peer "$J" --ri "$ri" \
    --ci "$ci" --alpha "$alpha" --beta "$beta" --rj "$rj" --tau "$(flip_hex "$tau")"
expect_in "$out" "CKR_SE_PROTOCOL_REJECTED$" "a tampered tau"

step "a wrong rho: query 4 rejects"
ok "q3 on i" tool sk3 q3 --token host-i --key sk3-host --peer "$J" --ri "$ri" --ci "$ci" \
    --alpha "$alpha" --beta "$beta" --rj "$rj" --tau "$tau"
rho=$out
fails "q4 with a wrong rho" tool sk3 q4 --token host-j --key sk3-host --peer "$I" --ri "$ri" \
    --rj "$rj" --rho "$(flip_hex "$rho")"
[ "$status" -eq 1 ] || fail "q4 with a wrong rho: exit status $status, expected 1"
[ "$out" = "rejected: CKR_SIGNATURE_INVALID" ] || fail "q4 with a wrong rho printed \"$out\""
ok "q4 with the right rho" tool sk3 q4 --token host-j --key sk3-host --peer "$I" --ri "$ri" \
    --rj "$rj" --rho "$rho"
[ "$out" = accepted ] || fail "q4 printed \"$out\""

step "usage errors: hex of the wrong size, a host name of the wrong size"
fails "a short r_i" tool sk3 q2 --token host-j --key sk3-host --peer "$I" --ri "${ri:0:62}"
[ "$status" -eq 2 ] || fail "a short r_i: exit status $status, expected 2"
expect_in "$out" "--ri needs 32 bytes \(64 hex digits\), not 31" "a short r_i"
fails "a long host name" tool sk3 server --token server --key sk3-server --i "${I}00" --j "$J"
expect_in "$out" "--i needs 16 bytes \(32 hex digits\), not 17" "a long host name"
fails "no tau" tool sk3 q3 --token host-i --key sk3-host --peer "$J" --ri "$ri" --ci "$ci" \
    --alpha "$alpha" --beta "$beta" --rj "$rj"
[ "$status" -eq 2 ] || fail "no tau: exit status $status, expected 2"
expect_in "$out" "missing --tau HEX" "no tau"
fails "a host key as the server key" tool sk3 server --token host-i --key sk3-host --i "$I" --j "$J"
expect_in "$out" "C_Sign CKM_SE_SK3_SERVER\) with \"sk3-host\" on token \"host-i\": CKR_KEY_TYPE_INCONSISTENT$" \
    "a host key as the server key"
fails "not hex" tool sk3 q4 --token host-j --key sk3-host --peer "$I" --ri "$ri" --rj "$rj" \
    --rho "x${rho:1}"
expect_in "$out" "--rho is not hex" "not hex"

echo "PASS: $steps steps"
