#!/usr/bin/env bash
# jailwarden.service under a real systemd as pid 1 of a container this test
# makes (container_lib.sh), its cgroups mounted hybrid (v1 controllers +
# unified) as on the host. The same on a unified-only tree:
# unit_in_container_v2.sh.
# Then: dpkg -i the .deb, a conffile edit kept across a reinstall, start
# (READY through Type=notify), two jails with limits (jwb depends on jwa),
# restart, stop without the stop setting, kill -9 of the main pid, a stuck
# sampler caught by the watchdog: after each, the jails' inits are the same
# pids, their cgroups and limits are there and the daemon adopted them.
# Last, with JAILWARDEN_OPTS=--stop-jails-on-exit, `systemctl stop` stops
# them in jail(8) order (jwb before jwa).
#
#   unit_in_container.sh BUILD_DIR
#
# Exit 0 pass, 1 fail, 77 skip (not root, or a tool missing; a failure
# under CI=true). Every wait is a poll with a deadline.
set -uo pipefail

build=${1:?usage: unit_in_container.sh BUILD_DIR}
layout=hybrid
# shellcheck source=container_lib.sh disable=SC2034
source "$(dirname "$0")/container_lib.sh"
container_build_deb
container_cgroups
container_start

# --- install, and a conffile edit survives a reinstall
container_install_deb
c sh -c 'cat >/etc/jailwarden/jailwarden.yaml' <<'POLICY'
# edited by the test
server:
  listen: 127.0.0.1:9814
  state_dir: /var/lib/jailwarden
  sample_interval: 100ms
jails:
  jwa:
    base: /var/lib/jwtest/base
    persist: true
    ip4: disable
    exec.start: "/bin/sh -c 'sleep 1000000 </dev/null >/dev/null 2>&1 &'"
    exec.poststop: "/bin/sh -c 'echo jwa >>/var/lib/jwtest/stop-order'"
    limits: {memoryuse: deny=64M, maxproc: deny=40}
  jwb:
    base: /var/lib/jwtest/base
    persist: true
    ip4: disable
    depend: jwa
    exec.start: "/bin/sh -c 'sleep 1000000 </dev/null >/dev/null 2>&1 &'"
    exec.poststop: "/bin/sh -c 'echo jwb >>/var/lib/jwtest/stop-order'"
    limits: {memoryuse: deny=48M}
POLICY
c sha256sum /etc/jailwarden/jailwarden.yaml >"$tmp/policy.sum"
c env DEBIAN_FRONTEND=noninteractive dpkg --force-confold -i /root/jailwarden.deb >>"$tmp/dpkg.log" 2>&1 ||
  bad "dpkg -i (reinstall)"
c sha256sum -c --quiet - <"$tmp/policy.sum" || bad "reinstall changed the edited conffile"
c jailwarden validate /etc/jailwarden/jailwarden.yaml || bad "test policy invalid"

# --- start: READY=1 through Type=notify
active() { [[ $(prop ActiveState) == active ]]; }
c systemctl start jailwarden.service || bad "systemctl start"
poll 60 active || bad "not active after start"
status=$(prop StatusText)
log "started: $(c systemctl show -p Type,ActiveState,SubState,MainPID,WatchdogUSec,StatusText jailwarden.service | paste -sd' ')"
[[ $(prop Type) == notify ]] || bad "Type is not notify"
[[ $status == ready* ]] || bad "StatusText '$status' (READY=1 not sent?)"

cgv1() { echo "/sys/fs/cgroup/$1/system.slice/jailwarden.service/jailwarden/$2"; }
# The jail's init: the jailwarden-init process in its cgroup's leaf (the
# jail's processes live in <jail>/jail, the limits are on <jail>).
init_of() {
  local pid
  for pid in $(c cat "$(cgv1 unified "$1")/jail/cgroup.procs" 2>/dev/null); do
    [[ $(c cat /proc/$pid/comm 2>/dev/null) == jailwarden-init ]] && { echo "$pid"; return; }
  done
}
c jailwarden rctl -a jail:jwb:openfiles:deny=300 || bad "rctl -a"
declare -A init0
for j in jwa jwb; do
  init0[$j]=$(init_of $j)
  [[ -n ${init0[$j]} ]] || bad "no init for $j"
  c cat "/proc/${init0[$j]}/environ" | tr '\0' '\n' | grep -q NOTIFY_SOCKET &&
    bad "$j's init inherited NOTIFY_SOCKET"
done
log "inits: jwa=${init0[jwa]} jwb=${init0[jwb]}"
# A jail's root cannot reach systemd's notification socket, and a process
# other than the daemon's main pid is not listened to (NotifyAccess=main).
c jailwarden exec jwa -- /bin/sh -c 'test -e /run/systemd/notify' &&
  bad "jwa sees /run/systemd/notify"
# Were it reachable: a process in jwa's cgroups (as a jail process is)
# sending READY/STATUS/WATCHDOG is refused. It stays alive 3 s so systemd
# can attribute the datagram to its cgroup.
c sh -c 'echo $$ >/sys/fs/cgroup/unified/system.slice/jailwarden.service/jailwarden/jwa/jail/cgroup.procs &&
         NOTIFY_SOCKET=/run/systemd/notify systemd-notify --pid=$$ --status=hijacked READY=1 WATCHDOG=1
         sleep 3' &
notifier=$!
refused() { c journalctl -q --no-pager -u jailwarden.service | grep -q "reception only permitted for main PID"; }
poll 10 refused || bad "systemd did not log refusing a non-main notification"
[[ $(prop StatusText) == ready* ]] || bad "a non-main process changed StatusText: $(prop StatusText)"
wait "$notifier"

check_jails() {  # check_jails WHEN
  local when=$1 j
  for j in jwa jwb; do
    [[ $(init_of $j) == "${init0[$j]}" ]] || bad "$when: $j's init is $(init_of $j), was ${init0[$j]}"
  done
  [[ $(c cat "$(cgv1 memory jwa)/memory.limit_in_bytes") == 67108864 ]] || bad "$when: jwa memory limit"
  [[ $(c cat "$(cgv1 memory jwb)/memory.limit_in_bytes") == 50331648 ]] || bad "$when: jwb memory limit"
  [[ $(c cat "$(cgv1 pids jwa)/pids.max") == 40 ]] || bad "$when: jwa pids.max"
  local list rules
  list=$(c jailwarden list -H)
  for j in jwa jwb; do
    grep -P "\t$j\t" <<<"$list" | grep -qi running || bad "$when: $j not running in 'jailwarden list': $list"
  done
  rules=$(c jailwarden rctl)
  for r in jail:jwa:memoryuse:deny=67108864 jail:jwa:maxproc:deny=40 jail:jwb:memoryuse:deny=50331648 \
      jail:jwb:openfiles:deny=300; do
    grep -qix "$r" <<<"$rules" || bad "$when: rule $r not in force: $(paste -sd' ' <<<"$rules")"
  done
}
check_jails "after start"

# --- restart
main=$(prop MainPID)
c systemctl restart jailwarden.service || bad "systemctl restart"
poll 60 ready_again "$main" || bad "not ready again after restart"
poll 10 adopted "$(prop MainPID)" || bad "restart: the new daemon did not log adopting jwa and jwb"
check_jails "after restart"
log "restart done (MainPID $main -> $(prop MainPID))"

# --- stop without the setting, start
main=$(prop MainPID)
c systemctl stop jailwarden.service || bad "systemctl stop"
[[ $(prop ActiveState) == inactive ]] || bad "not inactive after stop"
for j in jwa jwb; do [[ $(init_of $j) == "${init0[$j]}" ]] || bad "stop without the setting stopped $j"; done
c systemctl start jailwarden.service || bad "systemctl start (2)"
poll 60 ready_again "$main" || bad "not ready after stop/start"
poll 10 adopted "$(prop MainPID)" || bad "stop/start: not adopted"
check_jails "after stop and start"
log "stop (jails kept) and start done"

# --- kill -9 of the main pid: Restart=on-failure brings it back
main=$(prop MainPID)
restarts=$(prop NRestarts)
c kill -KILL "$main"
poll 30 ready_again "$main" || bad "not back after kill -9"
(( $(prop NRestarts) == restarts + 1 )) || bad "NRestarts $(prop NRestarts), was $restarts"
poll 10 adopted "$(prop MainPID)" || bad "kill -9: not adopted"
check_jails "after kill -9"
log "kill -9 done (MainPID $main -> $(prop MainPID), NRestarts $(prop NRestarts))"

# --- the watchdog: fed while the sampler ticks, fires when it stops
wd0=$(prop WatchdogTimestampMonotonic)
wd_moved() { [[ $(prop WatchdogTimestampMonotonic) != "$wd0" ]]; }
poll 20 wd_moved || bad "no WATCHDOG=1 within 20s (WatchdogUSec=$(prop WatchdogUSec))"
c mkdir -p /etc/systemd/system/jailwarden.service.d
c sh -c 'printf "[Service]\nWatchdogSec=3s\nLimitCORE=0\nTimeoutAbortSec=5s\n" >/etc/systemd/system/jailwarden.service.d/test-watchdog.conf'
c systemctl daemon-reload
main=$(prop MainPID)
c systemctl restart jailwarden.service
poll 60 ready_again "$main" || bad "not ready after the watchdog drop-in"
main=$(prop MainPID)
restarts=$(prop NRestarts)
sleep 4  # three watchdog intervals' worth of ticks: a live daemon is not restarted
[[ $(prop MainPID) == "$main" ]] || bad "restarted although ticking (WatchdogSec=3s)"
c kill -STOP "$main"   # the sampler stops ticking
poll 30 ready_again "$main" || bad "a stopped sampler was not caught by the watchdog"
wd_logged() { c journalctl -q --no-pager -u jailwarden.service | grep -qi "watchdog timeout"; }
poll 10 wd_logged || bad "no 'Watchdog timeout' in the journal"
poll 10 adopted "$(prop MainPID)" || bad "watchdog restart: not adopted"
check_jails "after the watchdog restart"
log "watchdog done (MainPID $main -> $(prop MainPID))"
c rm /etc/systemd/system/jailwarden.service.d/test-watchdog.conf
c systemctl daemon-reload

# --- with --stop-jails-on-exit, stop stops the jails in jail(8) order
c sh -c 'echo JAILWARDEN_OPTS=--stop-jails-on-exit >/etc/default/jailwarden'
main=$(prop MainPID)
c systemctl restart jailwarden.service   # the old daemon had no setting: jails kept
poll 60 ready_again "$main" || bad "not ready with --stop-jails-on-exit"
check_jails "after restart into --stop-jails-on-exit"
c systemctl stop jailwarden.service || bad "systemctl stop (stop-jails)"
[[ $(prop ActiveState) == inactive ]] || bad "not inactive after stop (stop-jails)"
order=$(c cat /var/lib/jwtest/stop-order 2>/dev/null | paste -sd' ')
[[ $order == "jwb jwa" ]] || bad "stop order '$order', want 'jwb jwa' (dependents first)"
for j in jwa jwb; do
  [[ -z $(init_of $j) ]] || bad "$j still running after stop with --stop-jails-on-exit"
  c test -d /proc/${init0[$j]} && bad "$j's init ${init0[$j]} still alive"
done
log "stop with --stop-jails-on-exit: order '$order'"

if (( fail )); then
  echo "--- journal of jailwarden.service"
  c journalctl -q --no-pager -u jailwarden.service | tail -80
fi
exit $fail
