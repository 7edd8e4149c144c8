#!/usr/bin/env bash
# Runs the real jailwarden binary: --help, --version, --help on every verb,
# and rctl --check's output, messages and exit status.
set -u
bin=$1
fail=0
check() {  # check NAME EXPECTED_STATUS EXPECTED_OUTPUT -- ARGS...
  local name=$1 want_status=$2 want_out=$3; shift 4
  local out status
  out=$("$bin" "$@" 2>&1); status=$?
  if [[ $status -ne $want_status || $out != "$want_out" ]]; then
    echo "FAIL $name: status $status (want $want_status)"
    echo "--- got:"; echo "$out"; echo "--- want:"; echo "$want_out"
    fail=1
  else
    echo "ok   $name"
  fi
}
"$bin" --help | grep -q '^usage: jailwarden' || { echo "FAIL --help"; fail=1; }
"$bin" --version | grep -Eq '^jailwarden [0-9]+\.[0-9]+\.[0-9]+' || { echo "FAIL --version"; fail=1; }
for verb in $("$bin" --help | awk '/^verbs:/{on=1; next} on && !NF {exit} on {print $1}'); do
  if ! "$bin" "$verb" --help >/dev/null 2>&1; then
    echo "FAIL $verb --help"; fail=1
  else
    echo "ok   $verb --help"
  fi
done
check "check accepts and prints storage form" 0 \
  $'jail:www:memoryuse:deny=536870912\nuser:0:pcpu:deny=50/jail' -- \
  rctl --check 'j:www:memoryuse:deny=512m' 'u:root:pcpu:deny=50/jail'
check "check counts failures" 2 \
  $'jail:www:nthr:log=1\njailwarden rctl: failed to add rule \'jail:www:cputime:deny=10\': Operation not supported\njailwarden rctl: malformed rule \'jail:www:nthr:log=1x\': invalid numeric value \'1x\'' -- \
  rctl --check 'jail:www:nthr:log=1' 'jail:www:cputime:deny=10' 'jail:www:nthr:log=1x'
"$bin" nosuchverb >/dev/null 2>&1; [[ $? -eq 64 ]] || { echo "FAIL unknown verb exit status"; fail=1; }
exit $fail
