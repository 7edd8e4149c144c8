# Sourced by the OCI daemon tests: a `jailwarden serve` of the test's own.
# start_daemon: with no jails, its state dir, API socket and token under
# $tmp, listening on a free loopback port ($port); its pid in $daemon (the
# test's cleanup ends it), its stdout/stderr in $tmp/daemon.{out,err}. It
# reads the runtime root from JAILWARDEN_OCI_ROOT (exported by the test).
# Then metrics (GET /metrics), cli ARGS (the jailwarden CLI against it)
# and until_ok DEADLINE_S CMD... (polls CMD every 0.1 s until it succeeds).
# Needs $tmp, $jailwarden; returns 1 (saying why) when it does not answer.
start_daemon() {
  port=""
  local used p
  used=$(ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 20000))
    grep -qx "$p" <<<"$used" || { port=$p; break; }
  done
  [[ -n $port ]] || { echo "FAIL no free port"; return 1; }
  mkdir -p "$tmp/state"
  cat >"$tmp/policy.yaml" <<YAML
server:
  listen: ["127.0.0.1:$port"]
  api_socket: $tmp/api.sock
  state_dir: $tmp/state
  token_file: $tmp/token
  sample_interval: 100ms
  slow_interval: 500ms
YAML
  "$jailwarden" serve --config "$tmp/policy.yaml" >"$tmp/daemon.out" 2>"$tmp/daemon.err" &
  daemon=$!
  until_ok 10 metrics >/dev/null && return 0
  echo "FAIL daemon does not answer"
  tail -20 "$tmp/daemon.err"
  return 1
}
metrics() { curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null; }
cli() { timeout 30 "$jailwarden" -c "$tmp/policy.yaml" "$@"; }
until_ok() {
  local end=$((SECONDS + $1)); shift
  while ((SECONDS < end)); do "$@" && return 0; sleep 0.1; done
  return 1
}
# expect_series NAME MEMORY_BYTES MAXPROC WHAT: polls (20 s) until the
# container's usage appears on /metrics under NAME, then checks its
# memoryuse and maxproc deny limits there and that jail_maxproc is
# sampled (WHAT names the limits in the messages); the page is left in $m.
expect_series() {
  local name=$1 bytes=$2 maxproc=$3 what=$4
  has_usage() { metrics | grep -q "^jail_memoryuse_bytes{name=\"$name\"} [0-9]"; }
  if until_ok 20 has_usage; then echo "ok   jail_memoryuse_bytes{name=\"$name\"} appears"
  else echo "FAIL jail_memoryuse_bytes of $name never appeared"; fail=1; fi
  m=$(metrics)
  contains "memoryuse limit ($what) on /metrics" \
    "jailwarden_jail_limit_bytes{name=\"$name\",resource=\"memoryuse\",action=\"deny\",per=\"jail\"} $bytes" "$m"
  contains "maxproc limit ($what) on /metrics" \
    "jailwarden_jail_limit{name=\"$name\",resource=\"maxproc\",action=\"deny\",per=\"jail\"} $maxproc" "$m"
  contains "jail_maxproc sampled" "jail_maxproc{name=\"$name\"}" "$m"
}
