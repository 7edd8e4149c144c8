#!/usr/bin/env bash
# Root-only: `jailwarden-oci events` on a running container with a memory
# and a pids limit (docs/oci.md, "events"):
#  - `events --stats` prints one JSON object in runc's form: type "stats",
#    the id, data.memory.usage.limit equal to the config's limit,
#    data.pids.limit equal to pids.limit, data.pids.current >= 1;
#  - data.cpu.usage.total grows between two calls while the container
#    burns CPU;
#  - `events --interval 200ms` streams such lines and ends by itself once
#    the container is killed;
#  - an unknown id gives the error text `state` gives; a bad interval is
#    refused by name; a stopped container is "not running".
# Everything lives under a temp dir (the runtime's --root too); the
# container's cgroups are made below this shell's own.
# Usage: oci_events_test.sh PATH/TO/jailwarden-oci
# Exit 0 pass, 1 fail, 77 skip (a skip is a failure under CI=true).
set -u
runtime=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"
# shellcheck source=runtime_env.sh
source "$(dirname "$0")/runtime_env.sh"
oci_runtime_env jw-oci-ev
busybox_rootfs "$tmp/b/rootfs" sh sleep
limit=$((48 * 1024 * 1024))
# A container that burns CPU in a loop of shell arithmetic, so its cpu
# total grows between two calls.
python3 - "$tmp/b/config.json" "$limit" <<'PY'
import json, sys
path, limit = sys.argv[1], int(sys.argv[2])
c = {"ociVersion": "1.0.2",
     "process": {"args": ["sh", "-c", "i=0; while :; do i=$((i+1)); done"], "cwd": "/",
                 "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}},
     "root": {"path": "rootfs"},
     "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
     "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}],
               "resources": {"memory": {"limit": limit}, "pids": {"limit": 17}}}}
json.dump(c, open(path, "w"))
PY
# get FILE PATH...: a field of a JSON document by its keys ("" if absent).
get() {
  python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    d = d.get(k, "") if isinstance(d, dict) else ""
print(d)' "$@" 2>/dev/null
}

jw create --bundle "$tmp/b" c1 </dev/null >/dev/null 2>"$tmp/c1.err" || {
  echo "FAIL create: $(cat "$tmp/c1.err")"; exit 1; }
jw start c1 || { echo "FAIL start"; exit 1; }

jw events --stats c1 >"$tmp/s1.json" 2>"$tmp/s1.err"
check "events --stats exits 0" 0 "$?"
check "one line" 1 "$(wc -l <"$tmp/s1.json")"
if python3 -m json.tool "$tmp/s1.json" >/dev/null 2>&1; then echo "ok   JSON parses"
else echo "FAIL JSON does not parse: $(cat "$tmp/s1.json" "$tmp/s1.err")"; fail=1; fi
check "type" stats "$(get "$tmp/s1.json" type)"
check "id" c1 "$(get "$tmp/s1.json" id)"
check "memory.usage.limit = the config's limit" "$limit" \
  "$(get "$tmp/s1.json" data memory usage limit)"
check "pids.limit = the config's pids.limit" 17 "$(get "$tmp/s1.json" data pids limit)"
cur=$(get "$tmp/s1.json" data pids current)
if [[ $cur =~ ^[0-9]+$ ]] && (( cur >= 1 )); then echo "ok   pids.current $cur >= 1"
else echo "FAIL pids.current: '$cur'"; fail=1; fi
usage=$(get "$tmp/s1.json" data memory usage usage)
if [[ $usage =~ ^[0-9]+$ ]] && (( usage > 0 && usage <= limit )); then
  echo "ok   memory.usage.usage $usage in (0, limit]"
else echo "FAIL memory.usage.usage: '$usage'"; fail=1; fi
t1=$(get "$tmp/s1.json" data cpu usage total)
# The loop burns CPU: wait (at most 10 s) until the total has grown.
grown=""
for _ in $(seq 50); do
  sleep 0.2
  jw events --stats c1 >"$tmp/s2.json" 2>/dev/null
  t2=$(get "$tmp/s2.json" data cpu usage total)
  if [[ $t1 =~ ^[0-9]+$ && $t2 =~ ^[0-9]+$ ]] && (( t2 > t1 )); then grown=1; break; fi
done
if [[ -n $grown ]]; then echo "ok   cpu.usage.total grows ($t1 -> $t2 ns)"
else echo "FAIL cpu.usage.total did not grow: '$t1' -> '${t2:-}'"; fail=1; fi
contains "cpu.usage has user and kernel" '"user"' "$(cat "$tmp/s2.json")"
contains "memory.raw holds memory.stat" '"raw"' "$(cat "$tmp/s2.json")"

# Errors: the unknown id as `state` words it; a bad interval by name.
state_err=$(jw state nosuch 2>&1 >/dev/null)
events_err=$(jw events --stats nosuch 2>&1 >/dev/null)
check "unknown id exits 1" 1 "$(jw events --stats nosuch >/dev/null 2>&1; echo $?)"
check "unknown id: the error text of state" "$state_err" "$events_err"
contains "bad interval refused" "--interval 'soon'" \
  "$(jw events --interval soon c1 2>&1 >/dev/null)"

# Streaming: lines every 200 ms, ending by itself once the container stops.
timeout 20 "$runtime" --root "$root" events --interval 200ms c1 >"$tmp/stream" 2>&1 &
streamer=$!
for _ in $(seq 50); do (( $(wc -l <"$tmp/stream") >= 3 )) && break; sleep 0.1; done
lines=$(wc -l <"$tmp/stream")
if (( lines >= 3 )); then echo "ok   stream gives lines ($lines)"
else echo "FAIL stream gave $lines lines"; fail=1; fi
jw kill c1 KILL
wait "$streamer"
check "stream ends with the container (exit 0, not timeout's 124)" 0 "$?"
bad=$(python3 -c 'import json,sys
n=0
for l in open(sys.argv[1]):
    e=json.loads(l); assert e["type"]=="stats" and e["id"]=="c1"; n+=1
print("ok" if n else "empty")' "$tmp/stream" 2>&1)
check "every streamed line is a stats event" ok "$bad"
contains "stopped container: not running" "is not running" \
  "$(jw events --stats c1 2>&1 >/dev/null)"
jw delete --force c1
exit $fail
