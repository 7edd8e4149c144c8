# Sourced by the OCI tests: removes the runtime's shared parent cgroup
# (jailwarden-oci) below this shell's own cgroup in every hierarchy
# (v1 controllers by their /proc/self/cgroup path, the unified tree), once
# no container is left in it: rmdir refuses a cgroup with children or
# processes, so nothing else is touched.
remove_oci_parent_cgroups() {
  local _ ctrls path c
  while IFS=: read -r _ ctrls path; do
    if [[ -z $ctrls ]]; then
      for base in /sys/fs/cgroup/unified /sys/fs/cgroup; do
        [[ -d $base$path/jailwarden-oci ]] && rmdir "$base$path/jailwarden-oci" 2>/dev/null
      done
      continue
    fi
    ctrls=${ctrls#name=}
    for c in "$ctrls" ${ctrls//,/ }; do
      [[ -d /sys/fs/cgroup/$c$path/jailwarden-oci ]] && rmdir "/sys/fs/cgroup/$c$path/jailwarden-oci" 2>/dev/null
    done
  done </proc/self/cgroup
  return 0
}
