#!/usr/bin/env bash
# A local Elasticsearch 9 without Docker, for development, CI and the tests: fetched once from
# Maven Central with Maven, run on loopback with security off. `scripts/elasticsearch.sh --help`.
set -euo pipefail
umask 022

PROG=${0##*/}
DEFAULT_VERSION=9.2.4
SERVED_VERSIONS="9.0.0, 9.1.0, 9.1.5, 9.2.0, 9.2.4"
ES_USER=imr-es
STOP_WAIT=60

usage() {
  cat <<EOF
Usage: $PROG COMMAND [OPTIONS]

Run a local Elasticsearch 9 (no Docker): the runnable distribution Elastic publishes on Maven
Central (org.elasticsearch.distribution.integ-test-zip:elasticsearch:VERSION:zip), fetched once
with Maven, on 127.0.0.1, security off, plain HTTP.

Commands:
  start [--nodes N] [--port P] [--dir D] [--version V]
          Start N nodes (default 1) as one cluster, wait until it is yellow, and print its URL
          (http://127.0.0.1:PORT, the first node) as the last line of stdout. HTTP ports are taken
          from P (default 9200) upward and transport ports from 9300 upward, skipping ports in
          use. A cluster of D that is already running is not started again: its URL is printed
          (nodes of it that are down are started again first).
  stop [--dir D]
          Stop the nodes of D (SIGTERM; SIGKILL after ${STOP_WAIT} s) and delete their pid files
          and DATA FOLDERS (everything indexed is wiped; it is a test server). Their logs stay
          until the next start.
  status [--dir D]
          One line per node (name, pid, HTTP port, running or not) and the cluster's health.
          Exit status 0: all nodes running and the cluster answers; 3: none running (or no
          cluster recorded in D); 1: some nodes down, or no answer.
  start-node K [--dir D]
          Start node K of the cluster recorded in D again with its own config, ports and data
          (after it died or was killed), wait until it has joined, print its URL.
  pid K [--dir D]
          Print node K's process id (exit 3 when it is not running).
  help, --help, -h
          This text.

Options:
  --nodes N     number of nodes (1 to 9)
  --port P      first HTTP port to try (default 9200)
  --dir D       run folder: each node's config, data, logs and pid file, and the URL (file
                "url"). Clusters with different run folders run side by side.
                [env IMR_SEARCH_ES_RUN; default <home>/run]
  --version V   Elasticsearch version: a 9.x served on Maven Central ($SERVED_VERSIONS)
                [env IMR_SEARCH_ES_VERSION; default $DEFAULT_VERSION]

Environment:
  IMR_SEARCH_ES_HOME   <home>: where the distribution is kept [root: /var/lib/imr-search/elasticsearch,
                       others: \${XDG_CACHE_HOME:-\$HOME/.cache}/imr-search/elasticsearch]
  IMR_SEARCH_ES_WAIT   seconds start waits for the cluster [180]
  IMR_SEARCH_ES_HEAP   Java heap of each node [512m]
  ES_JAVA_HOME         the JDK (21 or newer) to run it with [the newest JDK >= 21 in /usr/lib/jvm]

Needs Maven (mvn; installed with apt-get when missing and run as root) and a JDK 21+.
Elasticsearch does not run as root: run as root, this script runs the nodes as the system user
$ES_USER, which it creates if needed; a run folder $ES_USER cannot enter (under /root, or a
pytest tmp_path) then keeps its node folders under <home>/nodes, linked from the run folder.
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $* (see $PROG --help)" >&2; exit 2; }
say() { echo "$PROG: $*" >&2; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# ---------------------------------------------------------------------------------------------
# Options

ALL_ARGS=("$@")
COMMAND=${1:-help}
[ $# -gt 0 ] && shift
NODE_ARG=""
OPT_NODES=""
OPT_PORT=""
OPT_DIR=""
OPT_VERSION=""

case "$COMMAND" in
  help | --help | -h) usage; exit 0 ;;
  start | stop | status | start-node | pid) ;;
  *) usage_error "unknown command '$COMMAND'" ;;
esac

if [ "$COMMAND" = start-node ] || [ "$COMMAND" = pid ]; then
  [ $# -gt 0 ] || usage_error "$COMMAND needs a node number"
  NODE_ARG=$1
  shift
  [[ "$NODE_ARG" =~ ^[1-9][0-9]*$ ]] || usage_error "bad node number '$NODE_ARG'"
fi

while [ $# -gt 0 ]; do
  opt=$1
  value=""
  case "$opt" in
    --*=*) value=${opt#*=}; opt=${opt%%=*} ;;
    --help | -h) usage; exit 0 ;;
    --*)
      [ $# -ge 2 ] || usage_error "option $opt needs a value"
      value=$2
      shift
      ;;
    *) usage_error "unexpected argument '$opt'" ;;
  esac
  shift
  case "$COMMAND:$opt" in
    *:--dir) OPT_DIR=$value ;;
    start:--nodes) OPT_NODES=$value ;;
    start:--port) OPT_PORT=$value ;;
    start:--version) OPT_VERSION=$value ;;
    *) usage_error "unknown option $opt for $COMMAND" ;;
  esac
done

if [ -n "$OPT_NODES" ] && ! [[ "$OPT_NODES" =~ ^[1-9]$ ]]; then
  usage_error "bad --nodes '$OPT_NODES' (1 to 9)"
fi
if [ -n "$OPT_PORT" ] && { ! [[ "$OPT_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || [ "$OPT_PORT" -gt 65535 ]; }; then
  usage_error "bad --port '$OPT_PORT'"
fi
VERSION=${OPT_VERSION:-${IMR_SEARCH_ES_VERSION:-$DEFAULT_VERSION}}
[[ "$VERSION" =~ ^9\.[0-9]+\.[0-9]+$ ]] ||
  usage_error "bad version '$VERSION': a 9.x.y served on Maven Central ($SERVED_VERSIONS)"
WAIT=${IMR_SEARCH_ES_WAIT:-180}
[[ "$WAIT" =~ ^[0-9]+$ ]] || usage_error "bad IMR_SEARCH_ES_WAIT '$WAIT' (seconds)"
HEAP=${IMR_SEARCH_ES_HEAP:-512m}
[[ "$HEAP" =~ ^[0-9]+[kKmMgG]$ ]] || usage_error "bad IMR_SEARCH_ES_HEAP '$HEAP' (like 512m or 1g)"

if is_root; then
  HOME_DIR=${IMR_SEARCH_ES_HOME:-/var/lib/imr-search/elasticsearch}
else
  HOME_DIR=${IMR_SEARCH_ES_HOME:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/imr-search/elasticsearch}
fi
RUN_DIR=${OPT_DIR:-${IMR_SEARCH_ES_RUN:-$HOME_DIR/run}}
case "$RUN_DIR" in /*) ;; *) RUN_DIR=$PWD/$RUN_DIR ;; esac
RUN_DIR=${RUN_DIR%/}
RECORD=$RUN_DIR/cluster

# ---------------------------------------------------------------------------------------------
# Helpers

# The value of KEY in the run folder's record (written by this script, never sourced).
rec() {
  [ -f "$RECORD" ] || return 1
  awk -v k="$1" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); found = 1; exit }
                 END { exit !found }' "$RECORD"
}

# GET http://127.0.0.1:PORT/PATH within SECONDS; the body on stdout; fails when nothing answers.
http_get() {
  local port=$1 path=$2 seconds=$3
  if command -v curl >/dev/null 2>&1; then
    curl -s --max-time "$seconds" "http://127.0.0.1:$port$path"
  else
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout "$seconds" bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 7
      printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$1" >&3
      sed "1,/^\r\{0,1\}$/d" <&3' "$port" "$path" 2>/dev/null
  fi
}

json_field() { # json_field NAME < json: a string or number field's value
  sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1
}

# TCP ports something listens on (any address), from /proc/net/tcp{,6}.
listening_ports() {
  local hex
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    awk '$4 == "0A" { n = split($2, a, ":"); print a[n] }' |
    while read -r hex; do echo $((16#$hex)); done
}

# The newest JDK >= 21 under /usr/lib/jvm (by the JAVA_VERSION of its release file).
find_java() {
  local best="" best_major=0 release version major home
  if [ -n "${ES_JAVA_HOME:-}" ]; then
    [ -x "$ES_JAVA_HOME/bin/java" ] || die "ES_JAVA_HOME=$ES_JAVA_HOME has no bin/java"
    if [ -f "$ES_JAVA_HOME/release" ]; then
      version=$(sed -n 's/^JAVA_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ES_JAVA_HOME/release")
      major=$(java_major "$version")
      [ "$major" -ge 21 ] ||
        die "ES_JAVA_HOME=$ES_JAVA_HOME is Java $version; Elasticsearch 9 needs Java 21 or newer"
    fi
    echo "$ES_JAVA_HOME"
    return
  fi
  for release in /usr/lib/jvm/*/release; do
    [ -f "$release" ] || continue
    home=${release%/release}
    [ -x "$home/bin/java" ] || continue
    version=$(sed -n 's/^JAVA_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$release")
    major=$(java_major "$version")
    if [ "$major" -ge 21 ] && [ "$major" -gt "$best_major" ]; then
      best=$home
      best_major=$major
    fi
  done
  [ -n "$best" ] ||
    die "no JDK 21 or newer in /usr/lib/jvm (Elasticsearch 9 needs one): install one there or set ES_JAVA_HOME"
  echo "$best"
}

java_major() { # 25.0.3 -> 25, 1.8.0_412 -> 8, anything else -> 0
  local v=$1
  [[ "$v" == 1.* ]] && v=${v#1.}
  v=${v%%[!0-9]*}
  echo "${v:-0}"
}

ensure_user() {
  is_root || return 0
  command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is needed to run Elasticsearch as $ES_USER"
  if ! id "$ES_USER" >/dev/null 2>&1; then
    say "creating system user $ES_USER (Elasticsearch does not run as root)"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER" ||
      die "cannot create user $ES_USER"
  fi
}

ensure_mvn() {
  command -v mvn >/dev/null 2>&1 && return 0
  if is_root && command -v apt-get >/dev/null 2>&1; then
    say "installing Maven (apt-get install maven)"
    if ! { apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null; }; then
      die "could not install Maven with apt-get"
    fi
    command -v mvn >/dev/null 2>&1 && return 0
  fi
  die "Maven (mvn) is needed to fetch Elasticsearch from Maven Central: install it (apt-get install maven)"
}

# Unpacks ZIP into DIR, keeping the files' modes (bin/elasticsearch must stay executable).
unpack() {
  local zip=$1 dir=$2
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "$zip" -d "$dir"
  else
    python3 - "$zip" "$dir" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = z.extract(info, sys.argv[2])
        mode = info.external_attr >> 16
        if mode and not info.is_dir():
            os.chmod(path, mode & 0o777)
PY
  fi
}

# The unpacked distribution of VERSION (fetched with Maven and unpacked, once).
ensure_dist() {
  local dist=$HOME_DIR/dist/elasticsearch-$VERSION
  local zip=$HOME_DIR/downloads/elasticsearch-$VERSION.zip
  if [ ! -x "$dist/bin/elasticsearch" ]; then
    mkdir -p "$HOME_DIR/downloads" "$HOME_DIR/dist" || die "cannot create $HOME_DIR"
    if [ ! -s "$zip" ]; then
      ensure_mvn
      say "fetching Elasticsearch $VERSION from Maven Central with mvn"
      local out tmp
      tmp=$(mktemp -d "$HOME_DIR/downloads/.mvn.XXXXXX")
      # mvn needs a Java; without one on PATH, it may use the JDK found for Elasticsearch.
      if ! out=$(cd "$tmp" && if [ -z "${JAVA_HOME:-}" ] && ! command -v java >/dev/null 2>&1; then
        export JAVA_HOME=$JAVA_DIR
      fi && mvn -q -B dependency:copy \
        "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip" \
        "-DoutputDirectory=$tmp" 2>&1); then
        rm -rf "$tmp"
        # Maven's reason (its first error line), then ours.
        printf '%s\n' "$out" | sed 's/\x1b\[[0-9;]*m//g' | grep -m 1 '^\[ERROR\]' | cut -c 1-400 >&2 || true
        die "mvn could not fetch org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip (served versions: $SERVED_VERSIONS)"
      fi
      mv -f "$tmp/elasticsearch-$VERSION.zip" "$zip" || die "mvn left no elasticsearch-$VERSION.zip"
      rm -rf "$tmp"
    fi
    say "unpacking $zip into $HOME_DIR/dist"
    local tmpdir
    tmpdir=$(mktemp -d "$HOME_DIR/dist/.unpack.XXXXXX")
    unpack "$zip" "$tmpdir" || { rm -rf "$tmpdir"; die "cannot unpack $zip"; }
    [ -x "$tmpdir/elasticsearch-$VERSION/bin/elasticsearch" ] ||
      { rm -rf "$tmpdir"; die "$zip holds no elasticsearch-$VERSION/bin/elasticsearch"; }
    chmod -R a+rX "$tmpdir"
    if ! mv -T "$tmpdir/elasticsearch-$VERSION" "$dist" 2>/dev/null; then
      [ -x "$dist/bin/elasticsearch" ] || { rm -rf "$tmpdir"; die "cannot unpack into $dist"; }
    fi
    rm -rf "$tmpdir"
  fi
  if is_root && ! runuser -u "$ES_USER" -- test -x "$dist/bin/elasticsearch"; then
    die "user $ES_USER cannot read $dist: set IMR_SEARCH_ES_HOME to a folder outside /root"
  fi
  DIST=$dist
}

# Number of nodes recorded in the run folder (0 when none).
recorded_nodes() {
  local n
  n=$(rec nodes 2>/dev/null) || n=0
  [[ "$n" =~ ^[1-9]$ ]] || n=0
  echo "$n"
}

node_dir() { rec "node$1_dir"; }

# The pid of node K when it is running (the process of this node, not a recycled pid).
node_pid() {
  local k=$1 dir pid
  dir=$(node_dir "$k") || return 1
  [ -f "$dir/pid" ] || return 1
  pid=$(head -c 20 "$dir/pid" 2>/dev/null | tr -dc '0-9')
  [ -n "$pid" ] || return 1
  [ -d "/proc/$pid" ] || return 1
  # The server runs in its logs folder.
  [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$dir/logs" ] || return 1
  echo "$pid"
}

node_log() { # the node's main log file
  local dir=$1
  echo "$dir/logs/$(rec cluster_name).log"
}

# The last 30 lines of node K's log on stderr: the launcher's output (what it printed, the
# server's output until it was up) when it failed or there is no log yet, else the node's log.
FAILED_LAUNCH=""
show_log() {
  local k=$1 dir log
  dir=$(node_dir "$k") || return 0
  log=$(node_log "$dir")
  if [ -n "$FAILED_LAUNCH" ] || [ ! -s "$log" ]; then log=$dir/logs/launcher.out; fi
  if [ -s "$log" ]; then
    echo "--- last 30 lines of $log" >&2
    tail -n 30 "$log" >&2
  fi
}

# Whether one of nodes K... failed because its port was taken (by a start running beside it).
bind_failed() {
  local k dir
  for k in "$@"; do
    dir=$(node_dir "$k") || continue
    if grep -qs "Address already in use" "$dir"/logs/*.log "$dir/logs/launcher.out"; then
      return 0
    fi
  done
  return 1
}

# Launches node K in the background (in its own session); LAUNCHER[K] is the launcher's pid.
declare -a LAUNCHER=()
launch_node() {
  local k=$1 dir java dist
  dir=$(node_dir "$k")
  java=$(rec java_home)
  dist=$(rec dist)
  rm -f "$dir/pid"
  mkdir -p "$dir/tmp" "$dir/logs"
  local -a run=()
  if is_root; then
    chown "$ES_USER:" "$dir/tmp" "$dir/logs"
    run=(runuser -u "$ES_USER" --)
  fi
  (
    cd "$dir/logs"
    exec setsid "${run[@]}" env ES_JAVA_HOME="$java" ES_PATH_CONF="$dir/config" \
      ES_TMPDIR="$dir/tmp" ES_JAVA_OPTS="-Xms$(rec heap) -Xmx$(rec heap)" \
      "$dist/bin/elasticsearch" -d -p "$dir/pid"
  ) </dev/null >"$dir/logs/launcher.out" 2>&1 &
  LAUNCHER[k]=$!
}

# Stops node K's launcher session (during a failed start).
kill_launcher() {
  local k=$1
  if [ -n "${LAUNCHER[k]:-}" ]; then
    kill -KILL -- "-${LAUNCHER[k]}" 2>/dev/null || kill -KILL "${LAUNCHER[k]}" 2>/dev/null || true
    wait "${LAUNCHER[k]}" 2>/dev/null || true
  fi
}

# Stops the given nodes: SIGTERM, wait, then SIGKILL; deletes pid files. STOPPED: how many ran.
STOPPED=0
stop_nodes() {
  local k pid deadline
  local -a pids=()
  for k in "$@"; do
    if pid=$(node_pid "$k"); then
      say "stopping imr-es-$k (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      STOPPED=$((STOPPED + 1))
    fi
    kill_launcher "$k"
  done
  deadline=$((SECONDS + STOP_WAIT))
  for pid in "${pids[@]}"; do
    while [ -d "/proc/$pid" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
    if [ -d "/proc/$pid" ]; then
      say "pid $pid did not stop within ${STOP_WAIT} s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while [ -d "/proc/$pid" ]; do sleep 0.2; done
    fi
  done
  local dir
  for k in "$@"; do
    if dir=$(node_dir "$k"); then rm -f "$dir/pid"; fi
  done
}

# Waits until node PORT's health says NODES nodes and yellow; fails early when a node dies.
# On failure FAILED_NODE is the node to blame.
FAILED_NODE=""
wait_health() {
  local port=$1 nodes=$2 deadline body k rc
  shift 2
  local -a watched=("$@")
  deadline=$((SECONDS + WAIT))
  while :; do
    body=$(http_get "$port" "/_cluster/health?wait_for_nodes=$nodes&wait_for_status=yellow&timeout=2s" 5 || true)
    case "$body" in *'"timed_out":false'*) return 0 ;; esac
    for k in "${watched[@]}"; do
      # A launcher exits once its node is up (0) or has failed (not 0).
      if [ -n "${LAUNCHER[k]:-}" ] && ! kill -0 "${LAUNCHER[k]}" 2>/dev/null; then
        rc=0
        wait "${LAUNCHER[k]}" 2>/dev/null || rc=$?
        unset "LAUNCHER[k]"
        if [ "$rc" -ne 0 ]; then
          FAILED_NODE=$k
          FAILED_LAUNCH=1
          say "imr-es-$k failed to start (exit status $rc)"
          return 1
        fi
        # Up: from now on its pid must stay alive.
        node_pid "$k" >/dev/null || { FAILED_NODE=$k; say "imr-es-$k stopped"; return 1; }
      elif [ -z "${LAUNCHER[k]:-}" ] && ! node_pid "$k" >/dev/null; then
        FAILED_NODE=$k
        say "imr-es-$k stopped"
        return 1
      fi
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "the cluster was not up with $nodes node(s) within $WAIT s (IMR_SEARCH_ES_WAIT)"
      FAILED_NODE=${watched[0]}
      # The node the cluster lacks, if the first node answers.
      local names
      names=$(http_get "$port" "/_cat/nodes?h=name" 5 || true)
      for k in "${watched[@]}"; do
        if ! printf '%s\n' "$names" | grep -qx "imr-es-$k"; then FAILED_NODE=$k; break; fi
      done
      return 1
    fi
    sleep 1
  done
}

healthy() { # healthy PORT NODES: the cluster answers with NODES nodes, yellow or green
  local body
  body=$(http_get "$1" "/_cluster/health?wait_for_nodes=$2&wait_for_status=yellow&timeout=1s" 5) || return 1
  case "$body" in *'"timed_out":false'*) return 0 ;; *) return 1 ;; esac
}

url_of() { echo "http://127.0.0.1:$(rec "node$1_http")"; }

# Removes node folders kept under HOME/nodes for run folders that are gone.
prune_external() {
  local d run live k pid
  for d in "$HOME_DIR"/nodes/*/; do
    [ -f "$d/run-dir" ] || continue
    run=$(cat "$d/run-dir")
    [ -d "$run" ] && continue
    live=""
    for k in "$d"node-*/pid; do
      [ -f "$k" ] || continue
      pid=$(tr -dc '0-9' <"$k")
      [ -n "$pid" ] && [ -d "/proc/$pid" ] && live=1
    done
    [ -n "$live" ] || rm -rf "${d%/}"
  done
}

yaml_quote() { # a single-quoted YAML scalar
  printf "'%s'" "${1//\'/\'\'}"
}

# ---------------------------------------------------------------------------------------------
# Commands

cmd_start() {
  local nodes k pid port
  mkdir -p "$RUN_DIR" || die "cannot create run folder $RUN_DIR"
  RUN_DIR=$(cd "$RUN_DIR" && pwd -P)
  RECORD=$RUN_DIR/cluster

  # A cluster of this run folder already running: bring back its missing nodes, print its URL.
  nodes=$(recorded_nodes)
  local -a alive=() dead=()
  for ((k = 1; k <= nodes; k++)); do
    if node_pid "$k" >/dev/null; then alive+=("$k"); else dead+=("$k"); fi
  done
  if [ "${#alive[@]}" -gt 0 ]; then
    if [ -n "$OPT_NODES" ] && [ "$OPT_NODES" -ne "$nodes" ]; then
      die "a $nodes-node cluster of $RUN_DIR is running: stop it first ($PROG stop --dir $RUN_DIR)"
    fi
    if [ -n "$OPT_VERSION" ] && [ "$OPT_VERSION" != "$(rec version)" ]; then
      die "Elasticsearch $(rec version) of $RUN_DIR is running: stop it first ($PROG stop --dir $RUN_DIR)"
    fi
    ensure_user
    for k in "${dead[@]}"; do
      say "starting imr-es-$k again"
      launch_node "$k"
    done
    port=$(rec node1_http)
    if [ "${#dead[@]}" -eq 0 ] && healthy "$port" "$nodes"; then
      say "Elasticsearch $(rec version) is already running from $RUN_DIR"
      url_of 1
      return 0
    fi
    say "waiting for the $nodes-node cluster of $RUN_DIR"
    if ! wait_health "$port" "$nodes" "${dead[@]}" "${alive[@]}"; then
      show_log "$FAILED_NODE"
      stop_nodes "${dead[@]}"
      exit 1
    fi
    url_of 1
    return 0
  fi

  # A fresh cluster.
  nodes=${OPT_NODES:-1}
  JAVA_DIR=$(find_java)
  ensure_user
  ensure_dist

  # Node folders: in the run folder, or under HOME/nodes when the nodes' user cannot enter it.
  local base=$RUN_DIR external="" id
  id=$(printf '%s' "$RUN_DIR" | cksum | cut -d ' ' -f 1)
  if is_root && ! runuser -u "$ES_USER" -- test -x "$RUN_DIR"; then
    mkdir -p "$HOME_DIR/nodes" || die "cannot create $HOME_DIR/nodes"
    runuser -u "$ES_USER" -- test -x "$HOME_DIR/nodes" ||
      die "neither $RUN_DIR nor $HOME_DIR/nodes can be entered by user $ES_USER: set IMR_SEARCH_ES_HOME to a folder outside /root"
    prune_external
    external=$HOME_DIR/nodes/$id
    base=$external
  fi
  rm -rf "$RUN_DIR"/node-[0-9]* "$HOME_DIR/nodes/$id" "$RUN_DIR/url" "$RECORD"
  if [ -n "$external" ]; then
    mkdir -p "$external"
    external=$(cd "$external" && pwd -P)
    base=$external
    printf '%s\n' "$RUN_DIR" >"$external/run-dir"
  fi

  # Ports: HTTP from P, transport from 9300, each past what listens and what is taken here.
  local used next_http next_transport
  used=" $(listening_ports | tr '\n' ' ') "
  next_http=${OPT_PORT:-9200}
  next_transport=9300
  local -a http=() transport=()
  for ((k = 1; k <= nodes; k++)); do
    while [[ "$used" == *" $next_http "* ]]; do next_http=$((next_http + 1)); done
    [ "$next_http" -le 65535 ] || die "no free HTTP port from ${OPT_PORT:-9200} up"
    http[k]=$next_http
    used+="$next_http "
    while [[ "$used" == *" $next_transport "* ]]; do next_transport=$((next_transport + 1)); done
    [ "$next_transport" -le 65535 ] || die "no free transport port from 9300 up"
    transport[k]=$next_transport
    used+="$next_transport "
  done

  local cluster_name="imr-es-$id" seeds="" masters=""
  for ((k = 1; k <= nodes; k++)); do
    seeds+="${seeds:+, }\"127.0.0.1:${transport[k]}\""
    masters+="${masters:+, }\"imr-es-$k\""
  done

  {
    echo "version=$VERSION"
    echo "nodes=$nodes"
    echo "cluster_name=$cluster_name"
    echo "heap=$HEAP"
    echo "java_home=$JAVA_DIR"
    echo "dist=$DIST"
    for ((k = 1; k <= nodes; k++)); do
      if [ -n "$external" ]; then echo "node${k}_dir=$external/node-$k"; else echo "node${k}_dir=$RUN_DIR/node-$k"; fi
      echo "node${k}_http=${http[k]}"
      echo "node${k}_transport=${transport[k]}"
    done
  } >"$RECORD"

  for ((k = 1; k <= nodes; k++)); do
    local dir=$base/node-$k
    mkdir -p "$dir/data" "$dir/logs" "$dir/tmp"
    cp -R "$DIST/config" "$dir/config"
    # The JVM's own files in the node's folder: 9.0 names them relative to the distribution
    # (`logs/gc.log`, `data`), which the nodes' user may not write to.
    sed -i -e "s|file=logs/gc.log|file=$dir/logs/gc.log|; s|file=gc.log|file=$dir/logs/gc.log|" \
      -e "s|^-XX:ErrorFile=.*|-XX:ErrorFile=$dir/logs/hs_err_pid%p.log|" \
      -e "s|^-XX:HeapDumpPath=.*|-XX:HeapDumpPath=$dir/data|" "$dir/config/jvm.options"
    # Security off before the first start: otherwise Elasticsearch sets up TLS by itself.
    {
      echo "cluster.name: $cluster_name"
      echo "node.name: imr-es-$k"
      echo "network.host: 127.0.0.1"
      echo "http.port: ${http[k]}"
      echo "transport.port: ${transport[k]}"
      echo "path.data: $(yaml_quote "$dir/data")"
      echo "path.logs: $(yaml_quote "$dir/logs")"
      if [ "$nodes" -eq 1 ]; then
        echo "discovery.type: single-node"
      else
        echo "discovery.seed_hosts: [$seeds]"
        echo "cluster.initial_master_nodes: [$masters]"
      fi
      echo "xpack.security.enabled: false"
      echo "cluster.routing.allocation.disk.threshold_enabled: false"
    } >"$dir/config/elasticsearch.yml"
    if is_root; then chown -R "$ES_USER:" "$dir"; fi
    if [ -n "$external" ]; then ln -s "$dir" "$RUN_DIR/node-$k"; fi
  done

  local -a all=()
  for ((k = 1; k <= nodes; k++)); do all+=("$k"); done
  local as_user=""
  if is_root; then as_user=", as user $ES_USER"; fi
  say "starting Elasticsearch $VERSION: $nodes node(s), HTTP ${http[*]}, transport ${transport[*]}, heap $HEAP each, Java $JAVA_DIR$as_user${external:+, node folders in $external}"
  for k in "${all[@]}"; do launch_node "$k"; done
  if ! wait_health "${http[1]}" "$nodes" "${all[@]}"; then
    stop_nodes "${all[@]}"
    # Another start took a port between our choice and the node's bind: choose again, twice.
    local attempt=${IMR_SEARCH_ES_ATTEMPT:-1}
    if [ "$attempt" -lt 3 ] && bind_failed "${all[@]}"; then
      say "a port was taken meanwhile; choosing ports again"
      IMR_SEARCH_ES_ATTEMPT=$((attempt + 1)) exec bash "$0" "${ALL_ARGS[@]}"
    fi
    show_log "$FAILED_NODE"
    exit 1
  fi
  url_of 1 >"$RUN_DIR/url"
  say "Elasticsearch $VERSION is up ($nodes node(s)); logs in $base/node-*/logs; stop: $PROG stop${OPT_DIR:+ --dir $RUN_DIR}"
  url_of 1
}

cmd_stop() {
  local nodes k dir
  nodes=$(recorded_nodes)
  if [ "$nodes" -eq 0 ]; then
    say "no Elasticsearch recorded in $RUN_DIR"
    return 0
  fi
  local -a all=()
  for ((k = 1; k <= nodes; k++)); do all+=("$k"); done
  stop_nodes "${all[@]}"
  for k in "${all[@]}"; do
    if dir=$(node_dir "$k"); then rm -rf "$dir/data" "$dir/tmp"; fi
  done
  rm -f "$RUN_DIR/url"
  say "stopped ${STOPPED} node(s) of $RUN_DIR; data folders deleted"
}

cmd_status() {
  local nodes k pid running=0 port="" body status count
  nodes=$(recorded_nodes)
  if [ "$nodes" -eq 0 ]; then
    echo "no Elasticsearch recorded in $RUN_DIR"
    exit 3
  fi
  for ((k = 1; k <= nodes; k++)); do
    if pid=$(node_pid "$k"); then
      running=$((running + 1))
      [ -n "$port" ] || port=$(rec "node${k}_http")
      echo "imr-es-$k pid $pid http $(rec "node${k}_http") running"
    else
      echo "imr-es-$k pid - http $(rec "node${k}_http") not running"
    fi
  done
  if [ "$running" -eq 0 ]; then
    echo "cluster $(rec cluster_name): not running"
    exit 3
  fi
  if body=$(http_get "$port" "/_cluster/health" 5) && [ -n "$body" ]; then
    status=$(printf '%s' "$body" | json_field status)
    count=$(printf '%s' "$body" | json_field number_of_nodes)
    echo "cluster $(rec cluster_name): $status, $count of $nodes node(s), $(url_of 1) (Elasticsearch $(rec version))"
  else
    echo "cluster $(rec cluster_name): no answer on port $port"
    exit 1
  fi
  [ "$running" -eq "$nodes" ] || exit 1
}

check_node_arg() {
  local nodes
  nodes=$(recorded_nodes)
  [ "$nodes" -gt 0 ] || die "no Elasticsearch recorded in $RUN_DIR"
  [ "$NODE_ARG" -le "$nodes" ] || usage_error "node $NODE_ARG: the cluster of $RUN_DIR has $nodes node(s)"
}

cmd_pid() {
  check_node_arg
  node_pid "$NODE_ARG" || { echo "$PROG: imr-es-$NODE_ARG is not running" >&2; exit 3; }
}

cmd_start_node() {
  local k=$NODE_ARG nodes port i up=0
  check_node_arg
  nodes=$(recorded_nodes)
  port=$(rec "node${k}_http")
  if node_pid "$k" >/dev/null; then
    say "imr-es-$k is already running"
  else
    local used
    used=" $(listening_ports | tr '\n' ' ') "
    [[ "$used" != *" $port "* ]] || die "port $port of imr-es-$k is taken by another process"
    [[ "$used" != *" $(rec "node${k}_transport") "* ]] ||
      die "port $(rec "node${k}_transport") of imr-es-$k is taken by another process"
    ensure_user
    say "starting imr-es-$k (HTTP $port)"
    launch_node "$k"
  fi
  # It has joined when its cluster has every running node and it.
  for ((i = 1; i <= nodes; i++)); do
    if [ "$i" -eq "$k" ] || node_pid "$i" >/dev/null; then up=$((up + 1)); fi
  done
  if ! wait_health "$port" "$up" "$k"; then
    show_log "$k"
    stop_nodes "$k"
    exit 1
  fi
  say "imr-es-$k has joined the cluster ($up node(s))"
  url_of "$k"
}

case "$COMMAND" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  start-node) cmd_start_node ;;
  pid) cmd_pid ;;
  *) usage_error "unknown command '$COMMAND'" ;;
esac
