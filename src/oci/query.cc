// list, ps, pause/resume, update, features (runtime.h).

#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "absl/time/clock.h"

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/version.h"
#include "oci/limits.h"
#include "oci/runtime.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "platform/linux/cgroup.h"

namespace jailwarden::oci {

using json = nlohmann::json;

absl::Status List(const GlobalOptions& g, bool as_json, bool quiet, std::ostream& out) {
  json all = json::array();
  if (!as_json && !quiet) {
    out << "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n";
  }
  for (const std::string& id : ListIds(g.root)) {
    absl::StatusOr<ContainerRecord> rec = LoadRecord(g.root, id);
    if (!rec.ok()) {
      continue;
    }
    json s = json::parse(StateJson(g.root, *rec));
    if (as_json) {
      all.push_back(s);
    } else if (quiet) {
      out << id << "\n";
    } else {
      out << id << "\t" << s["pid"].get<int64_t>() << "\t" << s["status"].get<std::string>()
          << "\t" << rec->bundle << "\t" << rec->created << "\troot\n";
    }
  }
  if (as_json) {
    out << all.dump() << "\n";
  }
  return absl::OkStatus();
}

absl::Status Ps(const GlobalOptions& g, const std::string& id, bool as_json, std::ostream& out) {
  JW_ASSIGN_OR_RETURN(ContainerRecord rec, LoadRecord(g.root, id));
  JW_ASSIGN_OR_RETURN(std::vector<int64_t> pids,
                      platform::CgroupLayout::ReadProcs(
                          platform::CgroupLayout::MembershipDir(rec.backend_state)));
  if (as_json) {
    out << json(pids).dump() << "\n";
    return absl::OkStatus();
  }
  out << "PID\tCMD\n";
  for (int64_t pid : pids) {
    absl::StatusOr<std::string> comm = ReadFile(StrCat("/proc/", pid, "/comm"), 256);
    out << pid << "\t" << (comm.ok() ? std::string(StripWhitespace(*comm)) : "?") << "\n";
  }
  return absl::OkStatus();
}

absl::Status Pause(const GlobalOptions& g, const std::string& id, bool pause) {
  JW_ASSIGN_OR_RETURN(ContainerRecord rec, LoadRecord(g.root, id));
  std::string status = StatusOf(g.root, rec);
  if (pause && status != "running") {
    return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
  }
  if (!pause && status != "paused") {
    return absl::FailedPreconditionError(StrCat("container ", id, " is not paused"));
  }
  // The freezer of the jail's cgroup (v1 freezer.state, v2 cgroup.freeze).
  std::string file, value;
  if (auto it = rec.backend_state.find("cgroup.freezer"); it != rec.backend_state.end()) {
    file = it->second + "/freezer.state";
    value = pause ? "FROZEN" : "THAWED";
  } else if (auto u = rec.backend_state.find("cgroup.unified"); u != rec.backend_state.end()) {
    file = u->second + "/cgroup.freeze";
    value = pause ? "1" : "0";
  } else {
    return absl::FailedPreconditionError("no freezer cgroup recorded for " + id);
  }
  int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, value.data(), value.size()) < 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    return ErrnoStatus(err, "write " + value + " to " + file);
  }
  close(fd);
  if (!pause) {
    return absl::OkStatus();
  }
  // Freezing is asynchronous (v1 FREEZING, v2 "frozen 0" in cgroup.events
  // until every task stopped): `pause` answers once nothing runs, as runc.
  const bool v1 = value == "FROZEN";
  const std::string done_file =
      v1 ? file : file.substr(0, file.rfind('/')) + "/cgroup.events";
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  for (;;) {
    absl::StatusOr<std::string> now = ReadFile(done_file, 4096);
    if (now.ok() && (v1 ? now->rfind("FROZEN", 0) == 0
                        : now->find("frozen 1") != std::string::npos)) {
      return absl::OkStatus();
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(StrCat("container ", id, " not frozen after 5 s (",
                                                done_file, ")"));
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
}

absl::Status Update(const GlobalOptions& g, const std::string& id,
                    const std::string& resources_file) {
  JW_ASSIGN_OR_RETURN(ContainerRecord rec, LoadRecord(g.root, id));
  std::string text;
  if (resources_file == "-" || resources_file.empty()) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    JW_ASSIGN_OR_RETURN(text, ReadFile(resources_file, 1 << 20));
  }
  JW_ASSIGN_OR_RETURN(std::vector<std::string> rules,
                      RulesFromResources(text, "--resources"));
  // Resources replace the resource-derived rules; annotation rules stay.
  JW_ASSIGN_OR_RETURN(std::vector<std::string> annotated, RulesFromAnnotations(rec.annotations));
  // An update names only what changes: rules for resources it leaves out
  // stay as they were.
  std::vector<std::string> merged;
  auto resource_of = [](const std::string& r) { return r.substr(0, r.find(':')); };
  for (const std::string& old : rec.rules) {
    bool replaced = false;
    for (const std::string& r : rules) {
      replaced = replaced || resource_of(r) == resource_of(old);
    }
    if (!replaced) {
      merged.push_back(old);
    }
  }
  merged.insert(merged.end(), rules.begin(), rules.end());
  JW_RETURN_IF_ERROR(ApplyLimits(id, rec, merged, g.debug));
  rec.rules = merged;
  return SaveRecord(g.root, rec);
}

void Features(std::ostream& out) {
  json j;
  j["ociVersionMin"] = "1.0.0";
  j["ociVersionMax"] = "1.1.0";
  // Exactly the hooks create/start/delete run: all six of the spec.
  j["hooks"] = {"prestart",       "createRuntime", "createContainer",
                "startContainer", "poststart",     "poststop"};
  j["mountOptions"] = {"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "private",
                       "rprivate", "relatime"};
  j["linux"]["namespaces"] = {"cgroup", "ipc", "mount", "network", "pid", "uts"};
  j["linux"]["cgroup"] = {{"v1", true}, {"v2", true}, {"systemd", false}};
  j["linux"]["seccomp"] = {{"enabled", true}};
  j["annotations"]["org.jailwarden.version"] = kVersion;
  out << j.dump(2) << "\n";
}

}  // namespace jailwarden::oci
