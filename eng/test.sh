#!/usr/bin/env bash
# The test command: `dotnet test` over the solution, then one summary line from the TRX files.
#
#   eng/test.sh [dotnet test options...]     e.g. eng/test.sh --filter FullyQualifiedName~Cluster
#
# The Redis integration tests start their own cluster (eng/redis-cluster.sh) on free ports, so
# all this script needs is redis-server/redis-cli on PATH. The last line is always
# "N passed, N failed" (plus ", N skipped" when tests were skipped, and ", run aborted" when
# dotnet test failed with no failed test: a build error, a hung or crashed test host); the exit
# code is non-zero when dotnet test fails, a test fails, or no test ran at all.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly RESULTS_DIR="$REPO_ROOT/artifacts/test-results"

bash "$REPO_ROOT/eng/redis-cluster.sh" install

# Old TRX files would be counted again.
rm -rf "$RESULTS_DIR"
mkdir -p "$RESULTS_DIR"

# A test host that shows no progress for five minutes (far longer than any test takes) is stopped,
# naming the test that hung, so that a hang fails the run with its cause instead of using up the
# CI's time.
dotnet_status=0
dotnet test "$REPO_ROOT/RateLimiting.sln" -c Release --logger trx --results-directory "$RESULTS_DIR" \
  --blame-hang --blame-hang-timeout 5m --blame-hang-dump-type none "$@" \
  || dotnet_status=$?

# Counts the test results (one <UnitTestResult .../> per test case) whose outcome starts with $1,
# over all TRX files. Per-test results rather than the <Counters/> summary: VSTest leaves
# skipped tests out of Counters' notExecuted.
results() {
  find "$RESULTS_DIR" -name '*.trx' -print0 \
    | xargs -0 -r grep -ho '<UnitTestResult [^>]*>' \
    | grep -c " outcome=\"$1" || true
}

total="$(results '')"
passed="$(results 'Passed"')"
skipped="$(results 'NotExecuted"')"
# Everything else (Failed, Error, Timeout, Aborted, Inconclusive, ...) is a failure.
failed=$((total - passed - skipped))

status=0
if ((dotnet_status != 0)); then
  echo "dotnet test exited with $dotnet_status" >&2
  status=1
elif ((failed > 0)); then
  status=1
elif ((total == 0)); then
  echo "no test ran (check the filter, and that the test projects build)" >&2
  status=1
fi

summary="$passed passed, $failed failed"
if ((skipped > 0)); then
  summary+=", $skipped skipped"
fi
if ((dotnet_status != 0 && failed == 0)); then
  summary+=", run aborted (see above)"
fi
echo "$summary"
exit "$status"
