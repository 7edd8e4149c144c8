# shellcheck shell=bash disable=SC2034,SC2154
# Sourced by unit_in_container.sh (hybrid cgroups) and
# unit_in_container_v2.sh (unified cgroup hierarchy only): a container this
# test makes, with Debian's systemd as its pid 1 (never the host's):
#   - root: an overlay with the host's / as its read-only lower layer and a
#     tmpfs (in the container's own mount namespace) as the upper layer;
#   - namespaces: pid, mount, uts, ipc, net (loopback only), cgroup; the
#     cgroups are a fresh subtree below this test's own cgroup, mounted as
#     `layout` says (see container_start);
#   - /proc/sys, /sys read-only, a private /dev: the container's systemd
#     cannot change a host sysctl, device or module.
# The caller sets `build` (the build directory) and `layout` (hybrid or
# unified) before sourcing; this file sets up the EXIT trap that removes
# the container, its cgroups and $tmp.
#
# Functions: skip, log, bad, c (run inside the container), poll, prop,
# container_build_deb, container_cgroups, container_start,
# container_install_deb. Exit codes: 0 pass, 1 fail, 77 skip (a failure
# under CI=true). Every wait is a poll with a deadline.

skip() {
  echo "SKIP: $1"
  if [[ ${CI:-} == true ]]; then echo "(CI=true: a skip is a failure)"; exit 1; fi
  exit 77
}
[[ $(id -u) == 0 ]] || skip "needs root (namespaces, cgroups, mounts)"
for tool in cpack unshare nsenter pivot_root /lib/systemd/systemd busybox findmnt; do
  command -v $tool >/dev/null || [[ -x $tool ]] || skip "$tool not found"
done
grep -qw overlay /proc/filesystems || skip "no overlay file system"
[[ $layout == hybrid || $layout == unified ]] || { echo "layout '$layout'?"; exit 1; }

tmp=$(mktemp -d /tmp/jw-systemd-test.XXXXXX)
tag=jw-systemd-test-$$
cgdirs=()
upid=""
cpid=""
fail=0

log() { echo "[$(date -u +%T)] $*"; }
bad() { echo "FAIL: $*"; fail=1; }

teardown() {
  set +e
  if [[ -n $cpid && -d /proc/$cpid ]]; then
    kill -KILL "$cpid"   # the container's pid 1: the kernel ends its pid namespace
  fi
  if [[ -n $upid ]]; then
    for _ in $(seq 100); do [[ -d /proc/$upid ]] || break; sleep 0.1; done
    wait "$upid" 2>/dev/null
  fi
  # Every mount was made in the container's mount namespace: gone with it.
  for d in "${cgdirs[@]}"; do
    for _ in $(seq 50); do
      [[ -d $d ]] || break
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
      [[ -d $d ]] && sleep 0.1
    done
    [[ -d $d ]] && echo "WARNING: cgroup $d left behind"
  done
  rm -rf "$tmp"
}
trap teardown EXIT
trap "exit 1" TERM INT HUP

# Inside the container, from the host: all its namespaces.
c() { nsenter -t "$cpid" -m -u -i -n -p -C -- "$@"; }
# poll DEADLINE_S CMD...: until CMD succeeds or the deadline passes.
poll() {
  local deadline=$(( $(date +%s) + $1 )); shift
  while ! "$@" >/dev/null 2>&1; do
    (( $(date +%s) >= deadline )) && return 1
    sleep 0.2
  done
}
prop() { c systemctl show -p "$1" --value jailwarden.service; }
# The policies of both tests run jails jwa and jwb.
# adopted MAINPID: the daemon with this pid logged adopting both.
adopted() {
  local j out
  out=$(c journalctl -q --no-pager -o cat _PID="$1")
  for j in jwa jwb; do grep -q "jail adopted.*$j" <<<"$out" || return 1; done
}
# ready_again OLD_MAINPID: active again, with a new main pid that said READY.
ready_again() {
  local m; m=$(prop MainPID)
  [[ $(prop ActiveState) == active && $m != 0 && $m != "$1" && $(prop StatusText) == ready* ]]
}

# The .deb, built from `build` into $tmp/deb; sets `deb`.
container_build_deb() {
  log "building the .deb"
  (cd "$build" && timeout 900 cpack -G DEB -B "$tmp/deb") >"$tmp/cpack.log" 2>&1 ||
    { cat "$tmp/cpack.log"; echo "FAIL: cpack"; exit 1; }
  deb=$(ls "$tmp"/deb/jailwarden_*.deb | head -1)
}

# A subtree below our own cgroup: in every hierarchy (hybrid), or in the
# unified hierarchy only (unified). Writes $tmp/hierarchies.
container_cgroups() {
  local target fstype options key="" own d
  : >"$tmp/hierarchies"
  while read -r target fstype options; do
    key=""
    if [[ $fstype == cgroup2 ]]; then
      own=$(sed -n 's/^0:://p' /proc/self/cgroup)
    else
      [[ $layout == hybrid ]] || continue
      key=$(tr ',' '\n' <<<"$options" | grep -E '^(name=.*|cpu|cpuacct|cpuset|memory|devices|freezer|blkio|pids|hugetlb|net_cls|net_prio|perf_event|rdma|misc)$' | paste -sd,)
      [[ -n $key ]] || continue
      own=$(awk -F: -v k="$key" '$2 == k {print $3}' /proc/self/cgroup)
    fi
    [[ -n $own ]] || continue
    d=$target${own%/}/$tag
    mkdir "$d" || { echo "FAIL: mkdir $d"; exit 1; }
    cgdirs+=("$d")
    if [[ -f $d/cpuset.cpus ]]; then
      cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"
      cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems"
    fi
    echo "$target $fstype $key" >>"$tmp/hierarchies"
  done < <(findmnt -rn -t cgroup,cgroup2 -o TARGET,FSTYPE,OPTIONS)
  if [[ $layout == unified ]] && ! grep -q ' cgroup2 ' "$tmp/hierarchies"; then
    skip "the host has no cgroup2 mount"
  fi
  log "test cgroups: ${cgdirs[*]}"
}

# The container's pid 1: mounts, then exec systemd; waits until it runs.
# hybrid: the hierarchies mounted where the host has them; unified: the
# cgroup2 subtree alone at /sys/fs/cgroup, so systemd runs in unified mode.
container_start() {
  mkdir -p "$tmp/merged" "$tmp/rw"
  local cgmounts
  if [[ $layout == unified ]]; then
    cgmounts='mount -t cgroup2 cgroup2 $m/sys/fs/cgroup'
  else
    cgmounts="mount -t tmpfs -o mode=0755 cgroup-root \$m/sys/fs/cgroup
while read -r target fstype key; do
  mkdir -p \$m\$target
  if [[ \$fstype == cgroup2 ]]; then mount -t cgroup2 cgroup2 \$m\$target
  elif [[ \$key == name=* ]]; then mount -t cgroup -o none,\$key cgroup \$m\$target
  else mount -t cgroup -o \$key cgroup \$m\$target; fi
done <$tmp/hierarchies"
  fi
  cat >"$tmp/stage1.sh" <<STAGE1
set -e
m=$tmp/merged
mount -t tmpfs -o mode=0755 jwtest-rw $tmp/rw
mkdir $tmp/rw/upper $tmp/rw/work
mount -t overlay jwtest-root -o lowerdir=/,upperdir=$tmp/rw/upper,workdir=$tmp/rw/work \$m
mount -t proc proc \$m/proc
for p in sys sysrq-trigger; do [[ -e \$m/proc/\$p ]] || continue; mount --bind \$m/proc/\$p \$m/proc/\$p; mount -o remount,bind,ro \$m/proc/\$p; done
mount -t sysfs -o ro sysfs \$m/sys
$cgmounts
mount -t tmpfs -o mode=0755,nosuid dev \$m/dev
for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
  set -- \$n; mknod -m 666 \$m/dev/\$1 c \$2 \$3
done
mkdir \$m/dev/pts \$m/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts \$m/dev/pts
ln -s pts/ptmx \$m/dev/ptmx
mount -t tmpfs -o mode=1777 shm \$m/dev/shm
mount -t tmpfs -o mode=0755 run \$m/run
mount -t tmpfs -o mode=1777 tmp \$m/tmp
# The host's jailwarden state (if any) is not the container's: fresh state
# and jail roots on tmpfs (an overlay jail root cannot sit on the overlay /).
mkdir -p \$m/var/lib/jailwarden \$m/var/lib/jwtest
mount -t tmpfs -o mode=0755 jw-state \$m/var/lib/jailwarden
mount -t tmpfs -o mode=0755 jw-roots \$m/var/lib/jwtest
# Only what the test needs starts: no timers, gettys, udev, sysctl,
# modules, time sync or network set-up in the container.
for u in systemd-timesyncd.service systemd-sysctl.service systemd-binfmt.service \
    proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
    systemd-modules-load.service kmod-static-nodes.service systemd-udevd.service \
    systemd-udev-trigger.service systemd-udev-settle.service systemd-udevd-control.socket \
    systemd-udevd-kernel.socket systemd-pstore.service systemd-random-seed.service \
    systemd-hwdb-update.service timers.target getty.target console-getty.service \
    systemd-firstboot.service systemd-remount-fs.service systemd-fsck-root.service \
    sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount \
    sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount swap.target \
    networking.service systemd-networkd-wait-online.service systemd-networkd.service \
    ifupdown-wait-online.service ldconfig.service systemd-journald-audit.socket; do
  ln -sf /dev/null \$m/etc/systemd/system/\$u
done
: >\$m/etc/fstab
cat /proc/sys/kernel/random/uuid | tr -d - >\$m/etc/machine-id
cp $deb \$m/root/jailwarden.deb
cd \$m
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
exec env -i container=jailwarden-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  /lib/systemd/systemd --unit=basic.target --log-target=journal
STAGE1
  log "starting the container ($layout cgroups)"
  (
    for d in "${cgdirs[@]}"; do echo "$BASHPID" >"$d/cgroup.procs" || exit 1; done
    exec setsid unshare --fork --pid --mount --uts --ipc --net --cgroup --propagation private \
      bash "$tmp/stage1.sh"
  ) >"$tmp/container.log" 2>&1 &
  upid=$!
  for _ in $(seq 100); do
    cpid=$(cat /proc/$upid/task/$upid/children 2>/dev/null | awk '{print $1}')
    [[ -n $cpid ]] && break
    sleep 0.1
  done
  [[ -n $cpid ]] || { cat "$tmp/container.log"; echo "FAIL: no container pid 1"; exit 1; }
  if ! poll 60 container_state; then
    cat "$tmp/container.log"; c systemctl --failed --no-pager; echo "FAIL: container systemd not up"; exit 1
  fi
  log "container systemd up: $(c systemctl is-system-running) ($(c systemctl --version | head -1))"
  [[ $(c cat /proc/1/comm) == systemd ]] || bad "the container's pid 1 is not systemd"
}
container_state() {
  [[ -d /proc/$cpid ]] || { echo "container pid 1 exited"; exit 1; } >&2
  local s; s=$(c systemctl is-system-running 2>/dev/null); [[ $s == running || $s == degraded ]]
}

# dpkg -i of the .deb and a busybox root at /var/lib/jwtest/base.
container_install_deb() {
  c dpkg -i /root/jailwarden.deb >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; bad "dpkg -i"; exit 1; }
  c jailwarden mkroot busybox /var/lib/jwtest/base >/dev/null || { bad "mkroot"; exit 1; }
}
