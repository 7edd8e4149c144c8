#!/usr/bin/env bash
# Every exit status the CLI can return is documented in jailwarden(8)'s
# EXIT STATUS section (issue 19): the codes `jailwarden --help` lists and
# every sysexits(3) name the CLI's sources return, looked up in
# <sysexits.h>, each an entry of the rendered section.
#
#   exit_codes_man_test.sh JAILWARDEN SOURCE_DIR
#
# Exit 0 pass, 1 fail, 77 skip (no man; a failure under CI=true).
set -uo pipefail
jw=${1:?usage: exit_codes_man_test.sh JAILWARDEN SOURCE_DIR}
src=${2:?usage: exit_codes_man_test.sh JAILWARDEN SOURCE_DIR}
if ! command -v man >/dev/null; then
  echo "SKIP: man not found (scripts/install-deps.sh installs man-db)"
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi
section=$(MANWIDTH=80 man -l "$src/man/jailwarden.8" 2>/dev/null | col -b |
  sed -n '/^EXIT STATUS/,/^[A-Z]/p')
[[ -n $section ]] || { echo "FAIL: no EXIT STATUS section in jailwarden(8)"; exit 1; }
documented=$(grep -oE '^ {7}[0-9]+' <<<"$section" | tr -d ' ' | sort -un)
echo "jailwarden(8) documents: $(echo $documented)"
fail=0
want() {  # want CODE WHERE
  if grep -qx "$1" <<<"$documented"; then echo "ok   $1 ($2)"; else echo "FAIL $1 ($2) is not in jailwarden(8) EXIT STATUS"; fail=1; fi
}
help=$("$jw" --help) || { echo "FAIL: jailwarden --help"; exit 1; }
for code in $(sed -n '/^exit status/,$p' <<<"$help" | grep -oE '^  [0-9]+ ' | tr -d ' '); do
  want "$code" "jailwarden --help"
done
for name in $(grep -ohE '\bEX_[A-Z]+\b' "$src"/src/cli/*.cc "$src"/src/cli/*.h | sort -u); do
  code=$(awk -v n="$name" '$1 == "#define" && $2 == n {print $3}' /usr/include/sysexits.h)
  [[ -n $code ]] || { echo "FAIL: $name is not in <sysexits.h>"; fail=1; continue; }
  want "$code" "$name in src/cli"
done
exit $fail
