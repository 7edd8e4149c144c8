# Sourced by the OCI tests first: how they skip and how they check.
# skip REASON: exit 77, or 1 under CI=true (a skip is a failure there).
# check NAME EXPECTED ACTUAL / contains NAME NEEDLE HAYSTACK: print
# "ok   NAME" or "FAIL NAME: ..." and set fail=1 on a mismatch; the test
# exits with $fail.
fail=0
skip() {
  echo "SKIP: $1"
  if [[ ${CI:-} == true ]]; then echo "(CI=true: a skip is a failure)"; exit 1; fi
  exit 77
}
check() {  # check NAME EXPECTED ACTUAL
  if [[ $2 == "$3" ]]; then echo "ok   $1"; else echo "FAIL $1: want '$2', got '$3'"; fail=1; fi
}
contains() {  # contains NAME NEEDLE HAYSTACK
  if [[ $3 == *"$2"* ]]; then echo "ok   $1"; else echo "FAIL $1: '$2' not in '$3'"; fail=1; fi
}
