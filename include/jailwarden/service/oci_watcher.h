#pragma once

// service::OciWatcher: the OCI containers `jailwarden oci` made, shown by
// the daemon read-only (docs/oci.md, "Daemon visibility"). Each
// maintenance pass reads the runtime roots through an OciScanner (the oci
// layer's ObserveRoot, handed in by src/main.cc: the service layer does
// not include the oci layer), samples every container that is created,
// running or paused through JailRegistry::ObserveReadOnly (the usage
// reader only) and publishes a table: the jail list, GET /v1/jails and
// /metrics read it. The daemon never stops, limits or destroys a
// container; calls that would are refused (RefuseChange).
//
// Names: a container is listed under the name its runtime recorded
// (podman's container name; docs/oci.md, "Names") when that is a valid jail
// name (policy::JailNameProblem) not taken by a jailwarden jail or an
// older container (by `created`; records of one root are taken oldest
// first, so the holder keeps it); else, reported (logged once), under its
// id. An id that is
// then taken too (a jailwarden jail, defined, running or not, or a
// container of an earlier root) is reported and not adopted: never merged.
//
// Thread-safety: Refresh runs on the maintenance thread only; Current and
// RefuseChange are thread-safe and never wait on Refresh.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/jail/manager.h"
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/racct/shared_slot.h"
#include "jailwarden/service/host_backend.h"
#include "jailwarden/service/jail_registry.h"

namespace jailwarden::service {

// One container as its runtime record says.
struct OciContainer {
  std::string id;
  // The name the runtime chose (podman's container name, annotation
  // org.jailwarden.name; "" = none). Refresh replaces it with the name the
  // container is shown under: this one when it is a valid jail name that
  // no jailwarden jail or other container has, else the id.
  std::string name;
  std::string bundle;
  std::string created;  // RFC 3339
  std::string status;   // created, running, paused, stopped
  int64_t pid = -1;     // host pid of its process
  // cgroup.<hierarchy>, cgroup_leaf, cgroup.version, init.pid.
  std::map<std::string, std::string> backend_state;
  std::vector<std::string> rules;  // rctl form without "jail:<id>:"
};

struct OciRootScan {
  std::vector<OciContainer> containers;
  std::vector<std::string> skipped;  // "<root>/<id>: why", logged once each
};

// Reads one runtime root; an error when the root cannot be trusted or read
// (logged once per distinct message; its containers are then not shown).
using OciScanner = std::function<absl::StatusOr<OciRootScan>(const std::string& root)>;

class OciWatcher {
 public:
  struct Adopted {
    OciContainer container;
    std::string root;
    bool sampled = false;  // registered with the usage reader
    // The container's rules as this host's enforcer describes them (the
    // runtime applied them through the same enforcer code).
    std::vector<platform::Enforcement> limits;
  };
  struct Table {
    std::vector<Adopted> containers;  // by root, then id
    // Every container's limits, one vector; the same pointer while the
    // rules do not change (MetricsSources::enforcements).
    std::shared_ptr<const std::vector<platform::Enforcement>> enforcements;
    const Adopted* Find(std::string_view name) const;
  };

  // `registry` and `backend` must outlive the watcher. No roots or no
  // scanner: the table stays empty.
  OciWatcher(std::vector<std::string> roots, OciScanner scanner, JailRegistry& registry,
             HostBackend& backend);

  // One pass (maintenance thread): scan, adopt, forget, publish. `native`
  // is the daemon's jail list (JailRegistry::Records).
  void Refresh(const std::vector<jail::JailRecord>& native);

  std::shared_ptr<const Table> Current() const { return table_.Load(); }

  // OK unless `name` is an adopted container; then FailedPrecondition
  // saying that `what` ("stop", "rctl -a", ...) is refused and why.
  absl::Status RefuseChange(std::string_view name, std::string_view what) const;

 private:
  // Logs `message` once while it keeps recurring (a message absent from a
  // pass is forgotten, so it is logged again if it returns).
  void Report(const std::string& message, const std::string& root);

  const std::vector<std::string> roots_;
  const OciScanner scanner_;
  JailRegistry& registry_;
  HostBackend& backend_;
  std::set<std::string> reported_, reported_now_;  // maintenance thread only
  std::set<std::string> sampled_;                   // maintenance thread only
  racct::SharedSlot<const Table> table_;
};

}  // namespace jailwarden::service
