#!/usr/bin/env bash
# softse-tool's command line: every subcommand's --help exits 0; unknown
# commands and options, missing options and PINs, bad values exit non-zero
# with a message and a usage line; the module is found without --module.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

commands=(init "ca create" manufacture show lifecycle audit delete)

step "--help"
ok "softse-tool --help" tool --help
for c in "${commands[@]}"; do
    expect_in "$out" "^  $c " "the command list"
done
for c in "${commands[@]}"; do
    # shellcheck disable=SC2086 # "ca create" is two words
    ok "$c --help" tool $c --help
    expect_in "$out" "^usage: softse-tool $c " "$c --help: the usage line"
    expect_in "$out" "^options:" "$c --help: the options"
    # shellcheck disable=SC2086
    ok "$c -h" tool $c -h
done
ok "ca --help" tool ca --help
expect_in "$out" "^usage: softse-tool ca create" "ca --help"
ok "--version" tool --version
expect_in "$out" "^softse-tool [0-9]" "--version"

step "no command, unknown command"
fails "no command" tool
[ "$status" -eq 2 ] || fail "no command: exit status $status, expected 2"
expect_in "$out" "^usage: softse-tool <command>" "no command"
fails "unknown command" tool frobnicate
[ "$status" -eq 2 ] || fail "unknown command: exit status $status, expected 2"
expect_in "$out" "unknown command \"frobnicate\"" "unknown command"
expect_in "$out" "^usage: softse-tool" "unknown command: usage"
fails "ca without create" tool ca
expect_in "$out" "usage: softse-tool ca create" "ca alone"
fails "ca unknown" tool ca destroy
expect_in "$out" "unknown command \"ca destroy\"" "ca destroy"

step "unknown options"
for c in "${commands[@]}"; do
    # shellcheck disable=SC2086
    fails "$c --bogus" tool $c --bogus
    [ "$status" -eq 2 ] || fail "$c --bogus: exit status $status, expected 2"
    expect_in "$out" "^softse-tool $c: unknown option \"--bogus\"" "$c --bogus"
    expect_in "$out" "^usage: softse-tool $c" "$c --bogus: usage"
done
fails "an option of another command" tool show --to operational
expect_in "$out" "unknown option \"--to\"" "show --to"
fails "a stray argument" tool show extra
expect_in "$out" "unexpected argument \"extra\"" "show extra"
fails "an option without its value" tool audit --token
expect_in "$out" "option --token needs a value" "--token without value"

step "missing required options"
# command and arguments | expected message
while IFS='|' read -r args message; do
    # shellcheck disable=SC2086
    fails "$args" tool $args
    [ "$status" -eq 2 ] || fail "$args: exit status $status, expected 2"
    expect_in "$out" "$message" "$args"
    expect_in "$out" "^usage: " "$args: usage"
done <<'EOF'
init --so-pin 12345678 --pin 123456|missing --token LABEL
init --token t --pin 123456|missing --so-pin PIN \(or SOFTSE_SO_PIN\)
init --token t --so-pin 12345678|missing --pin PIN \(or SOFTSE_PIN\)
ca create --out-cert ca.pem|missing --out-key FILE
ca create --out-key ca-key.pem|missing --out-cert FILE
manufacture --ca ca.pem --ca-key k.pem|missing --token LABEL \(or --serial, --slot\)
manufacture --token t --ca-key k.pem|missing --ca FILE
manufacture --token t --ca ca.pem|missing --ca-key FILE
lifecycle --token t|missing --to STATE
lifecycle --to operational|missing --token LABEL
audit|missing --token LABEL
audit --verify|missing --token LABEL
delete --force|missing --token LABEL
EOF

step "bad values"
fails "--slot abc" tool show --slot abc
expect_in "$out" "bad value \"abc\" for --slot" "--slot abc"
fails "two selectors" tool show --token a --serial 0011223344556677
expect_in "$out" "give only one of --token, --serial and --slot" "two selectors"
fails "unknown key type" tool ca create --out-key k.pem --out-cert c.pem --key-type dsa
expect_in "$out" "unknown key type \"dsa\"" "--key-type dsa"
[ ! -e k.pem ] || fail "a failed ca create wrote a file"
fails "bad subject" tool ca create --out-key k.pem --out-cert c.pem --subject "CN=no slash"
expect_in "$out" "bad subject" "--subject without slash"
fails "long label" tool init --token 0123456789abcdef0123456789abcdefX --so-pin $SO_PIN --pin $PIN
expect_in "$out" "1 to 32 bytes" "a 33-byte label"

step "the module: found without --module, --module wins, a bad one is named"
ok "show (SOFTSE_MODULE)" tool show
expect_in "$out" "^Slot 0: blank token" "show on an empty store"
expect_in "$out" "^Store $SOFTSE_STORE \\(from SOFTSE_STORE\\): 0 token\\(s\\)$" "show: the store line"
ok "show --module" env -u SOFTSE_MODULE "$SOFTSE_TOOL" show --module "$SOFTSE_MODULE"
expect_in "$out" "^Slot 0: blank token" "show --module"
# The built tool finds the module built next to it (<builddir>/module/).
if [ -f "$(dirname "$SOFTSE_TOOL")/../module/softse-pkcs11.so" ]; then
    ok "show without SOFTSE_MODULE" env -u SOFTSE_MODULE "$SOFTSE_TOOL" show
    expect_in "$out" "^Slot 0: blank token" "the built module"
fi
fails "a missing module" tool show --module "$work/nothing.so"
[ "$status" -eq 1 ] || fail "a missing module: exit status $status, expected 1"
expect_in "$out" "^softse-tool: cannot load the module: .*nothing.so" "a missing module"
fails "SOFTSE_MODULE elsewhere" env SOFTSE_MODULE="$work/nothing.so" "$SOFTSE_TOOL" show
expect_in "$out" "cannot load the module" "SOFTSE_MODULE elsewhere"

step "init: PINs from the environment, one label one token"
ok "init from the environment" env SOFTSE_SO_PIN=$SO_PIN SOFTSE_PIN=$PIN "$SOFTSE_TOOL" init --token t
expect_in "$out" "token \"t\" initialized in slot 0, serial [0-9A-F]{16}" "init"
ok "pkcs11-tool-free login check" tool show --token t
expect_in "$out" "USER_PIN_INITIALIZED" "the user PIN is set"
expect_in "$out" "^Store $SOFTSE_STORE \\(from SOFTSE_STORE\\): 1 token\\(s\\)$" "show --token: the store line"
printf '# the store\nstore_dir = %s\n' "$SOFTSE_STORE" >"$work/tool.conf"
ok "show with the store in a configuration file" env -u SOFTSE_STORE SOFTSE_CONF="$work/tool.conf" \
    "$SOFTSE_TOOL" show
expect_in "$out" "^Store $SOFTSE_STORE \\(from $work/tool.conf:2\\): 1 token\\(s\\)$" "show: a store from a file"
fails "the same label again" tool init --token t --so-pin $SO_PIN --pin $PIN
expect_in "$out" "a token labelled \"t\" exists already" "a second token t"
fails "a short PIN" tool init --token u --so-pin 12 --pin $PIN
expect_in "$out" "C_InitToken of \"u\" in slot 1: CKR_PIN_LEN_RANGE" "a short SO PIN"

echo "PASS: $steps steps"
