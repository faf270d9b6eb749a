#!/usr/bin/env bash
# A local Redis Cluster (3 masters + 3 replicas) on 127.0.0.1, for the tests and the demo.
#
#   eng/redis-cluster.sh start   [--base-port N] [--dir DIR] [--owner-pid PID] [--tls] [--password PASS]
#   eng/redis-cluster.sh stop    [--base-port N] [--dir DIR]
#   eng/redis-cluster.sh status  [--base-port N] [--dir DIR]
#   eng/redis-cluster.sh install
#
# Nodes listen on N..N+5 (cluster bus N+10000..N+10005); files live in DIR (default
# <repo>/.redis/cluster-N). `start` prints the client configuration string as its only line
# on stdout, so callers can write `config=$(eng/redis-cluster.sh start)`; progress goes to stderr.
# --tls: TLS only (no plaintext port, TLS cluster bus and replication) with a certificate for
# redis.test (no IP SAN) from a private CA generated in DIR/tls (CA: DIR/tls/ca.crt); clients
# connect to the IPs with sslHost=redis.test. --password: requirepass + masterauth. stop and
# status reuse what start was given.
# --announce-ports P1,...,P6 (start): node N+i tells clients it is 127.0.0.1:P(i+1)
# (cluster-announce-*; the bus port stays N+10000+i), e.g. the ports of a fault proxy that
# forwards them to N..N+5: clients then reach the nodes only through P1..P6, and the printed
# configuration string names them. This script keeps using N..N+5. Whatever listens on P1..P6
# must run before start: the cluster creation reaches the nodes at the addresses they announce.
# Exit codes: 0 ok, 1 failure, 2 usage, 3 a port is in use (callers may retry on other ports).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly NODE_COUNT=6
readonly BUS_PORT_OFFSET=10000
readonly HOST=127.0.0.1
readonly READY_TIMEOUT_SECONDS=30
readonly EXIT_PORT_IN_USE=3
# The name on the --tls server certificate; clients validate against it with sslHost=.
readonly TLS_HOST=redis.test

base_port=7000
data_dir=""
owner_pid=""
tls=0
password=""
security_given=0 # --tls/--password given; otherwise stop/status/watch reuse what start saved

log() { echo "redis-cluster: $*" >&2; }
die() { log "error: $1"; exit "${2:-1}"; }

usage() {
  # The header comment, however long it grows.
  sed -n '2,/^[^#]/{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

parse_args() {
  while (($#)); do
    case "$1" in
      --announce-ports) set_announce_ports "${2:?--announce-ports needs a value}"; shift 2 ;;
      --base-port) base_port="${2:?--base-port needs a value}"; shift 2 ;;
      --dir) data_dir="${2:?--dir needs a value}"; shift 2 ;;
      --owner-pid) owner_pid="${2:?--owner-pid needs a value}"; shift 2 ;;
      --tls) tls=1; security_given=1; shift ;;
      --password) password="${2:?--password needs a value}"; security_given=1; shift 2 ;;
      *) log "unknown option: $1"; usage ;;
    esac
  done
  if ! [[ "$base_port" =~ ^[0-9]+$ ]] || ((base_port < 1 || base_port + NODE_COUNT - 1 + BUS_PORT_OFFSET > 65535)); then
    die "--base-port must leave room for $NODE_COUNT ports and their bus ports (+$BUS_PORT_OFFSET): $base_port" 2
  fi
  # Absolute, because redis-server resolves its file paths against its own working directory,
  # and the process titles (see node_pids) carry this exact path.
  data_dir="$(realpath -m "${data_dir:-$REPO_ROOT/.redis/cluster-$base_port}")"
  # It goes into a config file line and a comma-separated client configuration string.
  if [[ -n "$password" && ! "$password" =~ ^[A-Za-z0-9._~+/=:@!%^*-]+$ ]]; then
    die "--password may only use letters, digits and ._~+/=:@!%^*-" 2
  fi
}

# What `start` was given (TLS, password), for stop, status and the owner watch, which talk to
# the nodes with redis-cli too. The nodes' own config files hold the password already.
security_file() { echo "$data_dir/security.env"; }
save_security() {
  (umask 077 && printf 'tls=%s\npassword=%s\n' "$tls" "$password" >"$(security_file)")
}
load_security() {
  local key value
  ((security_given)) || [[ ! -f "$(security_file)" ]] && return 0
  while IFS='=' read -r key value; do
    case "$key" in
      tls) tls="$value" ;;
      password) password="$value" ;;
    esac
  done <"$(security_file)"
}

# --tls: a private CA and a certificate for $TLS_HOST (DNS SAN only, deliberately no IP SAN:
# a client that validates against the IP it connects to must fail), made once per data
# directory and reused, so a CA the user trusted stays valid across restarts. Never committed:
# the data directory is ignored by git (or outside the repository).
tls_file() { echo "$data_dir/tls/$1"; }
ensure_certificates() {
  local dir="$data_dir/tls"
  [[ -s "$dir/ca.crt" && -s "$dir/server.crt" && -s "$dir/server.key" ]] && return 0
  command -v openssl >/dev/null || die "--tls needs openssl to make the certificates"
  log "making a private CA and a certificate for $TLS_HOST in $dir"
  mkdir -p "$dir"
  (
    umask 077
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -keyout ca.key -out ca.crt -subj "/CN=RateLimiting local test CA" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout server.key -out server.csr -subj "/CN=$TLS_HOST"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=DNS:$TLS_HOST" >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
      -extfile server.ext -out server.crt
    rm -f server.csr server.ext ca.srl
    chmod 644 ca.crt server.crt
  ) >"$data_dir/tls.log" 2>&1 || { cat "$data_dir/tls.log" >&2; die "openssl could not make the certificates"; }
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

# --announce-ports: the ports clients are told, one per node in port order; none by default.
announce_ports=()
set_announce_ports() {
  local p
  IFS=, read -r -a announce_ports <<<"$1"
  ((${#announce_ports[@]} == NODE_COUNT)) || die "--announce-ports needs $NODE_COUNT comma-separated ports: $1" 2
  for p in "${announce_ports[@]}"; do
    [[ "$p" =~ ^[0-9]+$ ]] && ((p >= 1 && p <= 65535)) || die "--announce-ports: not a port: $p" 2
  done
}
client_ports() { if ((${#announce_ports[@]})); then printf '%s\n' "${announce_ports[@]}"; else ports; fi; }
# The client port is announced for plaintext and TLS alike: a node uses the one it serves.
announce_config() { # announce_config PORT: node PORT's cluster-announce-* settings, if any
  ((${#announce_ports[@]})) || return 0
  local announced="${announce_ports[$(($1 - base_port))]}"
  printf '%s\n' "cluster-announce-ip $HOST" "cluster-announce-port $announced" \
    "cluster-announce-tls-port $announced" "cluster-announce-bus-port $(($1 + BUS_PORT_OFFSET))"
}
announced_ports_listen() { local p; for p in "${announce_ports[@]}"; do port_in_use "$p" || return 1; done; }

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
  announce_config "$port" >>"$(node_file "$port" conf)"
  if ((tls)); then
    # TLS only: `port 0` (the later line wins) closes the plaintext port; the bus (tls-port
    # + 10000) and replication use TLS too. Clients need no certificate of their own.
    cat >>"$(node_file "$port" conf)" <<EOF
port 0
tls-port $port
tls-cert-file $(tls_file server.crt)
tls-key-file $(tls_file server.key)
tls-ca-cert-file $(tls_file ca.crt)
tls-auth-clients no
tls-cluster yes
tls-replication yes
EOF
  fi
  if [[ -n "$password" ]]; then
    # The default user's password; masterauth lets replicas sync from their (failed-over) master.
    printf 'requirepass %s\nmasterauth %s\n' "$password" "$password" >>"$(node_file "$port" conf)"
  fi
}

# Every redis-cli connection option lives here. The timeout keeps a stopped or frozen node
# from hanging the script. The password goes through REDISCLI_AUTH (what `--pass` sets, but
# not visible in `ps`); --sni names the certificate's host, the CA checks its chain.
redis_cli() {
  local options=() environment=()
  ((tls)) && options+=(--tls --cacert "$(tls_file ca.crt)" --sni "$TLS_HOST")
  [[ -n "$password" ]] && environment+=("REDISCLI_AUTH=$password")
  env "${environment[@]}" timeout "${CLI_TIMEOUT:-10}" redis-cli "${options[@]}" "$@"
}
cli() { local port="$1"; shift; redis_cli -h "$HOST" -p "$port" "$@"; }

config_string() {
  local port endpoints=()
  for port in $(client_ports); do endpoints+=("$HOST:$port"); done
  # What a user writes for such a cluster: IP endpoints (as the cluster's own MOVED replies and
  # topology name them), the certificate checked against the host name.
  ((tls)) && endpoints+=(ssl=true "sslHost=$TLS_HOST")
  [[ -n "$password" ]] && endpoints+=("password=$password")
  ((tls)) || [[ -n "$password" ]] && endpoints+=(abortConnect=false)
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
      log_security
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

  ((tls)) && ensure_certificates
  save_security
  ((${#announce_ports[@]} == 0)) || announced_ports_listen \
    || die "nothing listens on --announce-ports ${announce_ports[*]}: start what serves them (e.g. the proxy) first"

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
  log_security
  start_owner_watch
  config_string
}
log_security() {
  ((tls)) || return 0
  log "TLS only; CA certificate: $(tls_file ca.crt) (trust it, e.g. RateLimiting:Redis:TrustedCaCertificatePath;"
  log "the server certificate is for $TLS_HOST only, so clients connect to the IPs with sslHost=$TLS_HOST)"
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
    stop) parse_args "$@"; load_security; cmd_stop ;;
    status) parse_args "$@"; load_security; cmd_status ;;
    # Internal: the background watcher that `start --owner-pid` launches.
    watch) parse_args "$@"; load_security; [[ -n "$owner_pid" ]] || usage; watch_owner ;;
    *) usage ;;
  esac
}

main "$@"
