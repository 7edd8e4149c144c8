#!/usr/bin/env bash
# Root-only: a running `jailwarden serve` shows the containers
# `jailwarden-oci` makes, read-only (docs/oci.md, "Daemon visibility"):
#  - a container created and started with a memory and a pids limit
#    appears on /metrics (jail_memoryuse_bytes{name=ID} and its limits
#    jailwarden_jail_limit_bytes{name=ID,resource="memoryuse"} and
#    jailwarden_jail_limit{name=ID,resource="maxproc"}), in `jailwarden
#    list` (TYPE oci) and GET /v1/jails (the "oci" marker, its limits);
#  - stop, destroy, set, rctl -a on it are refused naming why, and leave
#    it running with its kernel limit unchanged;
#  - a half-written, forged or untrusted record (bad JSON, a cgroup path
#    outside /sys/fs/cgroup, a symlinked state.json, a `creating` record)
#    is not shown and does not disturb the daemon;
#  - after `delete` its series and its entry vanish.
# Everything lives under a temp dir: the daemon's state, its socket, the
# runtime's root (JAILWARDEN_OCI_ROOT, read by both). The container's
# cgroups are made below this shell's own.
# Usage: oci_daemon_test.sh PATH/TO/jailwarden-oci PATH/TO/jailwarden
# Exit 0 pass, 1 fail, 77 skip (a skip is a failure under CI=true).
set -u
runtime=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
jailwarden=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"
[[ $(id -u) == 0 ]] || skip "needs root (the runtime makes namespaces and cgroups)"
for b in busybox python3 curl ss; do
  command -v $b >/dev/null || skip "$b not installed (scripts/install-deps.sh)"
done
tmp=$(mktemp -d /tmp/jw-oci-dm.XXXXXX)
export JAILWARDEN_OCI_ROOT=$tmp/root
root=$JAILWARDEN_OCI_ROOT
id=oci-dm-$$
daemon=""
jw() { timeout 60 "$runtime" "$@"; }
source "$(dirname "$0")/cgroup_cleanup.sh"
cleanup() {
  # The planted records first: never handed to the runtime's delete.
  rm -rf "$root/bad-json" "$root/forged" "$root/symlinked" "$root/half"
  for c in $(ls "$root" 2>/dev/null); do jw delete --force "$c" >/dev/null 2>&1; done
  if [[ -n $daemon ]]; then kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; fi
  remove_oci_parent_cgroups
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/b/rootfs/bin" "$tmp/b/rootfs/"{proc,dev,sys,tmp} "$tmp/state"
cp "$(command -v busybox)" "$tmp/b/rootfs/bin/busybox"
for a in sh sleep; do ln -s busybox "$tmp/b/rootfs/bin/$a"; done
limit=$((64 * 1024 * 1024))
python3 - "$tmp/b/config.json" "$limit" <<'PY'
import json, sys
path, limit = sys.argv[1], int(sys.argv[2])
c = {"ociVersion": "1.0.2",
     "process": {"args": ["sleep", "300"], "cwd": "/", "env": ["PATH=/bin"],
                 "user": {"uid": 0, "gid": 0}},
     "root": {"path": "rootfs"},
     "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
     "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}],
               "resources": {"memory": {"limit": limit}, "pids": {"limit": 20}}}}
json.dump(c, open(path, "w"))
PY

# The daemon: no jails, its own state dir, socket and loopback port.
source "$(dirname "$0")/serve_daemon.sh"
start_daemon || exit 1

# Records the daemon must not show, written before the container exists.
mkdir -p "$root/bad-json" "$root/forged" "$root/symlinked" "$root/half"
chmod 700 "$root" "$root"/*
echo '{"id": "bad-json", "creating": fal' >"$root/bad-json/state.json"
# (Harmless even if handed to a delete: no pid, directories that do not
# exist.)
printf '{"id":"forged","creating":false,"pid":-1,"backend_state":{"cgroup.unified":"%s/nosuch"}}' \
  "$tmp" >"$root/forged/state.json"
printf '{"id":"symlinked","creating":false,"pid":-1,"backend_state":{"cgroup.unified":"/sys/fs/cgroup/jw-oci-test-nosuch"}}' \
  >"$tmp/elsewhere.json"
ln -s "$tmp/elsewhere.json" "$root/symlinked/state.json"
printf '{"id":"half","creating":true,"pid":-1}' >"$root/half/state.json"

jw create --bundle "$tmp/b" "$id" </dev/null >/dev/null 2>"$tmp/create.err" || {
  echo "FAIL create: $(cat "$tmp/create.err")"; exit 1; }
jw start "$id" || { echo "FAIL start"; exit 1; }

expect_series "$id" "$limit" 20 "from config.json"
for bad in bad-json forged symlinked half; do
  if grep -q "name=\"$bad\"" <<<"$m"; then echo "FAIL record $bad shown"; fail=1
  else echo "ok   record $bad not shown"; fi
done
contains "the forged record is reported" "forged" "$(cat "$tmp/daemon.err")"

# The table follows the runtime at each pass (once a second).
listed_running() { cli list -H | grep -q "	running	"; }
until_ok 10 listed_running
list=$(cli list -H)
contains "list: the container, running, TYPE oci" "$(printf -- '-\t%s\trunning\t%s/rootfs\t-\toci' "$id" "$tmp/b")" "$list"
j=$(cli list --json)
check "GET /v1/jails: oci marker" "$root True" "$(python3 -c 'import json,sys
d = json.loads(sys.argv[1])
for x in (d.get("jails", []) if isinstance(d, dict) else d):
    if x["name"] == sys.argv[2]: print(x["oci"]["root"], x["oci"]["read_only"])' "$j" "$id")"
contains "GET /v1/jails: its limits" "jail:$id:memoryuse:deny=$limit" "$j"

# Read-only: every change is refused, naming why; nothing changes.
for verb in stop destroy restart; do
  out=$(cli "$verb" "$id" 2>&1); rc=$?
  check "$verb refused (exit != 0)" yes "$([[ $rc != 0 ]] && echo yes || echo "no: $out")"
  contains "$verb: says why" "is an OCI container" "$out"
done
out=$(cli set "$id" hostname=x 2>&1); rc=$?
check "set refused" yes "$([[ $rc != 0 ]] && echo yes || echo "no: $out")"
contains "set: says why" "is an OCI container" "$out"
out=$(cli rctl -a "jail:$id:memoryuse:deny=1G" 2>&1); rc=$?
check "rctl -a refused" yes "$([[ $rc != 0 ]] && echo yes || echo "no: $out")"
contains "rctl -a: says why" "is an OCI container" "$out"
check "still running after the refusals" '"running"' \
  "$(jw state "$id" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["status"]))')"
mem=$(python3 -c 'import json,sys
b = json.load(open(sys.argv[1]))["backend_state"]
import os
d = b.get("cgroup.memory") or b.get("cgroup.unified")
for f in ("memory.limit_in_bytes", "memory.max"):
    p = os.path.join(d, f)
    if os.path.exists(p): print(open(p).read().strip()); break' "$root/$id/state.json")
check "kernel memory limit unchanged" "$limit" "$mem"
kill -0 "$daemon" 2>/dev/null
check "daemon alive" 0 "$?"

# delete: the series and the entry vanish.
jw kill "$id" KILL
jw delete --force "$id" || { echo "FAIL delete"; fail=1; }
gone() { ! metrics | grep -q "name=\"$id\""; }
if until_ok 20 gone; then echo "ok   series gone after delete"
else echo "FAIL series of $id still there: $(metrics | grep "name=\"$id\"" | head -3)"; fail=1; fi
list=$(cli list --names)
if grep -qx "$id" <<<"$list"; then echo "FAIL list still shows $id"; fail=1
else echo "ok   list no longer shows it"; fi
exit $fail
