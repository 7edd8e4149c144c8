#!/usr/bin/env bash
# Root-only: `jailwarden-oci run` in the foreground, as runc's `run`: one
# process that creates, starts, waits for the container's process and
# deletes the container (src/oci/run.h):
#  - the process's output and exit status pass through, 128+N for a signal;
#  - nothing is left after it: no record, no cgroup, no process;
#  - SIGTERM to the runtime reaches the container's process (a trap in it
#    decides the exit status), and the runtime still deletes;
#  - a bad config.json fails with the file named and leaves nothing;
#  - --detach keeps create + start: the container stays, running.
# Usage: oci_run_test.sh PATH/TO/jailwarden-oci
# Exit 0 pass, 1 fail, 77 skip (a skip is a failure under CI=true).
set -u
runtime=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"
# shellcheck source=runtime_env.sh
source "$(dirname "$0")/runtime_env.sh"
oci_runtime_env jw-oci-run
busybox_rootfs "$tmp/b/rootfs" sh sleep echo true kill
config() {  # config ARGS_JSON: the bundle's config.json
  python3 - "$tmp/b/config.json" "$1" <<'PY'
import json, sys
c = {"ociVersion": "1.0.2",
     "process": {"args": json.loads(sys.argv[2]), "cwd": "/", "env": ["PATH=/bin"],
                 "user": {"uid": 0, "gid": 0}},
     "root": {"path": "rootfs"},
     "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
     "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}]}}
json.dump(c, open(sys.argv[1], "w"))
PY
}
# The container's cgroup directories, below this shell's in every hierarchy.
cgroups_of() {
  local _ ctrls path c
  while IFS=: read -r _ ctrls path; do
    ctrls=${ctrls#name=}
    for c in unified ${ctrls//,/ }; do
      [[ -d /sys/fs/cgroup/$c$path/jailwarden-oci/$1 ]] && echo "/sys/fs/cgroup/$c$path/jailwarden-oci/$1"
    done
    [[ -d /sys/fs/cgroup$path/jailwarden-oci/$1 ]] && echo "/sys/fs/cgroup$path/jailwarden-oci/$1"
  done </proc/self/cgroup
  return 0
}

config '["sh", "-c", "echo out-of-run; exit 7"]'
out=$(jw run --bundle "$tmp/b" r1 2>&1); rc=$?
check "run prints the process's output" out-of-run "$out"
check "run exits with the process's status" 7 "$rc"
check "run leaves no record" "" "$(ls "$root")"
check "run leaves no cgroup" "" "$(cgroups_of r1)"

# Killed from the host (inside, pid 1 ignores even SIGKILL): the
# container's process is run's child.
config '["sleep", "30"]'
"$runtime" --root "$root" run --bundle "$tmp/b" r2 >/dev/null 2>&1 &
rpid=$!
child=""
for _ in $(seq 200); do
  child=$(cat "/proc/$rpid/task/$rpid/children" 2>/dev/null)
  [[ -n $child && $(readlink "/proc/${child// /}/exe") == */busybox ]] && break
  sleep 0.05
done
kill -KILL ${child// /}
wait "$rpid"
check "a process killed by SIGKILL: 128+9" 137 "$?"

# SIGTERM to the runtime: the shell in the container (pid 1 there, so
# only a signal it handles reaches it) exits 3 from its trap.
config '["sh", "-c", "trap \"exit 3\" TERM; echo ready; while :; do sleep 0.05; done"]'
"$runtime" --root "$root" run --bundle "$tmp/b" r3 >"$tmp/r3.out" 2>&1 &
rpid=$!
for _ in $(seq 200); do [[ -s $tmp/r3.out ]] && break; sleep 0.05; done
check "the process runs" ready "$(cat "$tmp/r3.out")"
kill -TERM "$rpid"
wait "$rpid"
check "SIGTERM forwarded: the trap's exit status" 3 "$?"
check "after SIGTERM no record is left" "" "$(ls "$root")"
check "after SIGTERM no cgroup is left" "" "$(cgroups_of r3)"

echo '{"ociVersion": "1.0.2", "process": {"args": ["true"], "cwd": "/"}, "root": {"path": "rootfs"}, "linux": {"bogus": 1}}' >"$tmp/b/config.json"
err=$(jw run --bundle "$tmp/b" r4 2>&1); rc=$?
check "a bad config.json fails run" 1 "$rc"
contains "the error names the file" "$tmp/b/config.json" "$err"
check "a failed run leaves no record" "" "$(ls "$root")"
check "a failed run leaves no cgroup" "" "$(cgroups_of r4)"

config '["sleep", "30"]'
jw run -d --bundle "$tmp/b" r5
check "run --detach returns at once" 0 "$?"
check "run --detach leaves it running" running \
  "$(jw state r5 | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
jw delete --force r5
check "delete --force removes it" "" "$(ls "$root")"
exit $fail
