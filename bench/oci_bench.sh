#!/usr/bin/env bash
# jailwarden-oci against Debian's runc, same run, same host (bench/README.md):
#  1. podman run --rm ... --rootfs DIR /bin/true with each runtime
#  2. create/start/wait/delete of one bundle with jailwarden-oci against
#     `runc run` of the same bundle
# Root only. Usage: oci_bench.sh PATH/TO/jailwarden-oci [RUNS] [all|bundle]
set -eu
jw=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
runs=${2:-20}
[[ $(id -u) == 0 ]] || { echo "needs root"; exit 77; }
tmp=$(mktemp -d /tmp/jw-oci-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/b/rootfs/bin" "$tmp/b/rootfs/"{proc,dev,sys,tmp,etc}
cp "$(command -v busybox)" "$tmp/b/rootfs/bin/"
for a in true sh; do ln -s busybox "$tmp/b/rootfs/bin/$a"; done
export CONTAINERS_CONF=/dev/null
pm() {
  podman --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file "$@"
}
O=(--cgroups=no-conmon --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none)
ms() { date +%s%N; }
avg() {  # avg LABEL CMD...: mean wall ms over $runs, after one warm-up
  local label=$1; shift
  "$@" >/dev/null 2>&1
  local t0 t1 total=0
  for _ in $(seq "$runs"); do
    t0=$(ms); "$@" >/dev/null 2>&1; t1=$(ms)
    total=$((total + (t1 - t0) / 1000))
  done
  printf '%-46s %8.1f ms\n' "$label" "$(echo "$total / $runs / 1000" | bc -l)"
}
only=${3:-all}
if [[ $only == all ]]; then
avg "podman run --rm /bin/true, jailwarden-oci" \
  pm --runtime "$jw" run --rm "${O[@]}" --rootfs "$tmp/b/rootfs" /bin/true
avg "podman run --rm /bin/true, runc" \
  pm --runtime /usr/bin/runc run --rm "${O[@]}" --rootfs "$tmp/b/rootfs" /bin/true
fi
(cd "$tmp/b" && runc spec && sed -i 's/"sh"/"true"/; s/"terminal": true/"terminal": false/' config.json)
# Waits for the container's process to exit: gone or a zombie (its reaper
# here is whatever subreaper or pid 1 adopts it, as for runc's detached
# containers; runc run waits for its own child instead).
jw_bundle() {
  "$jw" --root "$tmp/jwroot" create --bundle "$tmp/b" --pid-file "$tmp/pid" bench
  "$jw" --root "$tmp/jwroot" start bench
  local pid; pid=$(cat "$tmp/pid")
  for _ in $(seq 2000); do
    [[ -r /proc/$pid/stat ]] || break
    [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
    sleep 0.001
  done
  "$jw" --root "$tmp/jwroot" delete bench
}
avg "bundle create+start+delete, jailwarden-oci" jw_bundle
avg "bundle: runc run (create, start, wait, delete)" runc --root "$tmp/runcroot" run --bundle "$tmp/b" bench
