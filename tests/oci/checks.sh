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
# in_own_mount_namespace "$0" "$@": re-runs the calling script in a mount
# namespace of its own (private propagation), once. podman mounts each
# running container's /dev/shm (a tmpfs under its --root) in the namespace
# it runs in; the host's namespace is not the test's to mount in.
in_own_mount_namespace() {
  [[ -n ${JW_OCI_TEST_MOUNT_NS:-} ]] && return 0
  command -v unshare >/dev/null || skip "unshare not installed (util-linux)"
  JW_OCI_TEST_MOUNT_NS=1 exec unshare --mount --propagation private -- bash "$@"
}
