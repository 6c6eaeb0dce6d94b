#!/bin/sh
# list_ckrs.sh OUT SOURCE...: every CKR_ name the given sources mention,
# as RETURNED(CKR_...) lines for tests/unit/test_common.c (names ending in
# "_" are token-pasting prefixes, not values).
out=$1
shift
grep -ohE '\bCKR_[A-Z0-9_]*[A-Z0-9]\b' "$@" | sort -u | sed 's/.*/RETURNED(&)/' > "$out.tmp" &&
    mv "$out.tmp" "$out"
