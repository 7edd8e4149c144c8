# Sourced (after checks.sh, with $runtime set) by the tests that drive
# jailwarden-oci by hand:
#   oci_runtime_env PREFIX  skips without root, busybox or python3; sets
#                           $tmp (a fresh /tmp/PREFIX.XXXXXX) and $root (the
#                           runtime's --root inside it); the EXIT trap runs
#                           extra_cleanup if the test defines it, deletes
#                           every container left, removes the runtime's
#                           parent cgroups once empty, then $tmp.
#   jw ARGS...              the runtime on $root, with a deadline.
#   busybox_rootfs DIR APPLET...  a busybox root with those applets.
# shellcheck source=cgroup_cleanup.sh
source "$(dirname "${BASH_SOURCE[0]}")/cgroup_cleanup.sh"

oci_runtime_env() {
  [[ $(id -u) == 0 ]] || skip "needs root (the runtime makes namespaces and cgroups)"
  local b
  for b in busybox python3; do
    command -v $b >/dev/null || skip "$b not installed (scripts/install-deps.sh)"
  done
  tmp=$(mktemp -d "/tmp/$1.XXXXXX")
  root=$tmp/root
  trap oci_runtime_cleanup EXIT
}

jw() { timeout 60 "$runtime" --root "$root" "$@"; }

oci_runtime_cleanup() {
  if declare -F extra_cleanup >/dev/null; then extra_cleanup; fi
  local id
  for id in $(ls "$root" 2>/dev/null); do jw delete --force "$id" >/dev/null 2>&1; done
  remove_oci_parent_cgroups
  rm -rf "$tmp"
}

busybox_rootfs() {
  local dir=$1 a
  shift
  mkdir -p "$dir/bin" "$dir/"{proc,dev,sys,tmp}
  cp "$(command -v busybox)" "$dir/bin/busybox"
  for a in "$@"; do ln -s busybox "$dir/bin/$a"; done
}
