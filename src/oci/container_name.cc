// The container's name for the daemon (container_name.h).

#include "oci/container_name.h"

#include <unistd.h>

#include <climits>

#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::oci {

std::string ConmonName(const std::vector<std::string>& argv, const std::string& id) {
  std::string cid, name;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    const bool has_next = i + 1 < argv.size();
    if ((a == "-c" || a == "--cid") && has_next) {
      cid = argv[++i];
    } else if (a.rfind("--cid=", 0) == 0) {
      cid = a.substr(6);
    } else if ((a == "-n" || a == "--name") && has_next) {
      name = argv[++i];
    } else if (a.rfind("--name=", 0) == 0) {
      name = a.substr(7);
    }
  }
  return cid == id ? name : "";
}

std::string ContainerName(const std::map<std::string, std::string>& annotations,
                          const std::string& id) {
  if (auto it = annotations.find(kNameAnnotation); it != annotations.end()) {
    return it->second;
  }
  const pid_t parent = getppid();
  const std::string proc = StrCat("/proc/", parent);
  char exe[PATH_MAX];
  ssize_t n = readlink((proc + "/exe").c_str(), exe, sizeof(exe) - 1);
  if (n <= 0) {
    return "";
  }
  exe[n] = '\0';
  std::string_view base(exe);
  base = base.substr(base.rfind('/') + 1);
  if (base != "conmon") {
    return "";
  }
  absl::StatusOr<std::string> cmdline = ReadFile(proc + "/cmdline", 1 << 20);
  // Still our parent after the read: the text was conmon's, not that of
  // a process that took its pid after it exited.
  if (!cmdline.ok() || getppid() != parent) {
    return "";
  }
  std::vector<std::string> argv;
  for (std::string_view part : Split(*cmdline, '\0')) {
    argv.emplace_back(part);
  }
  return ConmonName(argv, id);
}

}  // namespace jailwarden::oci
