#!/usr/bin/env bash
# Load test of the web app: `imr-search serve --production` on loopback, driven by wrk.
#
#   bench/load.sh DATA_DIR [SECONDS] [PORT]
#
# WORKERS server processes (default: one per core) of THREADS threads (default 2) serve the requests;
# CLIENTS (default "8 32") sets the concurrent clients of each run.
# DATA_DIR is an embedded index (e.g. the 100k-chunk one from bench/build_index.py). For 8 and
# then 32 concurrent clients, for SECONDS each (default 60), wrk requests a mix of what users do:
# hybrid, keyword and semantic searches (full pages and htmx partials), facet filters, the JSON
# API, letter pages (each with the similar cases htmx loads after it) and statistics. It prints
# requests/s, p50/p95/p99 latency and errors, and the CPU time the server's processes spent per
# request (a steadier figure than requests/s on a machine whose speed drifts).
# BACKEND=elasticsearch serves the same letters from Elasticsearch instead (ELASTICSEARCH_URL, and
# IMR_SEARCH_ES_INDEX for the alias, e.g. the index bench/side_by_side.py --keep loaded from
# DATA_DIR, which still supplies the letter ids of the URLs); THREADS then defaults to 8, serve's
# default on Elasticsearch.
# Needs wrk (Debian: apt-get install wrk).
set -euo pipefail
DATA_DIR=${1:?usage: bench/load.sh DATA_DIR [SECONDS] [PORT]}
SECONDS_EACH=${2:-60}
PORT=${3:-5055}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-$HERE/../.venv/bin/python}
[ -x "$PY" ] || PY=python
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

URLS=$(mktemp)
trap 'rm -f "$URLS" "$URLS.out"; [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true' EXIT
"$PY" "$HERE/load_urls.py" "$DATA_DIR" > "$URLS"
echo "$(wc -l < "$URLS") distinct URLs"

cd "$HERE/.."
WORKERS=${WORKERS:-$(getconf _NPROCESSORS_ONLN)}
BACKEND=${BACKEND:-embedded}
case $BACKEND in
  embedded) THREADS=${THREADS:-2} ;;  # the embedded store's default; 1 answers the most requests here (BENCHMARKS.md)
  elasticsearch)
    THREADS=${THREADS:-8}  # serve's default on Elasticsearch, whose requests wait on the network
    [ -n "${ELASTICSEARCH_URL:-}" ] || { echo "BACKEND=elasticsearch needs ELASTICSEARCH_URL" >&2; exit 2; } ;;
  *) echo "BACKEND must be embedded or elasticsearch, not '$BACKEND'" >&2; exit 2 ;;
esac
"$PY" -m indexer.cli --backend "$BACKEND" --data-dir "$DATA_DIR" serve --production --no-samples --port "$PORT" \
  --threads "$THREADS" --workers "$WORKERS" > /tmp/imr-load-server.log 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/healthz"; echo
# Warm up: every URL once per process (each loads the model, the columns and the vector graph).
for _ in $(seq 1 "$WORKERS"); do
  while read -r path; do
    case $path in
      "HX "*) curl -s -o /dev/null -H "HX-Request: true" "http://127.0.0.1:$PORT${path#HX }" ;;
      *) curl -s -o /dev/null "http://127.0.0.1:$PORT$path" ;;
    esac
  done < "$URLS"
done

# The interpreter's build matters here (BENCHMARKS.md, "The interpreter": about 13% of the CPU).
"$PY" -c "import platform, os, sys; print(f'machine: {os.cpu_count()} cores, Python {platform.python_version()} ({os.path.realpath(sys.base_prefix)}, {platform.python_build()[1]})')"
echo "server: $BACKEND back end, $WORKERS processes of $THREADS threads"
# CPU time (user + system, in clock ticks) of the server and every process under it.
server_ticks() {
  local total=0 pids=$SERVER next pid
  while [ -n "$pids" ]; do
    next=""
    for pid in $pids; do
      [ -r "/proc/$pid/stat" ] || continue
      set -- $(sed 's/.*) //' "/proc/$pid/stat")
      total=$((total + ${12} + ${13}))
      next="$next $(pgrep -P "$pid" | tr '\n' ' ')"
    done
    pids=$(echo $next)
  done
  echo "$total"
}
TICK=$(getconf CLK_TCK)
for clients in ${CLIENTS:-8 32}; do
  echo "== $clients concurrent clients, ${SECONDS_EACH}s"
  before=$(server_ticks)
  LOAD_URLS=$URLS wrk -t 2 -c "$clients" -d "${SECONDS_EACH}s" --timeout 10s \
    -s "$HERE/load.lua" "http://127.0.0.1:$PORT" > "$URLS.out"
  after=$(server_ticks)
  tail -n 1 "$URLS.out"
  requests=$(sed -n 's/^requests \([0-9]*\) .*/\1/p' "$URLS.out")
  awk -v t=$((after - before)) -v hz="$TICK" -v n="$requests" \
    'BEGIN { printf "server CPU per request: %.1f ms\n", t / hz * 1000 / n }'
done
