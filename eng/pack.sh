#!/usr/bin/env bash
# Packs the two libraries and checks what a user gets: the assembly, its XML docs, the README,
# a symbols package, and dependency ranges with the floors we build against.
#
#   eng/pack.sh [output dir]      (default: artifacts/packages)
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly OUT="${1:-$REPO_ROOT/artifacts/packages}"

rm -rf "$OUT"
for project in RateLimiting RateLimiting.Redis; do
  dotnet pack "$REPO_ROOT/src/$project/$project.csproj" -c Release -o "$OUT" >&2
done

fail() { echo "pack: $*" >&2; exit 1; }

for id in RateLimiting RateLimiting.Redis; do
  nupkg="$(find "$OUT" -name "$id.[0-9]*.nupkg" | head -n 1)"
  [[ -n "$nupkg" ]] || fail "no package $id"
  [[ -f "${nupkg%.nupkg}.snupkg" ]] || fail "no symbols package for $id"
  files="$(unzip -Z1 "$nupkg")"
  for expected in README.md "lib/net10.0/$id.dll" "lib/net10.0/$id.xml"; do
    grep -qx "$expected" <<<"$files" || fail "$id lacks $expected"
  done
  nuspec="$(unzip -p "$nupkg" "$id.nuspec")"
  grep -q '<readme>README.md</readme>' <<<"$nuspec" || fail "$id does not declare its README"
  grep -q '<frameworkReference name="Microsoft.AspNetCore.App"' <<<"$nuspec" || fail "$id lacks the ASP.NET Core framework reference"
  echo "pack: $(basename "$nupkg"): $(grep -o '<dependency id="[^"]*" version="[^"]*"' <<<"$nuspec" | sed 's/<dependency id="\([^"]*\)" version="\([^"]*\)"/\1 \2/' | paste -sd ';' -)"
done

grep -q 'id="StackExchange.Redis" version="\[2.7.27, 4.0.0)"' <<<"$(unzip -p "$(find "$OUT" -name 'RateLimiting.Redis.[0-9]*.nupkg')" RateLimiting.Redis.nuspec)" \
  || fail "RateLimiting.Redis must depend on StackExchange.Redis [2.7.27, 4.0.0)"
