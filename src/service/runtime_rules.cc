#include "jailwarden/service/runtime_rules.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::service {
namespace {

using nlohmann::json;

// A record is a few rules per jail; anything larger is not one.
constexpr std::size_t kMaxRecordBytes = 64u << 20;

absl::Status DataLoss(std::string_view where, std::string_view why) {
  return absl::DataLossError(ToAbsl(StrCat(where, ": ", why)));
}

absl::StatusOr<std::vector<rctl::Rule>> RulesFrom(const json& j, const char* key,
                                                  std::string_view where) {
  std::vector<rctl::Rule> out;
  if (!j.contains(key)) return out;
  const json& list = j.at(key);
  if (!list.is_array()) return DataLoss(where, StrCat("\"", key, "\" is not a list"));
  for (const json& item : list) {
    if (!item.is_string()) {
      return DataLoss(where, StrCat("\"", key, "\" holds a non-string"));
    }
    const std::string text = item.get<std::string>();
    absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(text);
    if (!rule.ok()) {
      return DataLoss(where, StrCat("\"", key, "\": rule '", text,
                                    "': ", ToStd(rule.status().message())));
    }
    out.push_back(*std::move(rule));
  }
  return out;
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, StrCat("open ", dir));
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) return ErrnoStatus(err, StrCat("fsync ", dir));
  return absl::OkStatus();
}

}  // namespace

std::string RuntimeRulesToJson(const RuntimeRules& rules) {
  std::string out = "{\"version\": 1,\n";
  auto list = [&out](const char* key, const std::vector<rctl::Rule>& rs, bool last) {
    StrAppend(&out, " \"", key, "\": [");
    for (std::size_t i = 0; i < rs.size(); ++i) {
      StrAppend(&out, i == 0 ? "\n  " : ",\n  ", json(rctl::FormatRule(rs[i])).dump());
    }
    StrAppend(&out, rs.empty() ? "]" : "\n ]", last ? "\n" : ",\n");
  };
  list("added", rules.added, false);
  list("removed", rules.removed, true);
  out += "}\n";
  return out;
}

absl::StatusOr<RuntimeRules> RuntimeRulesFromJson(std::string_view text,
                                                  std::string_view where) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const std::exception& e) {
    return DataLoss(where, e.what());
  }
  if (!j.is_object()) return DataLoss(where, "not a JSON object");
  if (!j.contains("version") || !j.at("version").is_number_integer() ||
      j.at("version").get<int64_t>() != 1) {
    return DataLoss(where, "\"version\" is not 1");
  }
  RuntimeRules out;
  absl::StatusOr<std::vector<rctl::Rule>> added = RulesFrom(j, "added", where);
  if (!added.ok()) return added.status();
  absl::StatusOr<std::vector<rctl::Rule>> removed = RulesFrom(j, "removed", where);
  if (!removed.ok()) return removed.status();
  out.added = *std::move(added);
  out.removed = *std::move(removed);
  return out;
}

absl::StatusOr<RuntimeRules> LoadRuntimeRules(const std::string& path) {
  const std::string tmp = StrCat(path, ".tmp");
  if (unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, StrCat("remove ", tmp));
  }
  absl::StatusOr<std::string> text = ReadFile(path, kMaxRecordBytes);
  if (!text.ok()) {
    if (StatusErrno(text.status()) == ENOENT) return RuntimeRules{};
    return text.status();
  }
  return RuntimeRulesFromJson(*text, path);
}

absl::Status WriteFileDurably(const std::string& path, std::string_view contents) {
  const std::string tmp = StrCat(path, ".tmp");
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, StrCat("create ", tmp));
  auto fail = [&](int err, std::string_view step) {
    close(fd);
    unlink(tmp.c_str());
    return ErrnoStatus(err, StrCat(step, " ", tmp));
  };
  std::size_t off = 0;
  while (off < contents.size()) {
    const ssize_t n = write(fd, contents.data() + off, contents.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(n < 0 ? errno : EIO, "write");
    off += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0) return fail(errno, "fsync");
  if (close(fd) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus(err, StrCat("close ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus(err, StrCat("rename ", tmp));
  }
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return FsyncDir(".");
  return FsyncDir(slash == 0 ? "/" : path.substr(0, slash));
}

}  // namespace jailwarden::service
