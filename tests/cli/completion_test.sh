#!/usr/bin/env bash
# The generated completion scripts, as the shells run them.
#  bash: sourced in `bash --norc`; completions asked for as bash's
#  programmable completion does (COMP_WORDS/COMP_CWORD, then the function
#  `complete -p jailwarden` names); COMPREPLY checked.
#  zsh: `zsh -n` (syntax) when zsh is installed (scripts/install-deps.sh
#  installs it); skipped with a message otherwise, a failure under CI=true.
# usage: completion_test.sh JAILWARDEN BASH_COMPLETION ZSH_COMPLETION
set -u
bin=$1
bash_file=$2
zsh_file=$3
fail=0

# complete WORD... : prints COMPREPLY, one per line, for the last word.
complete_words() {
  bash --norc --noprofile -c '
    source "$1"; shift
    spec=$(complete -p jailwarden) || { echo "no completion for jailwarden" >&2; exit 1; }
    fn=${spec#*-F }; fn=${fn%% *}
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    "$fn" jailwarden "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort
  ' completion "$bash_file" "$@"
}

expect() {  # expect NAME "WANT LINES" WORD...
  local name=$1 want=$2; shift 2
  local got
  got=$(complete_words "$@")
  if [[ $got != "$want" ]]; then
    echo "FAIL $name: completing '$*'"
    echo "--- got:"; echo "$got"; echo "--- want:"; echo "$want"
    fail=1
  else
    echo "ok   $name"
  fi
}

expect "verbs after st" $'start\nstatus\nstop' jailwarden st
expect "aliases too" $'list\nlogs\nls' jailwarden l
expect "jls" $'jls' jailwarden j
expect "verb after global options" $'rctl\nrestart\nrun' jailwarden -c /etc/x.yaml --json r
expect "global options before the verb" $'--token\n--token-file' jailwarden --tok
expect "an option after a verb" $'--names' jailwarden list --na
expect "create's options" $'--template' jailwarden create --temp
expect "rctl's options" $'--check' jailwarden rctl --che
expect "a global option after the verb" $'--cacert\n--config' jailwarden stop --c
# Jail names come from `jailwarden list --names` (the command being
# completed, here the built binary); with no daemon (JAILWARDEN_SERVER on a
# closed port) the completion is empty and quiet.
got=$(JAILWARDEN_SERVER=http://127.0.0.1:1 complete_words "$bin" stop w 2>&1)
if [[ -n $got ]]; then echo "FAIL jail names without a daemon: '$got'"; fail=1; else echo "ok   jail names without a daemon: none, quietly"; fi
# A file is completed after an option that takes one.
tmp=$(mktemp -d /tmp/jw-completion-XXXXXX)
touch "$tmp/policy.yaml"
expect "a value option completes files" "$tmp/policy.yaml" jailwarden apply -f "$tmp/pol"
rm -rf "$tmp"

if command -v zsh >/dev/null 2>&1; then
  if zsh -n "$zsh_file"; then echo "ok   zsh -n"; else echo "FAIL zsh -n"; fail=1; fi
  head -1 "$zsh_file" | grep -qx '#compdef jailwarden' || { echo "FAIL zsh: no #compdef"; fail=1; }
else
  echo "SKIP zsh -n: zsh is not installed (scripts/install-deps.sh installs it)"
  if [[ ${CI:-} == true ]]; then fail=1; fi
fi
exit $fail
