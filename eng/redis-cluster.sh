#!/usr/bin/env bash
# A local Redis Cluster (3 masters + 3 replicas) on 127.0.0.1, for the tests and the demo.
#
#   eng/redis-cluster.sh start   [--base-port N] [--dir DIR] [--owner-pid PID]
#   eng/redis-cluster.sh stop    [--base-port N] [--dir DIR]
#   eng/redis-cluster.sh status  [--base-port N] [--dir DIR]
#   eng/redis-cluster.sh install
#
# Nodes listen on N..N+5 (cluster bus N+10000..N+10005); files live in DIR (default
# <repo>/.redis/cluster-N). `start` prints the client configuration string as its only line
# on stdout, so callers can write `config=$(eng/redis-cluster.sh start)`; progress goes to stderr.
# Exit codes: 0 ok, 1 failure, 2 usage, 3 a port is in use (callers may retry on other ports).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly NODE_COUNT=6
readonly BUS_PORT_OFFSET=10000
readonly HOST=127.0.0.1
readonly READY_TIMEOUT_SECONDS=30
readonly EXIT_PORT_IN_USE=3

base_port=7000
data_dir=""
owner_pid=""

log() { echo "redis-cluster: $*" >&2; }
die() { log "error: $1"; exit "${2:-1}"; }

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

parse_args() {
  while (($#)); do
    case "$1" in
      --base-port) base_port="${2:?--base-port needs a value}"; shift 2 ;;
      --dir) data_dir="${2:?--dir needs a value}"; shift 2 ;;
      --owner-pid) owner_pid="${2:?--owner-pid needs a value}"; shift 2 ;;
      *) log "unknown option: $1"; usage ;;
    esac
  done
  if ! [[ "$base_port" =~ ^[0-9]+$ ]] || ((base_port < 1 || base_port + NODE_COUNT - 1 + BUS_PORT_OFFSET > 65535)); then
    die "--base-port must leave room for $NODE_COUNT ports and their bus ports (+$BUS_PORT_OFFSET): $base_port" 2
  fi
  # Absolute, because redis-server resolves its file paths against its own working directory,
  # and the process titles (see node_pids) carry this exact path.
  data_dir="$(realpath -m "${data_dir:-$REPO_ROOT/.redis/cluster-$base_port}")"
}

install_redis() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    return 0
  fi
  log "redis-server/redis-cli not found; installing redis-server and redis-tools with apt-get"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "not root and no sudo: install redis-server and redis-tools (apt-get) first"
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null || die "apt-get not found: install redis-server and redis-tools (Redis >= 7) yourself"
  # A failed update is not fatal by itself: the package lists already on the machine may do.
  "${sudo[@]}" apt-get update -qq >&2 || log "warning: apt-get update failed; trying the install anyway"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >&2 \
    || die "apt-get could not install redis-server and redis-tools"
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    die "redis-server/redis-cli still not on PATH after apt-get install"
  fi
}

ports() { seq "$base_port" $((base_port + NODE_COUNT - 1)); }
node_file() { echo "$data_dir/node-$1.$2"; } # node_file PORT conf|pid|log

# Every node setting lives here, so TLS and passwords are one change (see also redis_cli).
write_node_config() {
  local port="$1"
  cat >"$(node_file "$port" conf)" <<EOF
port $port
bind $HOST
protected-mode no
daemonize yes
dir $data_dir
pidfile $(node_file "$port" pid)
logfile $(node_file "$port" log)
cluster-enabled yes
cluster-config-file nodes-$port.conf
# Short, so failover tests fail over in seconds instead of the default 15 s.
cluster-node-timeout 2000
appendonly no
save ""
# Per node: replicas write the full-sync RDB here, and the nodes share one directory.
dbfilename dump-$port.rdb
# The config path in the process title lets anyone find a cluster's nodes by its directory.
proc-title-template "{title} {listen-addr} {server-mode} {config-file}"
EOF
}

# Every redis-cli connection option lives here (TLS, password later). The timeout keeps a
# stopped or frozen node from hanging the script.
redis_cli() { timeout "${CLI_TIMEOUT:-10}" redis-cli "$@"; }
cli() { local port="$1"; shift; redis_cli -h "$HOST" -p "$port" "$@"; }

config_string() {
  local port endpoints=()
  for port in $(ports); do endpoints+=("$HOST:$port"); done
  (IFS=,; echo "${endpoints[*]}")
}

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# PIDs of this cluster's node on PORT: from its pidfile, and from the process title as a
# fallback (pidfile missing, or a node restarted by hand). Pure bash: it runs in poll loops.
node_pids() {
  local port="$1" pidfile conf pid title file
  pidfile="$(node_file "$port" pid)"
  conf="$(node_file "$port" conf)"
  {
    if [[ -s "$pidfile" ]]; then
      pid="$(<"$pidfile")"
      title=""
      if [[ "$pid" =~ ^[0-9]+$ ]]; then
        IFS= read -r -d '' title 2>/dev/null <"/proc/$pid/cmdline" || true
        [[ "$title" == *redis-server* ]] && echo "$pid"
      fi
    fi
    for file in /proc/[0-9]*/cmdline; do
      title=""
      IFS= read -r -d '' title 2>/dev/null <"$file" || true
      # {title} is argv[0]: "redis-server", or a path to it.
      if [[ "$title" == *"redis-server "*" $conf" ]]; then
        pid="${file#/proc/}"
        echo "${pid%/cmdline}"
      fi
    done
  } | sort -u
}

any_node_alive() {
  local port
  for port in $(ports); do [[ -n "$(node_pids "$port")" ]] && return 0; done
  return 1
}

# Healthy: every node says state ok, all slots assigned and ok, sees all 6 nodes, and sees
# 3 masters + 3 replicas (replicas are attached right after `--cluster create`, so a node can
# briefly still list one as a master).
node_healthy() {
  local port="$1" info nodes
  info="$(cli "$port" cluster info 2>/dev/null | tr -d '\r')" || return 1
  grep -qx 'cluster_state:ok' <<<"$info" \
    && grep -qx 'cluster_slots_assigned:16384' <<<"$info" \
    && grep -qx 'cluster_slots_ok:16384' <<<"$info" \
    && grep -qx "cluster_known_nodes:$NODE_COUNT" <<<"$info" || return 1
  nodes="$(cli "$port" cluster nodes 2>/dev/null)" || return 1
  [[ "$(awk '$3 ~ /master/ && $3 !~ /fail|handshake|noaddr/' <<<"$nodes" | wc -l)" -eq $((NODE_COUNT / 2)) ]] \
    && [[ "$(awk '$3 ~ /slave/ && $3 !~ /fail|handshake|noaddr/' <<<"$nodes" | wc -l)" -eq $((NODE_COUNT / 2)) ]]
}

cluster_healthy() {
  local port
  for port in $(ports); do node_healthy "$port" || return 1; done
}

wait_until() { # wait_until SECONDS COMMAND...: poll until COMMAND succeeds or the deadline passes
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Polite first (SHUTDOWN NOSAVE), then TERM, then KILL, each with a deadline; all nodes at
# once, so stopping takes one deadline, not six.
stop_nodes() {
  local port pid signal pids
  mapfile -t pids < <(for port in $(ports); do node_pids "$port"; done)
  ((${#pids[@]})) || return 0
  for port in $(ports); do cli "$port" shutdown nosave >/dev/null 2>&1 || true; done
  for signal in TERM KILL; do
    wait_until 5 all_nodes_gone && break
    log "nodes still running after shutdown; sending SIG$signal"
    for port in $(ports); do
      for pid in $(node_pids "$port"); do kill "-$signal" "$pid" 2>/dev/null || true; done
    done
  done
  wait_until 5 all_nodes_gone || die "could not stop the nodes in $data_dir"
  # An exited node is a zombie until init reaps it; give init a moment so `pgrep redis-server`
  # is clean when we return, but a slow init is no failure: the node holds no port any more.
  wait_until 5 all_reaped "${pids[@]}" || true
  for port in $(ports); do rm -f "$(node_file "$port" pid)"; done
}
node_gone() { [[ -z "$(node_pids "$1")" ]]; }
all_nodes_gone() { ! any_node_alive; }
all_reaped() { local pid; for pid; do [[ ! -e "/proc/$pid" ]] || return 1; done; }

log_tails() {
  local port
  for port in $(ports); do show_tail "$(node_file "$port" log)" 5; done
  show_tail "$data_dir/cluster-create.log" 10
}
show_tail() {
  [[ -s "$1" ]] || return 0
  echo "----- last lines of $1" >&2
  tail -n "$2" "$1" >&2
}

# If anything fails between the first redis-server and a healthy cluster, take it all down.
abort_start() {
  local status=$?
  trap - EXIT
  ((status == 0)) && return 0
  log_tails
  log "start failed; stopping the nodes started so far"
  stop_nodes || true
  exit "$status"
}

# Runs detached from the caller (e.g. the test host): when the owner process dies without
# stopping the cluster (crash, kill -9, hang timeout), the nodes go with it.
watch_owner() {
  while kill -0 "$owner_pid" 2>/dev/null; do
    any_node_alive || exit 0
    sleep 1
  done
  stop_nodes
}

cmd_start() {
  local port p
  install_redis
  mkdir -p "$data_dir"
  # Serialize start/stop of one cluster, e.g. two terminals running the demo at once.
  exec 9>"$data_dir/.lock"
  flock -w 120 9 || die "another start/stop holds $data_dir/.lock"

  if any_node_alive; then
    if wait_until 10 cluster_healthy; then
      log "already running on $HOST:$base_port..$((base_port + NODE_COUNT - 1)) (data: $data_dir)"
      start_owner_watch
      config_string
      return 0
    fi
    log "a previous cluster in $data_dir is not healthy; stopping it and starting a fresh one"
    stop_nodes
  fi

  for port in $(ports); do
    for p in "$port" $((port + BUS_PORT_OFFSET)); do
      port_in_use "$p" && die "port $p is in use; pick another --base-port (nothing was started)" "$EXIT_PORT_IN_USE"
    done
  done

  trap abort_start EXIT
  trap 'exit 130' INT TERM
  rm -f "$data_dir/cluster-create.log" "$data_dir/dump.rdb"
  for port in $(ports); do
    # A fresh cluster: a leftover nodes-N.conf would make the node rejoin an old cluster.
    rm -f "$data_dir/nodes-$port.conf" "$data_dir/dump-$port.rdb" "$(node_file "$port" log)" "$(node_file "$port" pid)"
    write_node_config "$port"
    # 9>&-: a daemon must not inherit the lock, or the lock outlives this script.
    redis-server "$(node_file "$port" conf)" </dev/null >>"$(node_file "$port" log)" 2>&1 9>&- \
      || die "redis-server did not start on port $port"
  done
  for port in $(ports); do
    # daemonize returns before the node binds, so a taken port shows only in its log.
    wait_until 10 node_answers_or_aborted "$port" || true
    node_answers "$port" && continue
    grep -q 'Address already in use' "$(node_file "$port" log)" 2>/dev/null \
      && die "port $port (or its bus port $((port + BUS_PORT_OFFSET))) is in use" "$EXIT_PORT_IN_USE"
    die "the node on port $port did not answer PING"
  done

  local endpoints=()
  for port in $(ports); do endpoints+=("$HOST:$port"); done
  CLI_TIMEOUT=60 redis_cli --cluster create "${endpoints[@]}" --cluster-replicas 1 --cluster-yes \
    >"$data_dir/cluster-create.log" 2>&1 || die "redis-cli --cluster create failed"
  wait_until "$READY_TIMEOUT_SECONDS" cluster_healthy \
    || die "the cluster was not healthy after ${READY_TIMEOUT_SECONDS}s"
  trap - EXIT INT TERM

  log "ready: $NODE_COUNT nodes on $HOST:$base_port..$((base_port + NODE_COUNT - 1)) (data: $data_dir)"
  start_owner_watch
  config_string
}
node_answers() { [[ "$(cli "$1" ping 2>/dev/null)" == PONG ]]; }
node_answers_or_aborted() { node_answers "$1" || grep -q 'aborting' "$(node_file "$1" log)" 2>/dev/null; }

start_owner_watch() {
  [[ -n "$owner_pid" ]] || return 0
  kill -0 "$owner_pid" 2>/dev/null || die "--owner-pid $owner_pid is not a running process"
  # Detached, with no inherited stdio: the caller reading our output must see EOF when we exit.
  setsid bash "${BASH_SOURCE[0]}" watch --base-port "$base_port" --dir "$data_dir" --owner-pid "$owner_pid" \
    </dev/null >/dev/null 2>&1 9>&- &
}

cmd_stop() {
  # Without its directory the nodes can still run (found by process title): stop them anyway.
  if [[ -d "$data_dir" ]]; then
    exec 9>"$data_dir/.lock"
    flock -w 120 9 || die "another start/stop holds $data_dir/.lock"
  fi
  if ! any_node_alive; then
    log "not running (data: $data_dir)"
    return 0
  fi
  stop_nodes
  log "stopped (data: $data_dir)"
}

cmd_status() {
  local port role state
  for port in $(ports); do
    if node_gone "$port"; then
      echo "$HOST:$port down"
      continue
    fi
    role="$(cli "$port" role 2>/dev/null | head -n 1)" || role="unreachable"
    state="$(cli "$port" cluster info 2>/dev/null | tr -d '\r' | grep '^cluster_state:')" || state="cluster_state:unknown"
    echo "$HOST:$port ${role:-unknown} $state"
  done
  if cluster_healthy; then
    echo "healthy: $(config_string)"
  else
    echo "not healthy (data: $data_dir)"
    return 1
  fi
}

main() {
  local command="${1:-}"
  (($#)) && shift
  case "$command" in
    install) (($# == 0)) || usage; install_redis ;;
    start) parse_args "$@"; cmd_start ;;
    stop) parse_args "$@"; cmd_stop ;;
    status) parse_args "$@"; cmd_status ;;
    # Internal: the background watcher that `start --owner-pid` launches.
    watch) parse_args "$@"; [[ -n "$owner_pid" ]] || usage; watch_owner ;;
    *) usage ;;
  esac
}

main "$@"
