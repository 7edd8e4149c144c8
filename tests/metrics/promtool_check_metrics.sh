#!/usr/bin/env bash
# `promtool check metrics` must print nothing for a real render.
# Skips (77) without promtool, except under CI=true where that fails.
set -u
fixture=$1
promtool=${PROMTOOL:-$(command -v promtool || true)}
if [[ -z $promtool ]]; then
  echo "promtool not found (Debian package 'prometheus')"
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi
text=$("$fixture" 2) || { echo "fixture failed"; exit 1; }
lines=$(printf '%s\n' "$text" | grep -vc '^#')
out=$(printf '%s\n' "$text" | "$promtool" check metrics 2>&1)
rc=$?
if [[ $rc -ne 0 || -n $out ]]; then
  echo "promtool check metrics (rc=$rc) complained:"
  echo "$out"
  exit 1
fi
echo "promtool check metrics: clean ($lines samples)"
