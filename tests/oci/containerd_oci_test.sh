#!/usr/bin/env bash
# Root-only: a containerd of the test's own (its own root, state and
# socket under a temp dir; stopped by its pid) and ctr drive jailwarden-oci
# through containerd-shim-runc-v2 (ctr run --runc-binary) on a busybox
# rootfs: run, exit codes, run -d, exec, ps, kill, delete.
# Usage: containerd_oci_test.sh PATH/TO/jailwarden-oci
# Exit 0 pass, 1 fail, 77 skip (a skip is a failure under CI=true).
set -u
runtime=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"
[[ $(id -u) == 0 ]] || skip "needs root (containerd runs the runtime as root)"
in_own_mount_namespace "$0" "$@"
for b in containerd ctr containerd-shim-runc-v2 busybox; do
  command -v $b >/dev/null || skip "$b not installed (scripts/install-deps.sh)"
done
tmp=$(mktemp -d /tmp/jw-ctrd-test.XXXXXX)
cat >"$tmp/config.toml" <<EOF2
version = 2
root = "$tmp/root"
state = "$tmp/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$tmp/c.sock"
EOF2
containerd --config "$tmp/config.toml" >"$tmp/log" 2>&1 &
cpid=$!
source "$(dirname "$0")/cgroup_cleanup.sh"
cleanup() {
  ctr --address "$tmp/c.sock" task kill -s SIGKILL t3 >/dev/null 2>&1
  ctr --address "$tmp/c.sock" task delete t3 >/dev/null 2>&1
  ctr --address "$tmp/c.sock" container delete t3 >/dev/null 2>&1
  kill "$cpid" 2>/dev/null
  wait "$cpid" 2>/dev/null
  remove_oci_parent_cgroups  # the runtime's shared parent cgroup, when empty
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do [[ -S $tmp/c.sock ]] && break; sleep 0.1; done
[[ -S $tmp/c.sock ]] || { echo "FAIL containerd did not start"; cat "$tmp/log"; exit 1; }
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/"{etc,proc,dev,sys,tmp}
cp "$(command -v busybox)" "$tmp/rootfs/bin/busybox"
for a in $("$tmp/rootfs/bin/busybox" --list); do
  [[ -e $tmp/rootfs/bin/$a ]] || ln -s busybox "$tmp/rootfs/bin/$a"
done
c() { timeout 60 ctr --address "$tmp/c.sock" "$@"; }
R=(--runc-binary "$runtime" --rootfs "$tmp/rootfs")
check "ctr run --rm echo" hi-from-ctr "$(c run --rm "${R[@]}" t1 /bin/echo hi-from-ctr 2>&1)"
c run --rm "${R[@]}" t2 /bin/sh -c 'exit 5' >/dev/null 2>&1
check "exit code passes through" 5 "$?"
c run -d "${R[@]}" t3 /bin/sleep 300 >/dev/null
check "run -d: RUNNING" RUNNING "$(c task ls | awk '$1 == "t3" { print $3 }')"
check "task exec" exec-ok "$(c task exec --exec-id e1 t3 /bin/echo exec-ok)"
pid=$(c task ls | awk '$1 == "t3" { print $2 }')
check "task ps lists pid 1's host pid" "$pid" "$(c task ps t3 | awk 'NR == 2 { print $1 }')"
c task kill -s SIGKILL t3
for _ in $(seq 50); do [[ $(c task ls | awk '$1 == "t3" { print $3 }') == STOPPED ]] && break; sleep 0.1; done
check "kill: STOPPED" STOPPED "$(c task ls | awk '$1 == "t3" { print $3 }')"
c task delete t3 >/dev/null 2>&1
c container delete t3
check "delete: no task" "" "$(c task ls | awk '$1 == "t3"')"
exit $fail
