#!/usr/bin/env bash
# Fails when a file of one layer includes a header of a layer it may not use.
# The allowed edges are ../shared/design/architecture.md §3 ("may use"),
# closed transitively. Checks include/jailwarden/<layer>/ and src/<layer>/.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
declare -A direct=(
  [base]=""
  [rctl]="base"
  [platform]="rctl base"
  [racct]="rctl platform base"
  [engine]="rctl racct base"
  [jail]="platform rctl base"
  [policy]="rctl jail base"
  [metrics]="racct engine base"
  [api]="jail rctl racct engine policy base"
  [service]="base rctl platform racct engine jail policy metrics api"
  [selftest]="platform rctl base"
  [oci]="platform rctl base"
  [cli]="api policy selftest base oci"
)
closure() {  # prints the layers $1 may include, itself among them
  local todo=("$1") seen=" $1 " l d
  while ((${#todo[@]})); do
    l=${todo[0]}; todo=("${todo[@]:1}")
    for d in ${direct[$l]}; do
      [[ $seen == *" $d "* ]] || { seen+="$d "; todo+=("$d"); }
    done
  done
  echo "$seen"
}
fail=0 checked=0
for layer in "${!direct[@]}"; do
  allowed=$(closure "$layer")
  for dir in "$root/include/jailwarden/$layer" "$root/src/$layer"; do
    [[ -d $dir ]] || continue
    while IFS= read -r -d '' f; do
      checked=$((checked + 1))
      while IFS= read -r used; do
        [[ -z $used ]] && continue
        if [[ $allowed != *" $used "* ]]; then
          echo "layering violation: ${f#$root/} (layer $layer) includes jailwarden/$used/"
          fail=1
        fi
      done < <(sed -n 's|^[[:space:]]*#[[:space:]]*include[[:space:]]*"jailwarden/\([a-z_]*\)/.*|\1|p' "$f" | sort -u)
    done < <(find "$dir" -type f \( -name '*.h' -o -name '*.cc' \) -print0)
  done
done
echo "layering: checked $checked files"
exit $fail
