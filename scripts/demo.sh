#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, makes the demo
# jails' busybox root, and runs `jailwarden serve` with the bundled example
# policy (packaging/examples/jailwarden.yaml: three small jails running
# bounded workloads under limits) in the foreground until Ctrl-C, which
# stops jailwarden and the demo jails.
#
#   ./scripts/demo.sh                  # DEMO_KEEP_JAILS=1 leaves the jails running
#
# Needs root for serve (namespaces, cgroups, mounts); uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

./scripts/install-deps.sh
./scripts/build.sh

bin=$root/${BUILD_DIR:-build}/src/jailwarden
config=$root/packaging/examples/jailwarden.yaml
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  sudo="sudo"
fi

"$bin" validate "$config"

# The demo jails' read-only base root (the policy's `base:`).
base=$(sed -n 's/^[[:space:]]*base:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$config" | head -n1)
base=${base:-/var/lib/jailwarden/base/busybox}
if [[ ! -x $base/bin/busybox ]]; then
  echo "demo: building the busybox jail root in $base"
  $sudo "$bin" mkroot busybox "$base"
fi

# Address and token as the policy says (defaults: loopback:9814).
listen=$(sed -n 's/^[[:space:]]*listen:[[:space:]]*\([0-9.]*:[0-9]*\).*/\1/p' "$config" | head -n1)
listen=${listen:-127.0.0.1:9814}
# Every /v1 route needs the token in <state_dir>/token (root only).
state_dir=$(sed -n 's/^[[:space:]]*state_dir:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$config" | head -n1)
state_dir=${state_dir:-/var/lib/jailwarden}
server="http://$listen"
# The CLI itself talks to the daemon over its admin socket
# (/run/jailwarden/api.sock, no token); $server is for curl below.

flags=(--config "$config" --log-level info)
if [[ ${DEMO_KEEP_JAILS:-0} != 1 ]]; then
  flags+=(--stop-jails-on-exit)
fi
echo "demo: starting: $sudo $bin serve ${flags[*]}"
$sudo "$bin" serve "${flags[@]}" &
serve_pid=$!

stopping=0
cleanup() {
  if [[ $stopping -eq 1 ]]; then return; fi
  stopping=1
  echo
  echo "demo: stopping jailwarden${DEMO_KEEP_JAILS:+ (jails kept)}..."
  $sudo kill -INT "$serve_pid" 2>/dev/null || kill -INT "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  echo "demo: stopped"
}
trap cleanup INT TERM EXIT

# Ready once /readyz says so (the jails are started before that).
for _ in $(seq 1 300); do
  if ! kill -0 "$serve_pid" 2>/dev/null; then
    echo "demo: jailwarden serve exited; see the messages above" >&2
    trap - EXIT
    exit 1
  fi
  if $sudo "$bin" status >/dev/null 2>&1; then
    break
  fi
  sleep 0.2
done
if ! $sudo "$bin" status >/dev/null 2>&1; then
  echo "demo: jailwarden did not become ready within 60 s" >&2
  exit 1
fi
sleep 2  # a couple of sampler passes so usage is not all zero

first_jail=$($sudo "$bin" list -H | awk -F'\t' 'NR==1 {print $2}')
echo
echo "================ jailwarden is running ================"
echo "\$ jailwarden list"
$sudo "$bin" list
if [[ -n $first_jail ]]; then
  echo
  echo "\$ jailwarden usage $first_jail"
  $sudo "$bin" usage "$first_jail"
fi
echo
echo "\$ jailwarden rctl          # the rule database (policy limits + rules)"
$sudo "$bin" rctl
as_root=${sudo:+sudo }
cat <<INFO

Look at it:
  metrics:   $server/metrics
             curl -s $server/metrics | grep -E '^jail_(pcpu_used|memoryuse_bytes|maxproc)'
  API:       curl -s -H "Authorization: Bearer \$(${as_root}cat $state_dir/token)" $server/v1/jails
  CLI:       ${as_root}$bin list | top | usage NAME | rctl -hu jail:NAME
             ${as_root}$bin rctl -a jail:hog:memoryuse:deny=96M   # changes need the token (root reads it)
  reload:    edit $config, then: ${as_root}kill -HUP $serve_pid

Ctrl-C stops jailwarden$( [[ ${DEMO_KEEP_JAILS:-0} == 1 ]] && echo " (the jails keep running)" || echo " and the demo jails").
=======================================================
INFO
wait "$serve_pid" || true
