#!/bin/bash
# OpenSSH (issue 19): `ssh-keygen -D` lists the token's keys in OpenSSH
# format; an ssh-agent whose provider allow-list (-P) names the module
# loads it with `ssh-add -s` (the PIN through SSH_ASKPASS); `ssh-keygen -Y
# sign` signs with a key the agent holds on the token, `-Y verify` checks
# the signature.  An agent without the allow-list refuses the module.
source "$(dirname "$0")/lib.sh"
need_tools ssh-keygen ssh-agent ssh-add pkcs11-tool openssl
cd "$WORK"

TOKEN=openssh
p11u() { p11 --token-label "$TOKEN" --login --pin "$USER_PIN" "$@"; }

say "token with an RSA and an EC key"
init_token "$TOKEN"
must "keypairgen rsa:2048" p11u --keypairgen --key-type rsa:2048 --id 01 --label ssh-rsa-key
must "keypairgen EC:prime256v1" p11u --keypairgen --key-type EC:prime256v1 --id 02 --label ssh-ec-key
for id in 01 02; do
    must "export public key $id" p11 --token-label "$TOKEN" --read-object --type pubkey --id $id -o key$id.der
    openssl pkey -pubin -inform DER -in key$id.der -out key$id.pem
    ssh-keygen -i -m PKCS8 -f key$id.pem >key$id.ssh
done

say "ssh-keygen -D"
check "ssh-keygen -D lists the token's public keys" ssh-keygen -D "$SOFTSE_MODULE"
cp "$WORK/last.out" listed.pub
# The key blobs (second field) must be the token's keys, exported above.
for id in 01 02; do
    blob=$(cut -d' ' -f2 key$id.ssh)
    if grep -qF "$blob" listed.pub; then
        echo "ok: key $id ($(cut -d' ' -f1 key$id.ssh)) is listed with the token's public value"
    else
        fail "ssh-keygen -D does not list key $id" listed.pub
    fi
done

say "ssh-agent with the module allowed (-P), ssh-add -s"
# ssh-add reads the PIN as the provider's passphrase: from SSH_ASKPASS.
printf '#!/bin/sh\necho %s\n' "$USER_PIN" >askpass.sh
chmod 700 askpass.sh
export SSH_ASKPASS="$WORK/askpass.sh" SSH_ASKPASS_REQUIRE=force DISPLAY=none
# The agent resolves the provider's path before matching -P.
ALLOWED="$(dirname "$(realpath "$SOFTSE_MODULE")")/*"
start_agent() {  # start_agent SOCKET [ssh-agent options]: sets AGENT_PID
    local socket=$1
    shift
    ssh-agent -a "$socket" "$@" >agent.env || return 1
    AGENT_PID=$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' agent.env)
    # shellcheck disable=SC2064 # the pid now
    on_exit "kill $AGENT_PID 2>/dev/null"
}
must "start ssh-agent -P '$ALLOWED'" start_agent "$WORK/agent.sock" -P "$ALLOWED"
export SSH_AUTH_SOCK="$WORK/agent.sock"
check "ssh-add -s loads the module into the agent" ssh-add -s "$SOFTSE_MODULE"
check "ssh-add -L lists the token's keys" ssh-add -L
for id in 01 02; do
    blob=$(cut -d' ' -f2 key$id.ssh)
    if grep -qF "$blob" "$WORK/last.out"; then
        echo "ok: the agent holds key $id"
    else
        fail "the agent does not hold key $id" "$WORK/last.out"
    fi
done

say "ssh-keygen -Y sign with the agent's token keys, -Y verify"
printf 'signed by a key on softse %s\n' "$RANDOM" >message.txt
printf 'changed\n' >changed.txt
for id in 01 02; do
    cp key$id.ssh signer$id.pub
    rm -f message.txt.sig
    check "ssh-keygen -Y sign with key $id (agent, token)" \
        ssh-keygen -Y sign -f signer$id.pub -n file message.txt
    passed || continue
    mv message.txt.sig message$id.sig
    echo "tester@softse $(cat key$id.ssh)" >allowed_signers
    check "ssh-keygen -Y verify accepts the signature of key $id" \
        sh -c "ssh-keygen -Y verify -f allowed_signers -I tester@softse -n file -s message$id.sig <message.txt"
    grep_out "verify names the signer" "Good \"file\" signature for tester@softse"
    expect_fail "ssh-keygen -Y verify of other data (key $id)" \
        sh -c "ssh-keygen -Y verify -f allowed_signers -I tester@softse -n file -s message$id.sig <changed.txt"
done
check "ssh-add -e removes the module's keys" ssh-add -e "$SOFTSE_MODULE"

say "an agent without the allow-list refuses the module"
# ssh-agent's default -P is /usr/lib*/*,/usr/local/lib*/*: a module outside
# those directories is refused with only "agent refused operation".
case $(realpath "$SOFTSE_MODULE") in
    /usr/lib*/* | /usr/local/lib*/*) skip_step "the module is installed under an allowed directory" ;;
    *)
        must "start ssh-agent without -P" start_agent "$WORK/agent2.sock"
        expect_fail "ssh-add -s to an agent that does not allow the module" \
            env SSH_AUTH_SOCK="$WORK/agent2.sock" ssh-add -s "$SOFTSE_MODULE"
        grep_out "ssh-add says the agent refused" "agent refused operation"
        ;;
esac

finish
