#!/usr/bin/env bash
# Root-only: the daemon-visibility test with podman as the client
# (docs/oci.md, "Daemon visibility" and "Names"): with `jailwarden serve`
# running,
#  - `podman run -d --name NAME --memory 64m --pids-limit 20` appears on
#    /metrics under podman's name (label name=NAME: the runtime takes it
#    from conmon's --name, podman 4.3 puts it in no annotation) with its
#    usage and both limits, and in `jailwarden list`;
#  - a podman name that is no valid jail name ("a.b": '.') is shown under
#    the container's id, and the daemon says why; so is a later container
#    whose annotation org.jailwarden.name asks for a name already shown;
#  - after `podman rm -f` the series vanish.
# podman runs the runtime through a wrapper that sets JAILWARDEN_OCI_ROOT
# (podman as root passes no --root to the runtime, and conmon does not
# hand its environment on), the root the daemon reads too. Everything
# podman, the runtime and the daemon make lives under a temp dir; the
# containers' cgroups are made below this shell's own.
# Usage: oci_podman_daemon_test.sh PATH/TO/jailwarden-oci PATH/TO/jailwarden
# Exit 0 pass, 1 fail, 77 skip (a skip is a failure under CI=true).
set -u
runtime=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
jailwarden=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"
[[ $(id -u) == 0 ]] || skip "needs root (podman runs jailwarden-oci as root)"
in_own_mount_namespace "$0" "$@"
for b in podman conmon busybox python3 curl ss; do
  command -v $b >/dev/null || skip "$b not installed (scripts/install-deps.sh)"
done
tmp=$(mktemp -d /tmp/jw-oci-pd.XXXXXX)
export CONTAINERS_CONF=/dev/null
root=$tmp/root
name=jw-pd-$$
daemon=""
mkdir -p "$tmp/tmp" "$tmp/state"
cat >"$tmp/runtime.sh" <<RT
#!/bin/sh
JAILWARDEN_OCI_ROOT=$root exec $runtime "\$@"
RT
chmod +x "$tmp/runtime.sh"
pm() {
  timeout 120 podman --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file --tmpdir "$tmp/tmp" \
    --runtime "$tmp/runtime.sh" "$@"
}
source "$(dirname "$0")/cgroup_cleanup.sh"
cleanup() {
  pm rm -a -f -t 0 >/dev/null 2>&1
  for c in $(ls "$root" 2>/dev/null); do
    JAILWARDEN_OCI_ROOT=$root timeout 60 "$runtime" delete --force "$c" >/dev/null 2>&1
  done
  if [[ -n $daemon ]]; then kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; fi
  remove_oci_parent_cgroups
  rm -rf "$tmp"
}
trap cleanup EXIT
rootfs=$tmp/rootfs
mkdir -p "$rootfs/bin" "$rootfs/"{etc,proc,dev,sys,tmp}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in sh sleep true; do ln -s busybox "$rootfs/bin/$a"; done

# The daemon: no jails, its own state dir, socket and loopback port; it
# reads the runtime's root from JAILWARDEN_OCI_ROOT like the runtime.
export JAILWARDEN_OCI_ROOT=$root
source "$(dirname "$0")/serve_daemon.sh"
start_daemon || exit 1

O=(--cgroups=no-conmon --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none)
id=$(pm run -d --name "$name" "${O[@]}" --memory 64m --pids-limit 20 --rootfs "$rootfs" \
  /bin/sleep 300 2>"$tmp/run.err") || { echo "FAIL podman run -d: $(cat "$tmp/run.err")"; exit 1; }
check "podman run -d: running" running "$(pm inspect -f '{{.State.Status}}' "$name")"
check "the record carries podman's name" "$name" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("name"))' "$root/$id/state.json")"
expect_series "$name" 67108864 20 "--memory 64m, --pids-limit 20, under podman's name"
check "no series under the id" no "$(grep -q "name=\"$id\"" <<<"$m" && echo yes || echo no)"
listed() { cli list --names 2>/dev/null | grep -qx "$name"; }
until_ok 10 listed
check "jailwarden list shows podman's name" yes "$(listed && echo yes || echo no)"

# A podman name jailwarden cannot use: the id instead, and why.
id2=$(pm run -d --name a.b "${O[@]}" --rootfs "$rootfs" /bin/sleep 300 2>"$tmp/run2.err") ||
  { echo "FAIL podman run -d --name a.b: $(cat "$tmp/run2.err")"; fail=1; }
by_id() { metrics | grep -q "^jail_memoryuse_bytes{name=\"$id2\"} [0-9]"; }
if until_ok 20 by_id; then echo "ok   an invalid podman name: shown under the id"
else echo "FAIL container a.b ($id2) never appeared under its id"; fail=1; fi
contains "an invalid podman name: the daemon says why" "name 'a.b' not used" "$(cat "$tmp/daemon.err")"

# A later container asking for the same name (annotation
# org.jailwarden.name, which wins over podman's): the older keeps it, the
# later is shown under its id, and the daemon says why.
id3=$(pm run -d --name jw-pd-later-$$ --annotation "org.jailwarden.name=$name" "${O[@]}" \
  --rootfs "$rootfs" /bin/sleep 300 2>"$tmp/run3.err") ||
  { echo "FAIL podman run -d --annotation: $(cat "$tmp/run3.err")"; fail=1; }
check "the annotation is recorded as the name" "$name" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("name"))' "$root/$id3/state.json")"
by_id3() { metrics | grep -q "^jail_memoryuse_bytes{name=\"$id3\"} [0-9]"; }
if until_ok 20 by_id3; then echo "ok   a name taken by an older container: the later one under its id"
else echo "FAIL container $id3 never appeared under its id"; fail=1; fi
contains "the name still names the older container" \
  "jailwarden_jail_limit_bytes{name=\"$name\",resource=\"memoryuse\",action=\"deny\",per=\"jail\"} 67108864" "$(metrics)"
contains "a taken name: the daemon says why" "name '$name' not used (taken by another container)" \
  "$(cat "$tmp/daemon.err")"

# podman rm -f: the series vanish.
pm rm -f -t 0 "$name" "$id2" "$id3" >/dev/null 2>&1
check "podman rm -f: the record is gone" no "$([[ -e $root/$id ]] && echo yes || echo no)"
gone() { ! metrics | grep -q "name=\"$name\"\|name=\"$id2\"\|name=\"$id3\""; }
if until_ok 20 gone; then echo "ok   series gone after podman rm -f"
else echo "FAIL series still there: $(metrics | grep "name=\"$name\"" | head -3)"; fail=1; fi
kill -0 "$daemon" 2>/dev/null
check "daemon alive" 0 "$?"
exit $fail
