#!/usr/bin/env bash
# Installs the Debian 12 packages jailwarden builds, tests and runs with.
# Idempotent and quiet when everything is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libabsl-dev prometheus-cpp-dev libyaml-cpp-dev
  libbenchmark-dev libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev
  clang libclang-rt-14-dev            # libFuzzer + sanitizers for fuzz/
  busybox-static                      # demo and test jail roots
  zlib1g-dev                          # gzip-compressed /metrics (Accept-Encoding: gzip)
  libseccomp-dev                      # the jail seccomp filter (libseccomp.a for jailwarden-init)
  libsystemd-dev                      # sd_notify (Type=notify: READY, WATCHDOG); sd-bus: jails' systemd scopes
  lintian man-db                      # the package test: lintian on the .deb, man -l on each page
  systemd                             # the unit test boots Debian's systemd in a container
  libarchive-dev                      # mkroot freebsd-base: extracts a FreeBSD release's base.txz
  libssl-dev                          # API TLS: key generation, pinning
  libcurl4-openssl-dev                # the CLI's transport (TLS, pinning, unix sockets)
  libmicrohttpd-dev                   # the API server: every listener, TLS (GnuTLS), HTTP Upgrade
  libgnutls28-dev                     # the TLS listeners' client-certificate check (api/mhd_tls.cc)
  iproute2 procps util-linux          # ip/veth, ps, unshare/nsenter
  jq curl                             # dashboard lint, e2e against Prometheus
  zsh                                 # the completion test: `zsh -n` on the generated _jailwarden
  prometheus                          # real Prometheus + promtool for tests
  podman conmon runc                  # tests/oci: real podman/conmon drive jailwarden-oci; runc is the bench baseline
  containerd crun                     # OCI peers for docs/oci.md (ctr --runc-binary; crun refuses hybrid cgroups here)
  bc                                  # bench/oci_bench.sh averages
  btrfs-progs                         # tests/integration: mkfs.btrfs/btrfs quota for linux.disk_quota's btrfs qgroup test (no ext4/xfs quota in the CI kernel)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
# The Debian prometheus package starts a system service on install; tests run
# their own instance on a private port, so the packaged one is not needed.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
