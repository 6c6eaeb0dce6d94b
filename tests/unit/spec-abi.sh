#!/usr/bin/env bash
# spec-abi.sh SPEC_LAYOUT DOC — the vendor ABI of docs/spec.md §1 against
# the public header as the compiler reads it.  SPEC_LAYOUT is the program
# spec_layout_gen.awk made from softse-pkcs11.h; it prints every constant,
# every structure field with its offset and size, and the size and
# alignment of each field type.  From DOC's tables this script computes
# what that output must be: the same constants with the same values, the
# same fields in the same order with the same types, and the offsets and
# sizes of natural packing.  Any difference, a name present on one side
# only included, fails with a diff.
set -euo pipefail
export LC_ALL=C # one sort order on both sides

layout=$1 doc=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
compiled=$work/compiled expected=$work/expected actual=$work/actual

"$layout" >"$compiled"

# The rows of §1: "| `NAME` | `VALUE` | …" in a constants table, and
# "| `field` | `TYPE` | …" under a "#### `STRUCT`" heading.
doc_rows() {
    awk '
        /^## / { in_abi = ($0 ~ /^## 1\./); struct = ""; next }
        !in_abi { next }
        /^### / { struct = ""; next }
        /^#### `[A-Za-z_][A-Za-z0-9_]*`/ { struct = $2; gsub(/`/, "", struct); next }
        /^\| `[A-Za-z_][A-Za-z0-9_]*` \| `[^`]+` \|/ {
            split($0, cell, /[ \t]*\|[ \t]*/)
            name = cell[2]; value = cell[3]
            gsub(/`/, "", name); gsub(/`/, "", value); gsub(/[ \t]+/, "", value)
            if (struct != "")
                print "field", struct, name, value
            else
                print "const", name, value
        }' "$doc"
}

# Constants in lower-case hex, as the program prints them.
doc_constants() {
    doc_rows | while read -r kind name value; do
        [ "$kind" = const ] || continue
        [[ $value =~ ^(0x[0-9A-Fa-f]+|[0-9]+)$ ]] || { echo "const $name not-a-number:$value"; continue; }
        printf 'const %s 0x%x\n' "$name" "$value"
    done
}

# Offsets and sizes of natural packing for the fields of the document,
# with the sizes and alignments the compiler gave each type.
doc_layout() {
    { grep '^type ' "$compiled" || true; doc_rows | grep '^field ' || true; } | awk '
        $1 == "type" { size[$2] = $3; align[$2] = $4; next }
        function close_struct() {
            if (struct != "") {
                if (offset % maxalign) offset += maxalign - offset % maxalign
                sizes[++nsizes] = "size " struct " " offset
            }
        }
        {
            if ($2 != struct) { close_struct(); struct = $2; offset = 0; maxalign = 1 }
            type = $4; count = 1
            if (match(type, /\[[0-9]+\]$/)) {
                count = substr(type, RSTART + 1, RLENGTH - 2) + 0
                type = substr(type, 1, RSTART - 1)
            }
            if (!(type in size)) { print "layout", $2, $3, "unknown-type:" type, "?"; next }
            if (offset % align[type]) offset += align[type] - offset % align[type]
            if (align[type] > maxalign) maxalign = align[type]
            print "layout", $2, $3, offset, size[type] * count
            offset += size[type] * count
        }
        END { close_struct(); for (i = 1; i <= nsizes; i++) print sizes[i] }'
}

# One canonical order for both sides: constants by name, then each
# structure (by name) with its fields in declaration order.
canonical() {
    grep '^const ' "$1" | sort || true
    for kind in field layout size; do
        grep "^$kind " "$1" | sort -s -k2,2 || true
    done
}

{ doc_constants; doc_rows | grep '^field ' || true; doc_layout; } >"$work/document"
canonical "$work/document" >"$expected"
canonical "$compiled" >"$actual"

if ! grep -q '^const ' "$expected" || ! grep -q '^field ' "$expected"; then
    echo "no constants or no structure fields found in §1 of $doc"
    exit 1
fi
if ! diff -u --label "docs/spec.md §1" "$expected" --label "softse-pkcs11.h (compiled)" "$actual"; then
    echo "FAIL: docs/spec.md §1 and the public header disagree (lines above: - the document, + the header)"
    exit 1
fi
echo "docs/spec.md §1 matches softse-pkcs11.h: $(grep -c '^const ' "$actual") constants," \
    "$(grep -c '^size ' "$actual") structures, $(grep -c '^field ' "$actual") fields"
