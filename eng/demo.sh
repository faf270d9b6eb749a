#!/usr/bin/env bash
# The run command: a local Redis Cluster (started once, reused afterwards) and the sample API.
#
#   eng/demo.sh            DEMO_PORT=5090 eng/demo.sh
#
# The cluster keeps running when the API stops (Ctrl-C), so the next run starts in seconds;
# stop it with eng/redis-cluster.sh stop.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly PORT="${DEMO_PORT:-5080}"
readonly URL="http://127.0.0.1:$PORT"

# Idempotent: reports "already running" and prints the same configuration the second time.
config="$(bash "$REPO_ROOT/eng/redis-cluster.sh" start)"

cat <<INFO
Redis Cluster: $config
The cluster keeps running after the API exits; stop it with: bash eng/redis-cluster.sh stop
Sample API:    $URL  (Ctrl-C to stop)
Try:           curl -i -H 'X-Api-Key: demo' $URL/api/hello
INFO

export RateLimiting__Redis__Configuration="$config"
exec dotnet run --project "$REPO_ROOT/samples/WebApi" -c Release --urls "$URL"
