#include "jailwarden/service/policy_record.h"

#include <unistd.h>

#include <cerrno>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::service {

namespace {
constexpr std::string_view kRecordHeader = "# jailwarden's policy of record, from `";
}  // namespace

std::string PolicyRecordPath(std::string_view state_dir) {
  return StrCat(state_dir, "/", kPolicyRecordFile);
}

absl::Status WritePolicyRecord(std::string_view state_dir, std::string_view text,
                               std::string_view filename) {
  std::string from(filename);
  for (char& c : from) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  // A comment: the YAML loads the same, and an operator reading the file
  // learns what it is.
  // "set NAME" is what `jailwarden set` applied (Reloader::SetJailKeys).
  const std::string how =
      StartsWith(from, "set ") ? StrCat("jailwarden ", from) : StrCat("jailwarden apply -f ", from);
  const std::string contents =
      StrCat(kRecordHeader, how,
             "`: used at start-up instead of the configuration file's jails, templates "
             "and rules until SIGHUP or an apply of the configuration file.\n",
             text, text.empty() || text.back() == '\n' ? "" : "\n");
  return WriteFileAtomically(PolicyRecordPath(state_dir), contents);
}

std::string_view StripPolicyRecordHeader(std::string_view text) {
  if (text.substr(0, kRecordHeader.size()) != kRecordHeader) return text;
  const std::size_t nl = text.find('\n');
  return nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
}

absl::Status DropPolicyRecord(std::string_view state_dir) {
  const std::string path = PolicyRecordPath(state_dir);
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus(errno, StrCat("unlink ", path));
  }
  return FsyncDir(std::string(state_dir));
}

absl::StatusOr<policy::Policy> PolicyToStartWith(policy::Policy configured,
                                                 const std::string& config_path) {
  if (config_path.empty()) return configured;
  const std::string path = PolicyRecordPath(configured.server.state_dir);
  if (access(path.c_str(), F_OK) != 0) return configured;
  absl::StatusOr<policy::Policy> recorded = policy::LoadPolicyFile(path);
  if (!recorded.ok()) {
    return absl::FailedPreconditionError(ToAbsl(StrCat(
        "the policy of record ", path, " (written by `jailwarden apply -f`) is refused:\n",
        ToStd(recorded.status().message()), "\nfix it, or remove it to start with ",
        config_path)));
  }
  recorded->server = std::move(configured.server);
  LogInfo("starting with the policy of record instead of the configuration file's",
          {{"file", path},
           {"config", config_path},
           {"why", "the last `apply -f` applied another file; SIGHUP or `apply -f` of the "
                   "configuration file returns to it"}});
  return recorded;
}

}  // namespace jailwarden::service
