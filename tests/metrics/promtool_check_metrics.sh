#!/usr/bin/env bash
# A real render in both exposition formats, checked by Prometheus' own tools:
#   classic text 0.0.4: `promtool check metrics` must print nothing;
#   OpenMetrics 1.0.0: Prometheus' strict OpenMetrics parser (through
#   `promtool tsdb create-blocks-from openmetrics`, which needs a timestamp
#   per sample, so one is appended) must accept it: `# EOF`, counter families
#   without `_total`, every `# UNIT` a suffix of its family.
# (`promtool check metrics` of Debian's Prometheus 2.42 reads only the classic
# format: on OpenMetrics it takes the counter family `a` and its sample
# `a_total` for two families, so it is not the judge of that format; the
# OpenMetrics parser above is, and tests/e2e has real Prometheus scrape
# OpenMetrics, which it asks for by default.)
# Skips (77) without promtool, except under CI=true where that fails.
set -u
fixture=$1
promtool=${PROMTOOL:-$(command -v promtool || true)}
if [[ -z $promtool ]]; then
  echo "promtool not found (Debian package 'prometheus')"
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi
fail=0
text=$("$fixture" 2) || { echo "fixture failed"; exit 1; }
lines=$(printf '%s\n' "$text" | grep -vc '^#')
out=$(printf '%s\n' "$text" | "$promtool" check metrics 2>&1)
rc=$?
if [[ $rc -ne 0 || -n $out ]]; then
  echo "promtool check metrics (classic, rc=$rc) complained:"
  echo "$out"
  fail=1
else
  echo "promtool check metrics (classic): clean ($lines samples)"
fi

om=$("$fixture" 2 openmetrics) || { echo "fixture failed (openmetrics)"; exit 1; }
[[ $(printf '%s\n' "$om" | tail -1) == "# EOF" ]] || { echo "OpenMetrics text does not end in # EOF"; fail=1; }
tmp=$(mktemp -d /tmp/jw-om.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
ts=$(date +%s)
printf '%s\n' "$om" | awk -v ts="$ts" '/^#/ {print; next} NF {print $0 " " ts}' >"$tmp/om.txt"
if ! out=$("$promtool" tsdb create-blocks-from openmetrics "$tmp/om.txt" "$tmp/db" 2>&1); then
  echo "Prometheus' OpenMetrics parser refused the OpenMetrics render:"
  echo "$out"
  fail=1
else
  om_lines=$(grep -vc '^#' "$tmp/om.txt")
  echo "OpenMetrics: parsed by promtool tsdb create-blocks-from openmetrics ($om_lines samples)"
fi
exit $fail
