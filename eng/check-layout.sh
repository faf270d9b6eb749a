#!/usr/bin/env bash
# Fails when a C# file in src/ grows past 250 lines: a type that big does more than one job.
# Exit code: 0, or 1 when a file is too long (each one is named on stderr).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly MAX_LINES=250
status=0
while IFS= read -r -d '' file; do
  lines=$(wc -l < "$file")
  if (( lines > MAX_LINES )); then
    echo "layout: $file has $lines lines (at most $MAX_LINES): split it by job" >&2
    status=1
  fi
done < <(find src -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*' -print0)
exit "$status"
