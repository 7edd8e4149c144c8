#include "oci/state.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::oci {

using json = nlohmann::json;

std::string ContainerDir(const std::string& root, const std::string& id) {
  return root + "/" + id;
}

absl::StatusOr<ContainerRecord> ParseRecord(const std::string& text, const std::string& what) {
  try {
    json j = json::parse(text);
    ContainerRecord r;
    r.id = j.at("id").get<std::string>();
    r.bundle = j.value("bundle", "");
    r.created = j.value("created", "");
    r.name = j.value("name", "");
    r.pid = j.value("pid", int64_t{-1});
    r.pid_starttime = j.value("pid_starttime", uint64_t{0});
    r.creating = j.value("creating", true);
    r.annotations = j.value("annotations", std::map<std::string, std::string>{});
    r.backend_state = j.value("backend_state", std::map<std::string, std::string>{});
    r.rules = j.value("rules", std::vector<std::string>{});
    r.seccomp_bpf_hex = j.value("seccomp_bpf_hex", "");
    r.capabilities = j.value("capabilities", uint64_t{0});
    r.poststop_hooks = j.value("poststop_hooks", std::vector<std::string>{});
    r.poststart_hooks = j.value("poststart_hooks", std::vector<std::string>{});
    return r;
  } catch (const std::exception& e) {
    return absl::DataLossError(StrCat(what, ": ", e.what()));
  }
}

absl::StatusOr<ContainerRecord> LoadRecord(const std::string& root, const std::string& id) {
  if (id.empty() || id.find('/') != std::string::npos || id[0] == '.') {
    return absl::InvalidArgumentError(StrCat("invalid container id '", id, "'"));
  }
  absl::StatusOr<std::string> text = ReadFile(ContainerDir(root, id) + "/state.json", 1 << 22);
  if (!text.ok()) {
    return absl::NotFoundError(StrCat("container ", id, " does not exist"));
  }
  return ParseRecord(*text, StrCat(root, "/", id, "/state.json"));
}

absl::Status SaveRecord(const std::string& root, const ContainerRecord& r) {
  json j;
  j["id"] = r.id;
  j["bundle"] = r.bundle;
  j["created"] = r.created;
  j["name"] = r.name;
  j["pid"] = r.pid;
  j["pid_starttime"] = r.pid_starttime;
  j["creating"] = r.creating;
  j["annotations"] = r.annotations;
  j["backend_state"] = r.backend_state;
  j["rules"] = r.rules;
  j["seccomp_bpf_hex"] = r.seccomp_bpf_hex;
  j["capabilities"] = r.capabilities;
  j["poststop_hooks"] = r.poststop_hooks;
  j["poststart_hooks"] = r.poststart_hooks;
  return WriteFileAtomically(ContainerDir(root, r.id) + "/state.json", j.dump());
}

std::vector<std::string> ListIds(const std::string& root) {
  std::vector<std::string> ids;
  DIR* d = opendir(root.c_str());
  if (d == nullptr) {
    return ids;
  }
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name[0] == '.') {
      continue;
    }
    if (access((root + "/" + name + "/state.json").c_str(), F_OK) == 0) {
      ids.push_back(name);
    }
  }
  closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

uint64_t ProcessStartTime(int64_t pid) {
  if (pid <= 0) {
    return 0;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) {
    return 0;
  }
  std::istringstream rest(text.substr(paren + 2));
  std::string field;
  // Fields 3.. follow ")": the start time is field 22, the 20th from here.
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 3 && field == "Z") {
      return 0;  // a zombie: the container's process has exited
    }
    if (i == 22) {
      return std::stoull(field);
    }
  }
  return 0;
}

std::string StatusOf(const std::string& root, const ContainerRecord& r) {
  if (r.creating) {
    return "creating";
  }
  if (r.pid <= 0 || ProcessStartTime(r.pid) != r.pid_starttime) {
    return "stopped";
  }
  if (access((ContainerDir(root, r.id) + "/exec.fifo").c_str(), F_OK) == 0) {
    return "created";
  }
  auto it = r.backend_state.find("cgroup.freezer");
  std::string freezer;
  if (it != r.backend_state.end()) {
    absl::StatusOr<std::string> s = ReadFile(it->second + "/freezer.state", 64);
    if (s.ok() && s->rfind("FROZEN", 0) == 0) {
      return "paused";
    }
  } else if (auto u = r.backend_state.find("cgroup.unified"); u != r.backend_state.end()) {
    absl::StatusOr<std::string> s = ReadFile(u->second + "/cgroup.freeze", 16);
    if (s.ok() && s->rfind("1", 0) == 0) {
      return "paused";
    }
  }
  return "running";
}

std::string StateJson(const std::string& root, const ContainerRecord& r) {
  json j;
  j["ociVersion"] = "1.0.2";
  j["id"] = r.id;
  j["status"] = StatusOf(root, r);
  std::string status = j["status"];
  // While creating, the pid is there once the process exists (the
  // create-phase hooks get it, as the runtime spec's state says).
  bool alive = r.pid > 0 && r.pid_starttime != 0 && ProcessStartTime(r.pid) == r.pid_starttime;
  if (status != "stopped" && (status != "creating" || alive)) {
    j["pid"] = r.pid;
  } else {
    j["pid"] = 0;
  }
  j["bundle"] = r.bundle;
  j["rootfs"] = r.bundle + "/rootfs";
  j["created"] = r.created;
  j["owner"] = "";
  j["annotations"] = r.annotations;
  return j.dump(2);
}

}  // namespace jailwarden::oci
