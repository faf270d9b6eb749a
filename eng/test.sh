#!/usr/bin/env bash
# The test command: the core tests once, then the Redis tests once per StackExchange.Redis version of
# the client matrix, each leg with its own summary, and one closing line over all of them.
#
#   eng/test.sh [dotnet test options...]     e.g. eng/test.sh --filter FullyQualifiedName~Cluster
#   RL_CLIENTS="2.13.23" eng/test.sh          one leg only (default: 2.7.27 2.13.23 3.4.35)
#
# The matrix: the floor of the range we ship (2.7.27, what Microsoft.Extensions.Caching.StackExchangeRedis
# brings), the newest 2.x and the newest 3.x that our package source serves. The client is chosen with
# the MSBuild property StackExchangeRedisVersion (Directory.Packages.props).
# The Redis integration tests start their own clusters (eng/redis-cluster.sh) on free ports, so all
# this script needs is redis-server/redis-cli on PATH, which it installs when missing. The last line
# is always "N passed, N failed" (plus ", N skipped" when tests were skipped, and ", run aborted" when
# a dotnet test failed with no failed test: a build error, a hung or crashed test host); the exit code
# is non-zero when a dotnet test fails, a test fails, or no test ran at all.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly RESULTS_DIR="$REPO_ROOT/artifacts/test-results"
read -r -a CLIENTS <<<"${RL_CLIENTS:-2.7.27 2.13.23 3.4.35}"
readonly CLIENTS

bash "$REPO_ROOT/eng/redis-cluster.sh" install

# Old TRX files would be counted again.
rm -rf "$RESULTS_DIR"
mkdir -p "$RESULTS_DIR"

# Counts the test results (one <UnitTestResult .../> per test case) under directory $1 whose outcome
# starts with $2. Per-test results rather than the <Counters/> summary: VSTest leaves skipped tests
# out of Counters' notExecuted.
results() {
  find "$1" -name '*.trx' -print0 \
    | xargs -0 -r grep -ho '<UnitTestResult [^>]*>' \
    | grep -c " outcome=\"$2" || true
}

# "N passed, N failed[, N skipped]" for the results under $1.
summary_of() {
  local total passed skipped
  total="$(results "$1" '')"
  passed="$(results "$1" 'Passed"')"
  skipped="$(results "$1" 'NotExecuted"')"
  # Everything else (Failed, Error, Timeout, Aborted, Inconclusive, ...) is a failure.
  local text="$passed passed, $((total - passed - skipped)) failed"
  if ((skipped > 0)); then
    text+=", $skipped skipped"
  fi
  echo "$text"
}

# Prints what each failed test under directory $1 wrote to its output (a scenario's figures and the
# store's log), up to 400 lines per test: the console shows only the assertion and the stack.
failed_output() {
  find "$1" -name '*.trx' -print0 | xargs -0 -r awk '
    function unescaped(text) {
      gsub(/&lt;/, "<", text); gsub(/&gt;/, ">", text); gsub(/&quot;/, "\"", text); gsub(/&apos;/, "\047", text)
      gsub(/&#xD;/, "", text); gsub(/&amp;/, "\\&", text)
      return text
    }
    /<UnitTestResult / {
      failed = ($0 ~ / outcome="Failed"/)
      if (failed && match($0, /testName="[^"]*"/)) {
        print "--- output of " unescaped(substr($0, RSTART + 10, RLENGTH - 11))
        lines = 0
      }
    }
    failed && /<StdOut>/ { inside = 1; sub(/.*<StdOut>/, "") }
    failed && inside {
      ended = sub(/<\/StdOut>.*/, "")
      if (lines++ < 400) print unescaped($0)
      if (ended) inside = 0
    }
    /<\/UnitTestResult>/ { failed = 0; inside = 0 }
  '
}

# Runs one dotnet test into $RESULTS_DIR/$1; $2 is the project, the rest its options. Prints the
# leg's summary; remembers a dotnet test that failed.
aborted=0
dotnet_failed=0
run_leg() {
  local name="$1" project="$2"
  shift 2
  local status=0
  # A test host that shows no progress for five minutes (far longer than any test takes) is
  # stopped, naming the test that hung, so that a hang fails the run with its cause instead of
  # using up the CI's time.
  dotnet test "$REPO_ROOT/$project" -c Release --logger trx --results-directory "$RESULTS_DIR/$name" \
    --blame-hang --blame-hang-timeout 5m --blame-hang-dump-type none "$@" \
    || status=$?
  local leg
  leg="$(summary_of "$RESULTS_DIR/$name")"
  if ((status != 0)); then
    failed_output "$RESULTS_DIR/$name"
    echo "dotnet test ($name) exited with $status" >&2
    dotnet_failed=1
    if [[ "$leg" == *", 0 failed"* ]]; then
      aborted=1
    fi
  fi
  echo "leg $name: $leg"
  legs+=("leg $name: $leg")
}

legs=()
run_leg core tests/RateLimiting.Tests/RateLimiting.Tests.csproj "$@"
for client in "${CLIENTS[@]}"; do
  run_leg "StackExchange.Redis-$client" tests/RateLimiting.Redis.Tests/RateLimiting.Redis.Tests.csproj \
    "-p:StackExchangeRedisVersion=$client" "$@"
done

total="$(results "$RESULTS_DIR" '')"
passed="$(results "$RESULTS_DIR" 'Passed"')"
skipped="$(results "$RESULTS_DIR" 'NotExecuted"')"
failed=$((total - passed - skipped))

status=0
if ((failed > 0 || aborted || dotnet_failed)); then
  status=1
elif ((total == 0)); then
  echo "no test ran (check the filter, and that the test projects build)" >&2
  status=1
fi

printf '%s\n' "${legs[@]}"
summary="$passed passed, $failed failed"
if ((skipped > 0)); then
  summary+=", $skipped skipped"
fi
if ((aborted)); then
  summary+=", run aborted (see above)"
fi
echo "$summary"
exit "$status"
