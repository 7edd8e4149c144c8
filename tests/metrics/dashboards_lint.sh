#!/usr/bin/env bash
# Structural checks of dashboards/*.json: valid JSON, Grafana 9+ schema, the
# datasource/instance/jail variables, every panel on the ${datasource}
# variable with a non-empty expr, and the per-jail page covering all 25 RACCT
# resources each with its limit overlaid. Needs jq (skip 77; fails under CI=true).
set -u
root=$1
if ! command -v jq >/dev/null; then
  echo "jq not found"
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi
fail=0
err() { echo "FAIL: $*"; fail=1; }
shopt -s nullglob
files=("$root"/dashboards/*.json)
((${#files[@]} >= 4)) || err "expected 4 dashboards, found ${#files[@]}"
for f in "${files[@]}"; do
  n=${f##*/}
  jq -e . "$f" >/dev/null || { err "$n: invalid JSON"; continue; }
  jq -e '.schemaVersion >= 39' "$f" >/dev/null || err "$n: schemaVersion < 39 (Grafana 10.4/11)"
  for a in "Jail (re)starts" "OOM kills" "Policy reloads" "Failed reloads"; do
    jq -e --arg a "$a" '[.annotations.list[] | select(.name==$a and .datasource.uid=="${datasource}" and ((.expr // "") != ""))] | length == 1' "$f" >/dev/null \
      || err "$n: no annotation \"$a\" on \${datasource} with an expr"
  done
  jq -e '.uid and .title' "$f" >/dev/null || err "$n: uid/title missing"
  jq -e '[.templating.list[] | select(.name=="datasource" and .type=="datasource" and .query=="prometheus")] | length == 1' "$f" >/dev/null \
    || err "$n: no datasource variable of type datasource (prometheus)"
  jq -e '[.templating.list[] | select(.name=="instance" and .type=="query")] | length == 1' "$f" >/dev/null \
    || err "$n: no instance variable"
  jq -e '[.templating.list[] | select(.name=="jail" and .type=="query" and (.definition | test("label_values\\(jail_id")))] | length == 1' "$f" >/dev/null \
    || err "$n: no jail variable on label_values(jail_id, name)"
  bad=$(jq -r '.panels[] | select(.type!="row") | select((.datasource.uid != "${datasource}") or ([.targets[] | select((.expr // "") == "" or .datasource.uid != "${datasource}")] | length > 0)) | .title' "$f")
  [[ -z $bad ]] || err "$n: panels without \${datasource} or with an empty expr: $bad"
  dup=$(jq -r '[.panels[].id] | group_by(.) | map(select(length>1)) | length' "$f")
  [[ $dup == 0 ]] || err "$n: duplicate panel ids"
done
jail="$root/dashboards/jailwarden-jail.json"
for r in cputime datasize stacksize coredumpsize memoryuse memorylocked maxproc openfiles \
         vmemoryuse pseudoterminals swapuse nthr msgqqueued msgqsize nmsgq nsem nsemop nshm \
         shmsize wallclock pcpu readbps writebps readiops writeiops; do
  c=$(jq --arg r "$r" '[.panels[] | select(.type=="timeseries") | select([.targets[].expr] | (any(test("^jail_" + $r + "(_bytes|_seconds_total|_used)?\\{")) and any(test("jailwarden_jail_limit(_[a-z_]+)?\\{.*resource=\"" + $r + "\""))))] | length' "$jail")
  [[ $c == 1 ]] || err "jailwarden-jail.json: resource $r has $c panels with usage + limit (want 1)"
done
# Every metric the README documents exists in the dashboards or alerts or is
# listed as not charted, and every metric the dashboards use is documented.
readme="$root/dashboards/README.md"
if [[ -f $readme ]]; then
  used=$(cat "${files[@]}" "$root"/dashboards/alerts/*.rules.yml \
         | sed -E 's/jailwarden_(jail_limit|rule_amount)(\(_\[a-z_\]\+\)\?|\.\*)//g'  | grep -v '^ *#' \
         | sed -E 's/[a-z_]+:[a-z_:]+//g' | grep -oE '\b(jail|jailwarden)_[a-z_]+' | sed -E 's/_(sum|count)$//' | sort -u)
  for m in $used; do
    grep -q "\`$m\`" "$readme" || err "README.md does not document $m"
  done
fi
((fail == 0)) && echo "dashboards: ${#files[@]} files OK"
exit $fail
