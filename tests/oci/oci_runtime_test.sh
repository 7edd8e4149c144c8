#!/usr/bin/env bash
# Root-only: jailwarden-oci driven directly on a bundle, as containerd's
# shim and conmon drive it, without a client in between:
#  - pause/resume through the freezer (the process stops and goes on);
#  - the hooks of the create phase in the runtime spec's order, each with
#    the state JSON on stdin, poststop after delete, a failing hook failing
#    create and leaving nothing; hooks not supported refused by name;
#  - kill -9 of create between its steps (in a hook, and at a spread of
#    moments) leaves nothing `delete --force` does not remove: no record,
#    no cgroup, no process.
# Everything lives under a temp dir (the runtime's --root too); the
# containers' cgroups are made below this shell's own.
# Usage: oci_runtime_test.sh PATH/TO/jailwarden-oci
# Exit 0 pass, 1 fail, 77 skip (a skip is a failure under CI=true).
set -u
runtime=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"
# shellcheck source=runtime_env.sh
source "$(dirname "$0")/runtime_env.sh"
hook_pids=()
extra_cleanup() {  # the hooks' own processes, by the pids they wrote
  for p in "${hook_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
}
oci_runtime_env jw-oci-rt
mkdir -p "$tmp/hooks"
busybox_rootfs "$tmp/b/rootfs" sh sleep echo true false cat readlink
# config ARGS_JSON [HOOKS_JSON [MOUNTS_JSON]]: the bundle's config.json
# (MOUNTS_JSON: mounts after /proc).
config() {
  python3 - "$tmp/b/config.json" "$1" "${2:-{\}}" "${3:-[]}" <<'PY'
import json, sys
path, args, hooks = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
c = {"ociVersion": "1.0.2",
     "process": {"args": args, "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}},
     "root": {"path": "rootfs"},
     "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}] + json.loads(sys.argv[4]),
     "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}]}}
if hooks:
    c["hooks"] = hooks
json.dump(c, open(path, "w"))
PY
}
# hook KIND: a host hook that saves its stdin and appends KIND to the order.
hook() {
  printf '{"path": "/bin/sh", "args": ["sh", "-c", "cat > %s/%s.json; echo %s >> %s/order"], "env": ["PATH=/usr/bin:/bin"], "timeout": 10}' \
    "$tmp/hooks" "$1" "$1" "$tmp/hooks"
}
field() {  # field FILE KEY: a top-level field of a JSON document
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"
}
status() { jw state "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null; }
# wait_for DESCRIPTION TEST...: polls TEST for up to 10 s.
wait_for() {
  local what=$1; shift
  for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
  echo "     (gave up waiting for $what)"
  return 1
}
# create ID: create with the bundle's config; the container's stdio is
# /dev/null so no pipe of this script stays held by it.
create() { jw create --bundle "$tmp/b" --pid-file "$tmp/$1.pid" "$1" </dev/null >/dev/null 2>"$tmp/$1.err"; }
# cgroups ID: the cgroup directories the record names.
cgroups() {
  python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["backend_state"]
print("\n".join(v for k, v in b.items() if k.startswith("cgroup.") and k != "cgroup.version"))' \
    "$root/$1/state.json" 2>/dev/null
}
# nothing_left ID DIRS...: no record, none of DIRS, no process of the id.
nothing_left() {
  local id=$1; shift
  local left=""
  [[ -e $root/$id ]] && left+=" record"
  for d in "$@"; do [[ -d $d ]] && left+=" $d"; done
  # A process of the id that still runs (a zombie has exited: only its
  # reaper, whoever adopted it, has yet to collect its status).
  local f
  for f in $(grep -l "jailwarden-oci/$id/" /proc/[0-9]*/cgroup 2>/dev/null); do
    f=${f%/cgroup}
    [[ $(cut -d' ' -f3 "$f/stat" 2>/dev/null) == [RSDT] ]] && left+=" process:${f#/proc/}"
  done
  # And, recorded or not, no cgroup of that id below this shell's own.
  local _ ctrls path c
  while IFS=: read -r _ ctrls path; do
    ctrls=${ctrls#name=}
    for c in unified "" $ctrls ${ctrls//,/ }; do
      [[ -d /sys/fs/cgroup/$c$path/jailwarden-oci/$id ]] && left+=" /sys/fs/cgroup/$c$path/jailwarden-oci/$id"
    done
  done </proc/self/cgroup
  echo "${left:-nothing}"
}

# Pause and resume through the freezer.
config '["/bin/sh", "-c", "while :; do echo x >> /tmp/ticks; sleep 0.05; done"]'
ticks=$tmp/b/rootfs/tmp/ticks
create p1 && jw start p1
count() { wc -l <"$ticks" 2>/dev/null || echo 0; }
wait_for "ticks" test -s "$ticks"
jw pause p1
check "pause: state paused" paused "$(status p1)"
n1=$(count); sleep 0.5; n2=$(count)
check "pause: the process does not run" "$n1" "$n2"
out=$(jw pause p1 2>&1)
contains "pause of a paused container refused" "is not running" "$out"
out=$(jw delete p1 2>&1)
contains "delete of a paused container refused" "not stopped: paused" "$out"
jw resume p1
check "resume: state running" running "$(status p1)"
grown() { (( $(count) > n2 )); }
wait_for "ticks after resume" grown
check "resume: the process runs again" yes "$(grown && echo yes || echo no)"
out=$(jw resume p1 2>&1)
contains "resume of a running container refused" "is not paused" "$out"
jw kill p1 KILL
wait_for "p1 stopped" test "$(status p1)" == stopped
jw delete p1
check "delete after pause/resume: gone" nothing "$(nothing_left p1)"

# Hooks of the create phase, in order, with the state on stdin.
config '["/bin/true"]' "{\"prestart\": [$(hook prestart)], \"createRuntime\": [$(hook createRuntime)], \"poststop\": [$(hook poststop)]}"
create h1
check "create runs prestart, then createRuntime" "prestart createRuntime" "$(tr '\n' ' ' <"$tmp/hooks/order" | sed 's/ $//')"
check "prestart's stdin: the state, id" h1 "$(field "$tmp/hooks/prestart.json" id)"
check "prestart's stdin: status creating" creating "$(field "$tmp/hooks/prestart.json" status)"
check "prestart's stdin: the container's pid" "$(cat "$tmp/h1.pid")" "$(field "$tmp/hooks/prestart.json" pid)"
check "createRuntime's stdin: the bundle" "$tmp/b" "$(field "$tmp/hooks/createRuntime.json" bundle)"
check "after create: created" created "$(status h1)"
jw start h1
wait_for "h1 stopped" test "$(status h1)" == stopped
jw delete h1
check "delete runs poststop last" "prestart createRuntime poststop" "$(tr '\n' ' ' <"$tmp/hooks/order" | sed 's/ $//')"
check "poststop's stdin: the state, id" h1 "$(field "$tmp/hooks/poststop.json" id)"
config '["/bin/true"]' '{"prestart": [{"path": "/bin/false"}]}'
create h2
contains "a failing prestart hook fails create" "hook prestart[0] /bin/false: exit status 1" "$(cat "$tmp/h2.err")"
check "a failed create leaves nothing" nothing "$(nothing_left h2)"
# All six hooks in the spec's order, one order file: the host hooks append
# to $tmp/hooks/order, startContainer (in the container) to the same file
# through a bind mount at /hooks. createContainer runs from a script only
# the host has ($tmp/cc.sh: its path resolves in the runtime's root), in
# the container's mount and pid namespaces after the container's mounts
# (its /proc below the rootfs is in the hook's mount table, not in the
# host's) and before pivot_root (it writes to $tmp/hooks by its host path).
rm -f "$tmp/hooks/"*
mkdir -p "$tmp/b/rootfs/hooks"
cat >"$tmp/cc.sh" <<CC
#!/bin/sh
cat > $tmp/hooks/createContainer.json
readlink /proc/self/ns/mnt > $tmp/hooks/cc.mnt
readlink /proc/self/ns/pid > $tmp/hooks/cc.pid
grep -c " $tmp/b/rootfs/proc " /proc/self/mountinfo > $tmp/hooks/cc.procmount
echo createContainer >> $tmp/hooks/order
CC
chmod +x "$tmp/cc.sh"
sc_hook='{"path": "/bin/sh", "args": ["sh", "-c", "cat > /hooks/startContainer.json; echo startContainer >> /hooks/order"], "env": ["PATH=/bin"], "timeout": 10}'
config '["/bin/sleep", "300"]' \
  "{\"prestart\": [$(hook prestart)], \"createRuntime\": [$(hook createRuntime)], \"createContainer\": [{\"path\": \"$tmp/cc.sh\", \"timeout\": 10}], \"startContainer\": [$sc_hook], \"poststart\": [$(hook poststart)], \"poststop\": [$(hook poststop)]}" \
  "[{\"destination\": \"/hooks\", \"type\": \"bind\", \"source\": \"$tmp/hooks\", \"options\": [\"rbind\", \"rw\"]}]"
order() { tr '\n' ' ' <"$tmp/hooks/order" | sed 's/ $//'; }
create a1
check "create: prestart, createRuntime, createContainer" "prestart createRuntime createContainer" "$(order)"
a1pid=$(cat "$tmp/a1.pid")
check "createContainer's stdin: the id" a1 "$(field "$tmp/hooks/createContainer.json" id)"
check "createContainer's stdin: status creating" creating "$(field "$tmp/hooks/createContainer.json" status)"
check "createContainer's stdin: the pid" "$a1pid" "$(field "$tmp/hooks/createContainer.json" pid)"
check "createContainer's stdin: the bundle" "$tmp/b" "$(field "$tmp/hooks/createContainer.json" bundle)"
check "createContainer runs in the container's mount namespace" "$(readlink "/proc/$a1pid/ns/mnt")" "$(cat "$tmp/hooks/cc.mnt")"
check "createContainer runs in the container's pid namespace" "$(readlink "/proc/$a1pid/ns/pid")" "$(cat "$tmp/hooks/cc.pid")"
check "createContainer sees the container's /proc mount" 1 "$(cat "$tmp/hooks/cc.procmount")"
check "... which the host's mount table lacks" 0 "$(grep -c " $tmp/b/rootfs/proc " /proc/self/mountinfo)"
check "createRuntime's stdin: status creating" creating "$(field "$tmp/hooks/createRuntime.json" status)"
jw start a1
check "start: startContainer then poststart" "prestart createRuntime createContainer startContainer poststart" "$(order)"
check "startContainer's stdin: status created" created "$(field "$tmp/hooks/startContainer.json" status)"
check "poststart's stdin: status running" running "$(field "$tmp/hooks/poststart.json" status)"
jw kill a1 KILL
wait_for "a1 stopped" test "$(status a1)" == stopped
jw delete a1
check "delete: poststop last; all six in the spec's order" \
  "prestart createRuntime createContainer startContainer poststart poststop" "$(order)"
check "poststop's stdin: status stopped" stopped "$(field "$tmp/hooks/poststop.json" status)"
check "a1 deleted: nothing left" nothing "$(nothing_left a1)"

# A failing createContainer hook fails create, which removes what it made;
# one that outlives its timeout is killed and fails it too.
config '["/bin/true"]' '{"createContainer": [{"path": "/bin/false"}]}'
create h3
contains "a failing createContainer hook fails create" "hook createContainer[0] /bin/false" "$(cat "$tmp/h3.err")"
contains "... with its exit status" "exit status 1" "$(cat "$tmp/h3.err")"
check "createContainer failed: nothing left" nothing "$(nothing_left h3)"
config '["/bin/true"]' '{"createContainer": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}'
t0=$(date +%s)
create h4
contains "a createContainer hook past its timeout fails create" "timed out after 1 s" "$(cat "$tmp/h4.err")"
check "... killed at its timeout, not waited for" yes "$( (( $(date +%s) - t0 < 10 )) && echo yes || echo no)"
check "createContainer timed out: nothing left" nothing "$(nothing_left h4)"
check "features lists exactly the hooks run" \
  '["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]' \
  "$(jw features | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["hooks"]))')"

# startContainer: in the container (its path, its pid namespace) after
# start and before the process; poststart: on the host once it runs,
# with status running; a failing poststart only warns.
rm -f "$tmp/hooks/"*
in_hook() {  # a container hook: records its pid namespace and its stdin
  printf '{"path": "/bin/sh", "args": ["sh", "-c", "cat > /%s.json; readlink /proc/self/ns/pid > /%s.ns; echo %s >> /order"], "env": ["PATH=/bin"], "timeout": 10}' "$1" "$1" "$1"
}
config '["/bin/sh", "-c", "echo process >> /order; exec sleep 300"]' \
  "{\"startContainer\": [$(in_hook startContainer)], \"poststart\": [$(hook poststart), {\"path\": \"/bin/false\"}]}"
rm -f "$tmp/b/rootfs/order" "$tmp/b/rootfs/startContainer."*
create s1
check "startContainer not run by create" no "$([[ -e $tmp/b/rootfs/order ]] && echo yes || echo no)"
start_err=$(jw start s1 2>&1)
check "start succeeds though a poststart hook fails" 0 "$?"
contains "a failing poststart hook is reported" "hook poststart[1] /bin/false" "$start_err"
order_ready() { [[ $(wc -l <"$tmp/b/rootfs/order" 2>/dev/null) -ge 2 ]]; }
wait_for "the process's line" order_ready
check "startContainer runs before the process" "startContainer process" \
  "$(tr '\n' ' ' <"$tmp/b/rootfs/order" | sed 's/ $//')"
check "startContainer runs in the container's pid namespace" "$(readlink "/proc/$(cat "$tmp/s1.pid")/ns/pid")" \
  "$(cat "$tmp/b/rootfs/startContainer.ns" 2>/dev/null)"
check "startContainer's stdin: the state, id" s1 "$(field "$tmp/b/rootfs/startContainer.json" id)"
check "startContainer's stdin: status created" created "$(field "$tmp/b/rootfs/startContainer.json" status)"
check "startContainer's stdin: the pid" "$(cat "$tmp/s1.pid")" "$(field "$tmp/b/rootfs/startContainer.json" pid)"
check "poststart ran on the host" poststart "$(cat "$tmp/hooks/order" 2>/dev/null)"
check "poststart's stdin: status running" running "$(field "$tmp/hooks/poststart.json" status)"
check "poststart's stdin: the pid" "$(cat "$tmp/s1.pid")" "$(field "$tmp/hooks/poststart.json" pid)"
jw kill s1 KILL
wait_for "s1 stopped" test "$(status s1)" == stopped
jw delete s1
rm -f "$tmp/b/rootfs/order" "$tmp/b/rootfs/startContainer."*
config '["/bin/true"]' '{"startContainer": [{"path": "/bin/false"}]}'
create s2
jw start s2 >/dev/null 2>&1
wait_for "s2 stopped" test "$(status s2)" == stopped
check "a failing startContainer hook stops the container" stopped "$(status s2)"
jw delete s2
check "s2 deleted: nothing left" nothing "$(nothing_left s2)"

# kill -9 of create inside a create-phase hook: the record says creating,
# delete --force removes the process, the cgroups and the record.
config '["/bin/sleep", "300"]' "{\"prestart\": [{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo \$\$ > $tmp/hookpid; exec sleep 30\"]}]}"
"$runtime" --root "$root" create --bundle "$tmp/b" k1 </dev/null >/dev/null 2>&1 &
cpid=$!
wait_for "the prestart hook" test -s "$tmp/hookpid"
hook_pids+=("$(cat "$tmp/hookpid")")
kill -9 "$cpid"; wait "$cpid" 2>/dev/null
check "create killed in a hook: creating" creating "$(status k1)"
dirs=$(cgroups k1)
cpid=$(field "$root/k1/state.json" pid)
check "create killed in a hook: its cgroups recorded" yes "$([[ -n $dirs ]] && echo yes || echo no)"
jw delete --force k1
check "delete --force after the kill: nothing left" nothing "$(nothing_left k1 $dirs)"
check "delete --force: the container's process is gone" no \
  "$([[ $cpid -gt 0 && -d /proc/$cpid && $(cut -d' ' -f3 /proc/$cpid/stat) != Z ]] && echo yes || echo no)"

# kill -9 of create at a spread of moments: whatever step it was in,
# delete --force leaves nothing.
config '["/bin/sleep", "300"]'
for i in $(seq 0 9); do
  "$runtime" --root "$root" create --bundle "$tmp/b" "r$i" </dev/null >/dev/null 2>&1 &
  cpid=$!
  sleep "0.0$((i * 1))"
  kill -9 "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
  dirs=$(cgroups "r$i")
  jw delete --force "r$i" >/dev/null 2>"$tmp/del.err" || cat "$tmp/del.err"
  check "kill -9 at $((i * 10)) ms, then delete --force: nothing left" nothing \
    "$(nothing_left "r$i" $dirs)"
done

# delete --force kills only what is still the container's: a record whose
# pid now names an unrelated process the test started (pid reuse, as after
# a reboot or a long-dead container) leaves that process alive, with and
# without cgroups recorded; the same record naming the process with its
# own start time (the container's init as the record saw it) is obeyed.
# rewrite ID PID STARTTIME|- CGROUPS(keep|none): edits the record in place.
rewrite() {
  python3 - "$root/$1/state.json" "$2" "$3" "$4" <<'PY'
import json, sys
path, pid, start, cg = sys.argv[1:5]
r = json.load(open(path))
r["pid"] = int(pid)
if start != "-":
    r["pid_starttime"] = int(start)
if cg == "none":
    r["backend_state"] = {}
json.dump(r, open(path, "w"))
PY
}
alive() { [[ -d /proc/$1 && $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) != Z ]] && echo yes || echo no; }
config '["/bin/sleep", "300"]'
for cg in keep none; do
  create "st-$cg" && jw start "st-$cg"
  dirs=$(cgroups "st-$cg")
  jw kill "st-$cg" KILL
  wait_for "st-$cg stopped" test "$(status "st-$cg")" == stopped
  sleep 300 </dev/null >/dev/null 2>&1 &
  other=$!
  hook_pids+=("$other")
  rewrite "st-$cg" "$other" - "$cg"
  jw delete --force "st-$cg"
  check "delete --force, stale pid ($cg cgroups): the unrelated process lives" yes "$(alive "$other")"
  if [[ $cg == none ]]; then
    # The record no longer names its (empty) cgroups: the test removes them.
    for d in $dirs; do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  fi
  check "delete --force, stale pid ($cg cgroups): nothing left" nothing "$(nothing_left "st-$cg" $dirs)"
  kill -9 "$other"; wait "$other" 2>/dev/null
done
config '["/bin/sleep", "300"]'
create st-match
jw delete --force st-match  # its cgroups go; the record is made again below
mkdir -p "$root/st-match"
sleep 300 </dev/null >/dev/null 2>&1 &
other=$!
hook_pids+=("$other")
printf '{"id": "st-match", "bundle": "%s", "pid": %s, "pid_starttime": %s, "creating": false, "backend_state": {}}' \
  "$tmp/b" "$other" "$(cut -d' ' -f22 "/proc/$other/stat")" >"$root/st-match/state.json"
check "a record naming a live process with its start time: running" running "$(status st-match)"
jw delete --force st-match
wait "$other" 2>/dev/null  # reaped: killed by the runtime's SIGKILL
check "delete --force kills the process the record verifiably names" no "$(alive "$other")"
exit $fail
