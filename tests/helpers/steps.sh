# steps.sh — numbered steps and checks for the one-process-per-step shell
# tests (tests/integration/pkcs11-tool.sh, des3-pkcs11-tool.sh,
# rsa-cards.sh, tests/tools/lib.sh): source it, then `step WHAT`,
# `fail WHY`, `expect_in TEXT PATTERN WHAT`, `expect_not_in TEXT PATTERN
# WHAT`.  Patterns are grep's basic ones, extended ones when STEPS_EXTENDED
# is set before sourcing.  $steps counts the steps.
steps=0
step() {
    steps=$((steps + 1))
    echo "== $steps. $*"
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
expect_in() {
    grep -q${STEPS_EXTENDED:+E} -- "$2" <<<"$1" || { echo "$1" >&2; fail "$3: no \"$2\" in the output above"; }
}
expect_not_in() {
    ! grep -q${STEPS_EXTENDED:+E} -- "$2" <<<"$1" || { echo "$1" >&2; fail "$3: unexpected \"$2\" in the output above"; }
}
