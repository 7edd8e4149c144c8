#!/usr/bin/env bash
# jailwarden-oci against Debian's runc, same run, same host (bench/README.md):
#  1. podman run --rm ... --rootfs DIR /bin/true with each runtime
#  2. one bundle, /bin/true: `jailwarden-oci run` against `runc run` (each
#     one process: create, start, wait for the process, delete), and the
#     three processes create / start / delete that podman and containerd
#     call, with the same three of runc.
# The rows of one group are interleaved (one run of each in turn) so that a
# change of the shared host's load weighs on all of them alike.
# Root only. Usage: oci_bench.sh PATH/TO/jailwarden-oci [RUNS] [all|bundle]
#   [BASELINE/jailwarden-oci]  (a second build, e.g. main's, as an extra row)
set -eu
jw=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
runs=${2:-20}
only=${3:-all}
base=${4:-}
[[ $(id -u) == 0 ]] || { echo "needs root"; exit 77; }
command -v runc >/dev/null || { echo "needs runc"; exit 77; }
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
# bench LABEL=FUNCTION...: mean wall ms of each over $runs, after one
# warm-up of each, interleaved. A failing run stops the bench.
bench() {
  local -a labels=() fns=() total=()
  local spec i t0
  for spec in "$@"; do labels+=("${spec%%=*}"); fns+=("${spec#*=}"); total+=(0); done
  for i in "${!fns[@]}"; do "${fns[$i]}" >/dev/null 2>&1; done
  for _ in $(seq "$runs"); do
    for i in "${!fns[@]}"; do
      t0=$(ms)
      "${fns[$i]}" >/dev/null 2>&1 || { echo "${labels[$i]}: failed" >&2; exit 1; }
      total[$i]=$((total[i] + ($(ms) - t0) / 1000))
    done
  done
  for i in "${!fns[@]}"; do
    printf '%-52s %8.1f ms\n' "${labels[$i]}" "$(echo "${total[$i]} / $runs / 1000" | bc -l)"
  done
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $only == all ]]; then
  pm_jw() { pm --runtime "$jw" run --rm "${O[@]}" --rootfs "$tmp/b/rootfs" /bin/true; }
  pm_runc() { pm --runtime /usr/bin/runc run --rm "${O[@]}" --rootfs "$tmp/b/rootfs" /bin/true; }
  pm_rows=("podman run --rm /bin/true, jailwarden-oci=pm_jw" "podman run --rm /bin/true, runc=pm_runc")
  if [[ -n $base ]]; then
    base_abs=$(cd "$(dirname "$base")" && pwd)/$(basename "$base")
    pm_base() { pm --runtime "$base_abs" run --rm "${O[@]}" --rootfs "$tmp/b/rootfs" /bin/true; }
    pm_rows+=("podman run --rm /bin/true, baseline=pm_base")
  fi
  bench "${pm_rows[@]}"
fi
(cd "$tmp/b" && runc spec && sed -i 's/"sh"/"true"/; s/"terminal": true/"terminal": false/' config.json)
jw_run() { "$jw" --root "$tmp/jwroot" run --bundle "$tmp/b" bench; }
runc_run() { runc --root "$tmp/runcroot" run --bundle "$tmp/b" bench; }
# create, start, delete: the container's process is a child of the exited
# create, so wait for it to be gone or a zombie (adopted by whatever
# subreaper or pid 1 reaps it), for both runtimes alike.
wait_gone() {
  local pid; pid=$(cat "$tmp/pid")
  for _ in $(seq 2000); do
    [[ -r /proc/$pid/stat ]] || return 0
    [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
    sleep 0.001
  done
}
three() {  # three RUNTIME ROOT
  "$1" --root "$2" create --bundle "$tmp/b" --pid-file "$tmp/pid" bench
  "$1" --root "$2" start bench
  wait_gone
  "$1" --root "$2" delete bench
}
jw_three() { three "$jw" "$tmp/jwroot"; }
runc_three() { three runc "$tmp/runcroot"; }
rows=("bundle: jailwarden-oci run=jw_run" "bundle: runc run=runc_run"
      "bundle: jailwarden-oci create, start, delete=jw_three"
      "bundle: runc create, start, delete=runc_three")
if [[ -n $base ]]; then
  base=$(cd "$(dirname "$base")" && pwd)/$(basename "$base")
  base_three() { three "$base" "$tmp/baseroot"; }
  rows+=("bundle: baseline create, start, delete=base_three")
fi
bench "${rows[@]}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
