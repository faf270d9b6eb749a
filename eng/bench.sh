#!/usr/bin/env bash
# The benchmark command: a Redis Cluster of its own on free ports, the suite, one table.
#
#   eng/bench.sh                   measurements (a) to (f), about 7 minutes (see benchmarks/README.md)
#   eng/bench.sh --quick           short runs: checks the harness; the figures are indicative only
#   eng/bench.sh --only ae         some measurements only (letters a to f)
#   eng/bench.sh --pin             Redis on CPU 0, the harness and its tools on the other CPUs, so that
#                                  client CPU cannot slow Redis down (see benchmarks/README.md)
#   eng/bench.sh micro [options]   the BenchmarkDotNet micro-benchmarks (no Redis), e.g. micro --filter '*KeyLayout*'
#   STACKEXCHANGE_REDIS_VERSION=3.4.35 eng/bench.sh   against another client of the test matrix
#                                  (default: the build's, Directory.Packages.props)
#
# Needs the .NET SDK; installs redis-server/redis-tools (eng/redis-cluster.sh install) and wrk with
# apt-get when missing. Progress goes to stderr, the environment and the table to stdout. The
# cluster's files live in a temporary directory; the cluster is stopped and the directory deleted
# on exit, failure and Ctrl-C included (and by eng/redis-cluster.sh's owner watch if this script is
# killed outright). Exit code: 0, or non-zero when a tool or a measurement's check failed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly PROJECT="$REPO_ROOT/benchmarks/RateLimiting.Benchmarks"
readonly ASSEMBLY="$PROJECT/bin/Release/net10.0/RateLimiting.Benchmarks.dll"
readonly CLUSTER_SCRIPT="$REPO_ROOT/eng/redis-cluster.sh"
# Far beyond the suite's own bounds (every load loop has a count and a deadline): a safety net.
readonly RUN_TIMEOUT_SECONDS=1200
readonly NODE_COUNT=6
readonly BUS_PORT_OFFSET=10000
readonly START_ATTEMPTS=3
readonly EXIT_PORT_IN_USE=3 # eng/redis-cluster.sh: a port was taken between our check and the bind

base_port=""
cluster_dir=""
config=""
redis_cpus=()  # e.g. (taskset -c 0) with --pin
client_cpus=()

log() { echo "bench: $*" >&2; }
die() { log "error: $1"; exit "${2:-1}"; }

install_wrk() {
  command -v wrk >/dev/null && return 0
  log "wrk not found; installing it with apt-get"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "not root and no sudo: install wrk (apt-get install wrk) first"
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null || die "apt-get not found: install wrk yourself"
  "${sudo[@]}" apt-get update -qq >&2 || log "warning: apt-get update failed; trying the install anyway"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2 || die "apt-get could not install wrk"
}

build() {
  log "building the benchmarks (Release)"
  local client=()
  [[ -z "${STACKEXCHANGE_REDIS_VERSION:-}" ]] || client=("-p:StackExchangeRedisVersion=$STACKEXCHANGE_REDIS_VERSION")
  dotnet build "$PROJECT" -c Release --nologo -v q "${client[@]}" >&2 || die "the build failed"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A base port whose node ports and bus ports are all free right now (30000-39999, bus +10000).
pick_base_port() {
  local try base port ok
  for try in $(seq 100); do
    base=$((30000 + RANDOM % (10000 - NODE_COUNT)))
    ok=1
    for port in $(seq "$base" $((base + NODE_COUNT - 1))); do
      port_free "$port" && port_free $((port + BUS_PORT_OFFSET)) || { ok=0; break; }
    done
    ((ok)) && { echo "$base"; return 0; }
  done
  die "no free base port after 100 tries"
}

# (f) freezes every node with SIGSTOP and continues it itself, failures included; a harness killed
# in between (Ctrl-C, the run timeout) leaves them frozen, and a frozen node answers no SHUTDOWN and
# handles no SIGTERM, so the stop would wait out every deadline before its SIGKILL. Only the
# processes named in this cluster's pid files, and only while they are still its redis-servers.
continue_nodes() {
  local port pid title
  for port in $(seq "$base_port" $((base_port + NODE_COUNT - 1))); do
    pid="$(cat "$cluster_dir/node-$port.pid" 2>/dev/null)" || continue
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    title="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || continue
    if [[ "$title" == *redis-server*"/node-$port.conf"* ]]; then
      kill -CONT "$pid" 2>/dev/null || true
    fi
  done
}

stop_cluster() {
  [[ -n "$base_port" ]] || return 0
  continue_nodes
  bash "$CLUSTER_SCRIPT" stop --base-port "$base_port" --dir "$cluster_dir" >/dev/null 2>&1 \
    || log "warning: could not stop the cluster on port $base_port (data: $cluster_dir)"
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_cluster
  [[ -n "$cluster_dir" ]] && rm -rf "$cluster_dir"
  exit "$status"
}

start_cluster() {
  local attempt status
  cluster_dir="$(mktemp -d "${TMPDIR:-/tmp}/rl-bench.XXXXXX")"
  for attempt in $(seq "$START_ATTEMPTS"); do
    base_port="$(pick_base_port)"
    log "starting a Redis Cluster on 127.0.0.1:$base_port-$((base_port + NODE_COUNT - 1)) (attempt $attempt)"
    status=0
    # --owner-pid: the nodes go with this script even if it is killed without running its trap.
    config="$("${redis_cpus[@]}" bash "$CLUSTER_SCRIPT" start --base-port "$base_port" --dir "$cluster_dir" --owner-pid $$)" || status=$?
    ((status == 0)) && return 0
    stop_cluster
    ((status == EXIT_PORT_IN_USE)) || die "eng/redis-cluster.sh start failed (exit $status)"
  done
  die "no free ports for the cluster after $START_ATTEMPTS attempts"
}

main() {
  if [[ "${1:-}" == micro ]]; then
    shift
    build
    cd "$REPO_ROOT"
    exec dotnet "$ASSEMBLY" --micro --artifacts "$REPO_ROOT/artifacts/benchmarks" "$@"
  fi

  local args=() arg
  for arg; do
    if [[ "$arg" == --pin ]]; then
      local cpus
      cpus="$(nproc)"
      ((cpus >= 2)) || die "--pin needs at least 2 CPUs"
      command -v taskset >/dev/null || die "--pin needs taskset (util-linux)"
      # Children inherit the affinity: the nodes from the start script, the tools from the harness.
      redis_cpus=(taskset -c 0)
      client_cpus=(taskset -c "1-$((cpus - 1))")
      args+=(--pinned "Redis on CPU 0; the harness, redis-benchmark and wrk on CPU 1-$((cpus - 1))")
    else
      args+=("$arg")
    fi
  done

  bash "$CLUSTER_SCRIPT" install
  install_wrk
  command -v redis-benchmark >/dev/null || die "redis-benchmark not found (it comes with redis-tools)"
  build

  trap cleanup EXIT
  trap 'exit 130' INT TERM
  start_cluster
  log "cluster ready: $config"
  "${client_cpus[@]}" timeout --kill-after=30 "$RUN_TIMEOUT_SECONDS" dotnet "$ASSEMBLY" --redis "$config" "${args[@]}"
}

main "$@"
