#!/usr/bin/env bash
# spec-citations.sh SOURCE_ROOT — code, scripts, build files and docs cite
# the project's own specification, docs/spec.md, never the team's shared
# spec file, which is not in the repository.  docs/spec.md names that file
# only in its section "Reading the shared specification" (the map between
# the two).  Build directories (those holding meson-private) are not
# searched.
set -euo pipefail

root=$1
cd "$root"

hits=$(find . \( -name .git -o -type d -exec test -d '{}/meson-private' \; \) -prune -o \
    -type f \( -name '*.c' -o -name '*.h' -o -name '*.sh' -o -name '*.py' \
    -o -name meson.build -o -name meson_options.txt -o -path './docs/*.md' \
    -o -path ./README.md \) ! -path ./docs/spec.md -print0 |
    xargs -0 grep -n 'SPEC\.md' /dev/null || true)

# docs/spec.md: only inside its map section.
spec_hits=$(awk '
    /^## / { in_map = ($0 == "## Reading the shared specification") }
    /SPEC\.md/ && !in_map { printf "./docs/spec.md:%d:%s\n", FNR, $0 }' docs/spec.md)

all=$(printf '%s\n%s\n' "$hits" "$spec_hits" | sed '/^$/d')
if [ -n "$all" ]; then
    printf '%s\n' "$all"
    echo "FAIL: $(printf '%s\n' "$all" | wc -l) line(s) above cite the shared spec;" \
        "cite docs/spec.md §N (its map: \"Reading the shared specification\")"
    exit 1
fi
echo "every citation names docs/spec.md"
