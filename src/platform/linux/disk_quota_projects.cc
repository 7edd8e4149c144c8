#include "platform/linux/disk_quota_projects.h"

#include <cerrno>
#include <set>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/disk_quota.h"

namespace jailwarden::platform {
namespace {

constexpr std::size_t kMaxTableBytes = std::size_t{4} << 20;

}  // namespace

absl::StatusOr<std::map<std::string, uint32_t>> DiskQuotaProjects::LoadLocked() const {
  std::map<std::string, uint32_t> table;
  absl::StatusOr<std::string> text = ReadFile(file_, kMaxTableBytes);
  if (!text.ok()) {
    if (StatusErrno(text.status()) == ENOENT) {
      return table;
    }
    return text.status();
  }
  std::set<uint32_t> ids;
  int line_no = 0;
  for (std::string_view line : Split(*text, '\n')) {
    ++line_no;
    if (line.empty()) {
      continue;
    }
    const std::vector<std::string_view> f = SplitWhitespace(line);
    const std::optional<int64_t> id = f.size() == 2 ? ParseInt<int64_t>(f[0]) : std::nullopt;
    const bool in_range = id.has_value() && *id >= kFirstDiskQuotaProject &&
                          *id < int64_t{kFirstDiskQuotaProject} + kDiskQuotaProjects;
    if (!in_range || table.count(std::string(f[1])) != 0 ||
        !ids.insert(static_cast<uint32_t>(*id)).second) {
      return absl::DataLossError(StrCat(file_, ":", line_no, ":1: not \"ID NAME\" with an id in ",
                                        kFirstDiskQuotaProject, "..",
                                        kFirstDiskQuotaProject + kDiskQuotaProjects - 1,
                                        " held by one name only: '", line, "'"));
    }
    table[std::string(f[1])] = static_cast<uint32_t>(*id);
  }
  return table;
}

absl::Status DiskQuotaProjects::StoreLocked(const std::map<std::string, uint32_t>& table) {
  std::string text;
  for (const auto& [name, id] : table) {
    StrAppend(&text, id, " ", name, "\n");
  }
  return WriteFileAtomically(file_, text);
}

absl::StatusOr<uint32_t> DiskQuotaProjects::Allocate(std::string_view name,
                                                     const InUse& in_use) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::map<std::string, uint32_t>> table = LoadLocked();
  if (!table.ok()) {
    return table.status();
  }
  if (auto it = table->find(std::string(name)); it != table->end()) {
    return it->second;
  }
  std::set<uint32_t> held;
  for (const auto& [n, id] : *table) {
    held.insert(id);
  }
  const uint32_t start = DiskQuotaProject(name) - kFirstDiskQuotaProject;
  for (uint32_t i = 0; i < kDiskQuotaProjects; ++i) {
    const uint32_t id = kFirstDiskQuotaProject + (start + i) % kDiskQuotaProjects;
    if (held.count(id) != 0 || (in_use && in_use(id))) {
      continue;
    }
    (*table)[std::string(name)] = id;
    if (absl::Status st = StoreLocked(*table); !st.ok()) {
      return st;
    }
    return id;
  }
  return absl::ResourceExhaustedError(
      StrCat("linux.disk_quota: every project id of jailwarden's range is held or in use (",
             file_, ")"));
}

absl::Status DiskQuotaProjects::Release(std::string_view name) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::map<std::string, uint32_t>> table = LoadLocked();
  if (!table.ok()) {
    return table.status();
  }
  if (table->erase(std::string(name)) == 0) {
    return absl::OkStatus();
  }
  return StoreLocked(*table);
}

absl::StatusOr<std::map<std::string, uint32_t>> DiskQuotaProjects::Read() const {
  absl::MutexLock lock(&mu_);
  return LoadLocked();
}

}  // namespace jailwarden::platform
