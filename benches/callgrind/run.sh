#!/usr/bin/env bash
# Instructions the server executes per request, counted by callgrind: exact and repeatable for the
# same binary and input, whatever else the machine is doing (wall-clock runs here spread ~5 %).
#
# usage: benches/callgrind/run.sh [label=]<llmkp binary>...
#   env: CALLGRIND_KINDS (default "chat chat-stream messages messages-stream"),
#   CALLGRIND_REQUESTS (default 200), CALLGRIND_KEEP=1 keeps each profile (path printed) for
#   callgrind_annotate, UPSTREAM_CHUNKED=1 sends stream events in separate writes.
# Prints one row per binary and path: instructions per request of `llmkp serve` (all its threads)
# for a Chat or Messages client on an OpenAI upstream, after 30 warm-up requests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kinds=${CALLGRIND_KINDS:-chat chat-stream messages messages-stream}
requests=${CALLGRIND_REQUESTS:-200}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
[ $# -gt 0 ] || { sed -n '5,10p' "$0" >&2; exit 2; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

measure() { # <binary> <kind>: prints instructions per request
  local binary=$1 kind=$2 dir upstream_port port upstream server
  dir=$(mktemp -d)
  upstream_port=$(free_port)
  port=$(free_port)
  python3 "$here/upstream.py" "$upstream_port" &
  upstream=$!
  env -i PATH="$PATH" HOME="$dir" LLMKP_HOME="$dir/state" LLMKP_HOST=127.0.0.1 LLMKP_PORT="$port" LOG_LEVEL=warn \
    OPENAI_API_BASE="http://127.0.0.1:$upstream_port/v1" OPENAI_API_KEY=bench-key-0001 PROXY_API_KEY=proxy-key \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/callgrind.out" "$binary" serve \
    >"$dir/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  python3 "$here/client.py" "$port" "$kind" 30
  callgrind_control --instr=on "$server" >/dev/null 2>&1
  python3 "$here/client.py" "$port" "$kind" "$requests"
  callgrind_control --dump "$server" >/dev/null 2>&1
  kill "$server" "$upstream" 2>/dev/null || true
  wait "$server" "$upstream" 2>/dev/null || true
  local total
  total=$(callgrind_annotate "$dir/callgrind.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  if [ "${CALLGRIND_KEEP:-}" = 1 ]; then
    echo "  profile: $dir/callgrind.out.1" >&2
  else
    rm -rf "$dir"
  fi
  echo $((total / requests))
}

printf '%-16s %-16s %14s\n' build path instr/request
for spec in "$@"; do
  label=${spec%%=*}
  binary=${spec#*=}
  [ "$label" = "$spec" ] && label=$(basename "$binary")
  for kind in $kinds; do
    printf '%-16s %-16s %14s\n' "$label" "$kind" "$(measure "$binary" "$kind")"
  done
done
