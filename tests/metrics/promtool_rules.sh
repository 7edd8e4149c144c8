#!/usr/bin/env bash
# promtool check rules / test rules over dashboards/alerts.
# Skips (77) without promtool, except under CI=true where that fails.
set -u
mode=$1 dir=$2
promtool=${PROMTOOL:-$(command -v promtool || true)}
if [[ -z $promtool ]]; then
  echo "promtool not found (Debian package 'prometheus')"
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi
shopt -s nullglob
case $mode in
  check) files=("$dir"/*.rules.yml) ;;
  test)  files=("$dir"/*_test.yml) ;;
  *) echo "usage: $0 check|test DIR"; exit 2 ;;
esac
if ((${#files[@]} == 0)); then
  echo "no files for '$mode' in $dir"
  exit 1
fi
cd "$dir" && "$promtool" "$mode" rules "${files[@]##*/}"
