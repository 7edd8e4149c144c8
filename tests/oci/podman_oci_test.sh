#!/usr/bin/env bash
# Root-only: real podman (with conmon) drives jailwarden-oci on a busybox
# rootfs. Everything podman and the runtime make lives under a temp dir
# (podman --root/--runroot, vfs storage, cgroupfs, file events, the
# runtime's default --root, /run/jailwarden-oci, holds only the test's own
# container ids: podman does not pass --runtime-flag to the cleanup it runs
# at exit, so a private --root would leave records); conmon stays in the test's cgroup (--cgroups=no-conmon)
# and the containers' cgroups are made below it.
# Usage: podman_oci_test.sh PATH/TO/jailwarden-oci
# Exit 0 pass, 1 fail, 77 skip (a skip is a failure under CI=true).
set -u
runtime=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")  # the name, not its target
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"
[[ $(id -u) == 0 ]] || skip "needs root (podman runs jailwarden-oci as root)"
in_own_mount_namespace "$0" "$@"
for b in podman conmon busybox script; do
  command -v $b >/dev/null || skip "$b not installed (scripts/install-deps.sh)"
done
tmp=$(mktemp -d /tmp/jw-oci-test.XXXXXX)
export CONTAINERS_CONF=/dev/null
mkdir -p "$tmp/tmp"
# timeout(1) puts its command in a process group of its own; under a
# terminal that group is in the background, and podman's tcsetattr on the
# pty then stops it with SIGTTOU (state T) unless its signal proxy happens
# to be installed first. PM_FOREGROUND=1 keeps podman in the terminal's
# foreground group for the run -it step.
cat >"$tmp/pm.sh" <<PM
#!/bin/sh
exec timeout \${PM_FOREGROUND:+--foreground} 120 podman --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs \\
  --cgroup-manager cgroupfs --events-backend file --tmpdir "$tmp/tmp" \\
  --runtime "$runtime" "\$@"
PM
chmod +x "$tmp/pm.sh"
pm() { "$tmp/pm.sh" "$@"; }
source "$(dirname "$0")/cgroup_cleanup.sh"
cleanup() {
  pm rm -a -f -t 0 >/dev/null 2>&1
  # The runtime's shared parent cgroup below ours, when empty.
  remove_oci_parent_cgroups
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/rootfs/bin" "$tmp/tmp"
cp "$(command -v busybox)" "$tmp/rootfs/bin/busybox"
for a in $("$tmp/rootfs/bin/busybox" --list); do
  [[ -e $tmp/rootfs/bin/$a ]] || ln -s busybox "$tmp/rootfs/bin/$a"
done
mkdir -p "$tmp/rootfs/"{etc,proc,dev,sys,tmp}
rootfs=$tmp/rootfs
O=(--cgroups=no-conmon --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none)

check "run --rm echo hi" hi "$(pm run --rm "${O[@]}" --rootfs "$rootfs" /bin/echo hi 2>&1)"
pm run --rm "${O[@]}" --rootfs "$rootfs" /bin/sh -c 'exit 42' >/dev/null 2>&1
check "exit code passes through" 42 "$?"
check "the process is pid 1" 1 "$(pm run --rm "${O[@]}" --rootfs "$rootfs" /bin/sh -c 'echo $$')"

# run -d, exec, ps, kill, stop, rm against reality.
id=$(pm run -d --name c1 "${O[@]}" --rootfs "$rootfs" /bin/sleep 300)
check "run -d: running" running "$(pm inspect -f '{{.State.Status}}' c1)"
state=$("$runtime" state "$id")
contains "runtime state: running" '"status": "running"' "$state"
check "exec" in-exec "$(pm exec c1 /bin/echo in-exec)"
pm exec c1 /bin/sh -c 'exit 7'
check "exec exit code" 7 "$?"
contains "exec sees the container's pid 1" "sleep 300" "$(pm exec c1 /bin/ps)"
contains "podman ps lists it" c1 "$(pm ps)"
pid=$(pm inspect -f '{{.State.Pid}}' c1)
pm kill -s 9 c1 >/dev/null
for _ in $(seq 50); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
check "kill -s 9: process gone" no "$([[ -d /proc/$pid ]] && echo yes || echo no)"
check "kill -s 9: exited" exited "$(pm inspect -f '{{.State.Status}}' c1)"
pm rm c1 >/dev/null
check "rm: runtime state gone" "no" "$("$runtime" state "$id" >/dev/null 2>&1 && echo yes || echo no)"
pm run -d --name c2 "${O[@]}" --rootfs "$rootfs" /bin/sh -c 'trap "exit 3" TERM; sleep 300 & wait' >/dev/null
sleep 0.5
pm stop -t 5 c2 >/dev/null
check "stop: TERM handled by pid 1" 3 "$(pm inspect -f '{{.State.ExitCode}}' c2)"
pm rm c2 >/dev/null

# Resources become rules that hold.
out=$(pm run --rm "${O[@]}" --memory 64m --rootfs "$rootfs" /bin/sh -c \
  'head -c 200m /dev/zero | tail >/dev/null; echo tail=$?' 2>&1)
contains "--memory 64m: OOM kill" "tail=137" "$out"
out=$(pm run --rm "${O[@]}" --memory 64m --rootfs "$rootfs" /bin/sh -c \
  'head -c 32m /dev/zero | tail >/dev/null; echo tail=$?' 2>&1)
contains "--memory 64m: 32 MiB fits" "tail=0" "$out"
out=$(pm run --rm "${O[@]}" --pids-limit 20 --rootfs "$rootfs" /bin/sh -c \
  'for i in $(seq 30); do sleep 2 & done; wait' 2>&1)
contains "--pids-limit 20: fork refused" "can't fork" "$out"
out=$(pm run --rm "${O[@]}" --annotation org.jailwarden.rctl.maxproc=deny=5 --rootfs "$rootfs" \
  /bin/sh -c 'for i in $(seq 10); do sleep 2 & done; wait' 2>&1)
contains "annotation maxproc deny=5: fork refused" "can't fork" "$out"
out=$(pm run --rm "${O[@]}" --cpus 0.2 --rootfs "$rootfs" /bin/sh -c \
  'time -p sh -c "i=0; while [ \$i -lt 150000 ]; do i=\$((i+1)); done"' 2>&1)
real=$(sed -n 's/^real //p' <<<"$out"); user=$(sed -n 's/^user //p' <<<"$out")
pct=$(awk -v r="$real" -v u="$user" 'BEGIN { printf "%d", (r > 0 ? 100 * u / r : 0) }')
echo "     --cpus 0.2: ${pct}% of one CPU (real $real s, user $user s)"
check "--cpus 0.2: pcpu about 20%" yes "$([[ $pct -ge 10 && $pct -le 30 ]] && echo yes || echo no)"

id=$(pm run -d --name u1 "${O[@]}" --memory 64m --rootfs "$rootfs" /bin/sleep 300)
memfile() {
  local st=/run/jailwarden-oci/$id/state.json
  python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["backend_state"]
m=b.get("cgroup.memory"); print(m+"/memory.limit_in_bytes" if m else b["cgroup.unified"]+"/memory.max")' "$st"
}
check "memory limit 64 MiB" 67108864 "$(cat "$(memfile)")"
pm update --memory 96m u1 >/dev/null
check "podman update --memory 96m: live" 100663296 "$(cat "$(memfile)")"
cg=$(dirname "$(memfile)")
pm rm -f -t 0 u1 >/dev/null
check "rm -f: the container's cgroup is gone" no "$([[ -d $cg ]] && echo yes || echo no)"

# A terminal through the console socket, from the container's devpts.
# Bounded (60 s); if it hangs, what every process of the step waits in is
# printed before it is killed, so a failure names where it stopped.
# The size reaches the pty through conmon after start (podman 4.3 sends no
# consoleSize; docs/oci.md): the process waits for it, at most 5 s, and
# the check below still wants exactly 30 100.
timeout 60 script -qec "stty rows 30 cols 100; PM_FOREGROUND=1 $tmp/pm.sh run --rm -it ${O[*]} \
  --rootfs $rootfs /bin/sh -c 'tty; for i in \$(seq 50); do s=\$(stty size 2>/dev/null); \
  [ -n \"\$s\" ] && [ \"\$s\" != \"0 0\" ] && break; sleep 0.1; done; echo \$s'" \
  /dev/null >"$tmp/it.out" 2>&1 &
it_pid=$!
for _ in $(seq 550); do kill -0 "$it_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$it_pid" 2>/dev/null; then
  echo "run -it still running after 55 s; its processes:"
  for p in $(ps -eo pid=,args= | awk '/[c]onmon|[j]ailwarden-oci|[p]odman|[s]h -c tty/ && !/make/ {print $1}'); do
    [[ -r /proc/$p/cmdline ]] || continue
    echo "  $p $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-160)"
    echo "    state $(awk '/^State/ {print $2}' /proc/$p/status 2>/dev/null) wchan $(cat /proc/$p/wchan 2>/dev/null)"
  done
  for c in $(ls /run/jailwarden-oci 2>/dev/null); do "$runtime" state "$c" 2>&1 | tr -d '\n'; echo; done
fi
wait "$it_pid"
out=$(tr -d '\r' <"$tmp/it.out")
contains "run -it: a pty from the container's devpts" "/dev/pts/0" "$out"
contains "run -it: the window size" "30 100" "$out"

# What jailwarden cannot honour is refused by name.
out=$(pm run --rm "${O[@]}" --sysctl kernel.msgmax=65536 --rootfs "$rootfs" /bin/true 2>&1)
contains "sysctl refused by JSON pointer" "/linux/sysctl/kernel.msgmax" "$out"
out=$(pm run --rm --cgroups=no-conmon --network none --ulimit nofile=1024:1024 \
  --ulimit "nproc=$(( $(ulimit -Hu) + 1 )):$(( $(ulimit -Hu) + 1 ))" --rootfs "$rootfs" /bin/true 2>&1)
if grep -q CapEff.*0000000001ffffff /proc/self/status || [[ $(ulimit -Hu) == unlimited ]]; then
  echo "ok   (rlimit raise: this host grants CAP_SYS_RESOURCE or no limit; not checked)"
else
  contains "raising a hard rlimit refused by name" "RLIMIT_NPROC" "$out"
fi
left=0
for c in $(pm ps -a --no-trunc -q); do "$runtime" state "$c" >/dev/null 2>&1 && left=1; done
check "nothing left in the runtime's root" 0 "$left"
exit $fail
