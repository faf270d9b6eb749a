#!/usr/bin/env bash
# The run command: a local Redis Cluster (started once, reused afterwards) and the sample API.
#
#   eng/demo.sh            DEMO_PORT=5090 eng/demo.sh
#   DEMO_TLS=1 eng/demo.sh [DEMO_REDIS_PASSWORD=...]
#
# The cluster keeps running when the API stops (Ctrl-C), so the next run starts in seconds;
# stop it with eng/redis-cluster.sh stop.
#
# DEMO_TLS=1: the production set-up instead, a TLS-only, password-protected cluster on
# 127.0.0.1:7100-7105 (files in .redis/cluster-7100, its private CA in .redis/cluster-7100/tls):
# the sample connects to the IPs with ssl=true,sslHost=redis.test,password=... and trusts the CA
# through RateLimiting__Redis__TrustedCaCertificatePath. The password defaults to a fixed demo
# one (the nodes only listen on 127.0.0.1); set DEMO_REDIS_PASSWORD to choose another. Stop that
# cluster with eng/redis-cluster.sh stop --base-port 7100.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly PORT="${DEMO_PORT:-5080}"
readonly URL="http://127.0.0.1:$PORT"
readonly TLS_BASE_PORT=7100
readonly TLS_DIR="$REPO_ROOT/.redis/cluster-$TLS_BASE_PORT"

if [[ "${DEMO_TLS:-0}" == 1 ]]; then
  # Idempotent too; a plaintext cluster on 7000 is left alone.
  config="$(bash "$REPO_ROOT/eng/redis-cluster.sh" start --base-port "$TLS_BASE_PORT" --dir "$TLS_DIR" \
    --tls --password "${DEMO_REDIS_PASSWORD:-rate-limiting-demo}")"
  export RateLimiting__Redis__TrustedCaCertificatePath="$TLS_DIR/tls/ca.crt"
  stop_command="bash eng/redis-cluster.sh stop --base-port $TLS_BASE_PORT"
else
  # Idempotent: reports "already running" and prints the same configuration the second time.
  config="$(bash "$REPO_ROOT/eng/redis-cluster.sh" start)"
  stop_command="bash eng/redis-cluster.sh stop"
fi

# Shown without the password.
shopt -s extglob
cat <<INFO
Redis Cluster: ${config//password=+([^,])/password=***}${RateLimiting__Redis__TrustedCaCertificatePath:+
Trusted CA:    $RateLimiting__Redis__TrustedCaCertificatePath}
The cluster keeps running after the API exits; stop it with: $stop_command
Sample API:    $URL  (Ctrl-C to stop)
Try:           curl -i -H 'X-Api-Key: demo' $URL/api/hello
INFO

export RateLimiting__Redis__Configuration="$config"
exec dotnet run --project "$REPO_ROOT/samples/WebApi" -c Release --urls "$URL"
