#include "jailwarden/jail/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/json_record.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/crash_point.h"

// The journal's nlohmann::json adapter: no exception leaves this file.

namespace jailwarden::jail {
namespace {

using nlohmann::json;

// An operation names a few jails or rules; anything larger is not a record.
constexpr std::size_t kMaxRecordBytes = 16u << 20;

bool IsStringList(const json& j) {
  return j.is_array() &&
         std::all_of(j.begin(), j.end(), [](const json& x) { return x.is_string(); });
}

// "op-<digits>.json" → the id; 0 for anything else.
uint64_t IdOfName(std::string_view n) {
  if (n.size() < 9 || n.substr(0, 3) != "op-" || n.substr(n.size() - 5) != ".json") return 0;
  uint64_t id = 0;
  for (char c : n.substr(3, n.size() - 8)) {
    if (c < '0' || c > '9' || id > (UINT64_MAX - 9) / 10) return 0;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  return id;
}

}  // namespace

bool JournalOp::Done(std::string_view step) const {
  return std::find(steps.begin(), steps.end(), step) != steps.end();
}

std::string JournalOp::Arg(std::string_view key) const {
  const std::vector<std::string>& l = List(key);
  return l.empty() ? std::string() : l.front();
}

const std::vector<std::string>& JournalOp::List(std::string_view key) const {
  static const std::vector<std::string> kNone;
  auto it = args.find(std::string(key));
  return it == args.end() ? kNone : it->second;
}

std::string JournalOpToJson(const JournalOp& op) {
  json args = json::object();
  for (const auto& [k, v] : op.args) args[k] = v;
  const json j = {{"version", 1}, {"id", op.id}, {"kind", op.kind},
                  {"args", args}, {"steps", op.steps}};
  return j.dump(1) + "\n";
}

absl::StatusOr<JournalOp> JournalOpFromJson(std::string_view text, std::string_view where) {
  JW_ASSIGN_OR_RETURN(json j, ParseVersionedRecord(text, where, 1));
  auto has = [&j](const char* key) { return j.contains(key); };
  if (!has("id") || !j["id"].is_number_unsigned() || j["id"].get<uint64_t>() == 0) {
    return RecordDataLoss(where, "\"id\" is not a positive integer");
  }
  if (!has("kind") || !j["kind"].is_string() || j["kind"].get<std::string>().empty()) {
    return RecordDataLoss(where, "\"kind\" is not a non-empty string");
  }
  if (!has("steps") || !IsStringList(j["steps"])) {
    return RecordDataLoss(where, "\"steps\" is not a list of strings");
  }
  if (!has("args") || !j["args"].is_object()) {
    return RecordDataLoss(where, "\"args\" is not an object");
  }
  JournalOp op;
  op.id = j["id"].get<uint64_t>();
  op.kind = j["kind"].get<std::string>();
  op.steps = j["steps"].get<std::vector<std::string>>();
  for (const auto& [k, v] : j["args"].items()) {
    if (!IsStringList(v)) return RecordDataLoss(where, StrCat("\"args\".\"", k, "\" is not a list of strings"));
    op.args[k] = v.get<std::vector<std::string>>();
  }
  return op;
}

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(std::string dir, bool fsync) {
  if (dir.empty() || dir[0] != '/') {
    return absl::InvalidArgumentError(StrCat("journal ", dir, ": not an absolute path"));
  }
  JW_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::unique_ptr<Journal> j(new Journal(std::move(dir), fsync));
  DIR* d = opendir(j->dir_.c_str());
  if (d == nullptr) return ErrnoStatus(errno, StrCat("opendir ", j->dir_));
  std::vector<std::string> stale;
  std::vector<uint64_t> ids;
  while (struct dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) {
      stale.push_back(StrCat(j->dir_, "/", n));
    } else if (const uint64_t id = IdOfName(n); id != 0) {
      ids.push_back(id);
    }
  }
  closedir(d);
  for (const std::string& path : stale) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, StrCat("remove ", path));
    }
    j->stale_removed_.push_back(path);
  }
  if (!stale.empty() && fsync) JW_RETURN_IF_ERROR(FsyncDir(j->dir_));
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    const std::string path = j->PathOf(id);
    JW_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxRecordBytes));
    JW_ASSIGN_OR_RETURN(JournalOp op, JournalOpFromJson(text, path));
    if (op.id != id) return RecordDataLoss(path, StrCat("\"id\" ", op.id, " does not match the file name"));
    j->pending_.push_back(std::move(op));
  }
  absl::MutexLock l(&j->mu_);
  if (!ids.empty()) j->next_id_ = ids.back() + 1;
  return j;
}

std::string Journal::PathOf(uint64_t id) const { return StrCat(dir_, "/op-", id, ".json"); }

absl::Status Journal::WriteLocked(const JournalOp& op) {
  return WriteFileAtomically(PathOf(op.id), JournalOpToJson(op), fsync_);
}

absl::StatusOr<uint64_t> Journal::Begin(std::string kind,
                                        std::map<std::string, std::vector<std::string>> args) {
  std::string point;
  uint64_t id = 0;
  {
    absl::MutexLock l(&mu_);
    JournalOp op;
    op.id = next_id_;
    op.kind = std::move(kind);
    op.args = std::move(args);
    JW_RETURN_IF_ERROR(WriteLocked(op));
    ++next_id_;
    id = op.id;
    point = StrCat(op.kind, ".begin");
    open_.emplace(id, std::move(op));
  }
  CrashPoint(point);
  return id;
}

absl::Status Journal::Step(uint64_t id, std::string step) {
  std::string point;
  {
    absl::MutexLock l(&mu_);
    auto it = open_.find(id);
    if (it == open_.end()) return absl::NotFoundError(StrCat("journal: no open operation ", id));
    JournalOp next = it->second;
    point = StrCat(next.kind, ".", step);
    next.steps.push_back(std::move(step));
    JW_RETURN_IF_ERROR(WriteLocked(next));
    it->second = std::move(next);
  }
  CrashPoint(point);
  return absl::OkStatus();
}

absl::Status Journal::End(uint64_t id) {
  std::string kind;
  {
    absl::MutexLock l(&mu_);
    auto it = open_.find(id);
    if (it != open_.end()) kind = it->second.kind;
  }
  if (kind.empty()) {
    for (const JournalOp& op : pending_) {
      if (op.id == id) kind = op.kind;
    }
  }
  if (!kind.empty()) CrashPoint(StrCat(kind, ".end"));
  absl::MutexLock l(&mu_);
  const std::string path = PathOf(id);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, StrCat("remove ", path));
  }
  open_.erase(id);
  if (fsync_) JW_RETURN_IF_ERROR(FsyncDir(dir_));
  return absl::OkStatus();
}

size_t Journal::open_count() const {
  absl::MutexLock l(&mu_);
  return open_.size();
}

}  // namespace jailwarden::jail
