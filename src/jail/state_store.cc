#include "jailwarden/jail/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jail/internal/spec_json.h"

// With spec_codec.cc, the jail layer's nlohmann::json adapter: every
// exception it throws stops in these two files (style.md "Errors").

namespace jailwarden::jail {
namespace {

using nlohmann::json;

absl::Status ParseError(const std::exception& e, std::string_view what) {
  return absl::InvalidArgumentError(StrCat(what, ": ", internal::JsonExceptionText(e)));
}

// ReadFile's text, or "" with the errno in `*err`.
std::string ReadAll(const std::string& path, int* err) {
  absl::StatusOr<std::string> text = ReadFile(path);
  *err = text.ok() ? 0 : StatusErrno(text.status()).value_or(EIO);
  return text.ok() ? *std::move(text) : std::string();
}


}  // namespace

std::string_view JailStateName(JailState state) {
  switch (state) {
    case JailState::kStopped:
      return "stopped";
    case JailState::kStarting:
      return "starting";
    case JailState::kRunning:
      return "running";
    case JailState::kStopping:
      return "stopping";
  }
  return "stopped";
}

absl::StatusOr<JailState> ParseJailState(std::string_view text) {
  for (JailState s : {JailState::kStopped, JailState::kStarting, JailState::kRunning,
                      JailState::kStopping}) {
    if (JailStateName(s) == text) {
      return s;
    }
  }
  return absl::InvalidArgumentError(StrCat("unknown jail state \"", text, "\""));
}

std::string RuntimeToJson(const JailRecord& rec) {
  const platform::JailInstance& in = rec.instance;
  json j = {
      {"state", std::string(JailStateName(rec.state))},
      {"jid", rec.jid},
      {"ephemeral", rec.ephemeral},
      {"done", rec.done},
      {"instance",
       {{"name", in.ref.name},
        {"jid", in.ref.jid},
        {"parent", in.ref.parent},
        {"init_pid", in.init_pid},
        {"started_unix_ns", in.started == absl::InfinitePast() ? int64_t{-1}
                                                                 : absl::ToUnixNanos(in.started)},
        {"backend_state", in.backend_state}}},
  };
  return j.dump(2) + "\n";
}

absl::Status RuntimeFromJson(std::string_view text, JailRecord& rec) {
  try {
    json j = json::parse(text.begin(), text.end());
    JW_ASSIGN_OR_RETURN(rec.state, ParseJailState(j.at("state").get<std::string>()));
    rec.jid = j.value("jid", int64_t{-1});
    rec.ephemeral = j.value("ephemeral", false);
    rec.done = j.value("done", std::vector<std::string>{});
    rec.instance = {};
    if (j.contains("instance")) {
      const json& in = j["instance"];
      rec.instance.ref.name = in.value("name", "");
      rec.instance.ref.jid = in.value("jid", int64_t{-1});
      rec.instance.ref.parent = in.value("parent", "");
      rec.instance.init_pid = in.value("init_pid", int64_t{-1});
      int64_t ns = in.value("started_unix_ns", int64_t{-1});
      rec.instance.started = ns < 0 ? absl::InfinitePast() : absl::FromUnixNanos(ns);
      rec.instance.backend_state =
          in.value("backend_state", std::map<std::string, std::string>{});
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return ParseError(e, "state.json");
  }
}

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(std::string root, bool fsync,
                                                             std::string transient_dir) {
  if (root.empty() || root[0] != '/') {
    return absl::InvalidArgumentError(StrCat("state_dir ", root, ": not an absolute path"));
  }
  if (transient_dir.empty()) {
    transient_dir = root + "/transient";
  }
  if (transient_dir[0] != '/') {
    return absl::InvalidArgumentError(
        StrCat("transient_dir ", transient_dir, ": not an absolute path"));
  }
  JW_RETURN_IF_ERROR(MakeDirs(root + "/jails", 0700));
  JW_RETURN_IF_ERROR(MakeDirs(transient_dir, 0700));
  std::unique_ptr<StateStore> store(
      new StateStore(std::move(root), fsync, std::move(transient_dir)));
  JW_RETURN_IF_ERROR(store->RemoveStaleTempFiles());
  return store;
}

absl::Status StateStore::RemoveStaleTempFiles() {
  // Every *.tmp regular file directly in `dir`; `dir` absent is fine.
  auto sweep = [this](const std::string& dir, bool all) -> absl::Status {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return absl::OkStatus();
      return ErrnoStatus(errno, StrCat("opendir ", dir));
    }
    std::vector<std::string> stale;
    while (struct dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      const bool tmp = all ? (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0)
                           : n == "manager.json.tmp";
      if (!tmp) continue;
      struct stat st {};
      if (fstatat(dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
        stale.push_back(StrCat(dir, "/", n));
      }
    }
    closedir(d);
    for (const std::string& path : stale) {
      if (unlink(path.c_str()) != 0 && errno != ENOENT) {
        return ErrnoStatus(errno, StrCat("remove ", path));
      }
      stale_removed_.push_back(path);
    }
    if (!stale.empty() && fsync_) JW_RETURN_IF_ERROR(FsyncDir(dir));
    return absl::OkStatus();
  };
  JW_RETURN_IF_ERROR(sweep(root_, /*all=*/false));
  // Removals a kill interrupted after the rename (Remove).
  if (DIR* d = opendir((root_ + "/jails").c_str()); d != nullptr) {
    std::vector<std::string> doomed;
    while (struct dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 10 && n[0] == '.' && n.compare(n.size() - 9, 9, ".removing") == 0) {
        doomed.push_back(StrCat(root_, "/jails/", n));
      }
    }
    closedir(d);
    for (const std::string& dir : doomed) {
      JW_RETURN_IF_ERROR(RemoveTree(dir));
      stale_removed_.push_back(dir);
    }
  }
  JW_RETURN_IF_ERROR(sweep(transient_dir_, /*all=*/true));
  JW_ASSIGN_OR_RETURN(std::vector<std::string> names, ListNames());
  bool removed_dir = false;
  for (const std::string& name : names) {
    const std::string dir = JailDir(name);
    JW_RETURN_IF_ERROR(sweep(dir, /*all=*/true));
    // A create killed before its config.json was renamed into place: the
    // jail was never defined. rmdir(2) leaves a directory that holds
    // anything else alone (ENOTEMPTY), for Load to report.
    if (access(StrCat(dir, "/config.json").c_str(), F_OK) != 0 && rmdir(dir.c_str()) == 0) {
      stale_removed_.push_back(dir);
      removed_dir = true;
    }
  }
  if (removed_dir && fsync_) JW_RETURN_IF_ERROR(FsyncDir(root_ + "/jails"));
  return absl::OkStatus();
}

std::string StateStore::JailDir(std::string_view name) const {
  return StrCat(root_, "/jails/", name);
}

std::string StateStore::TransientFile(std::string_view name) const {
  return StrCat(transient_dir_, "/", name, ".json");
}

absl::Status StateStore::WriteFileAtomically(const std::string& path,
                                             std::string_view contents, bool durable) {
  return jailwarden::WriteFileAtomically(path, contents, fsync_ && durable);
}

absl::Status StateStore::Save(const JailRecord& rec) {
  if (rec.ephemeral) {
    return SaveRuntime(rec);
  }
  std::string dir = JailDir(rec.spec.name);
  bool fresh = access(dir.c_str(), F_OK) != 0;
  JW_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  if (fresh && fsync_) {
    JW_RETURN_IF_ERROR(FsyncDir(root_ + "/jails"));
  }
  JW_RETURN_IF_ERROR(WriteFileAtomically(dir + "/config.json", SpecToJson(rec.spec)));
  return SaveRuntime(rec);
}

absl::Status StateStore::SaveRuntime(const JailRecord& rec) {
  if (rec.ephemeral) {
    // One file, spec and runtime together: each file made costs an inode.
    return WriteFileAtomically(TransientFile(rec.spec.name),
                               StrCat("{\"spec\": ", SpecToJson(rec.spec),
                                      ",\n\"runtime\": ", RuntimeToJson(rec), "}\n"),
                               /*durable=*/false);
  }
  return WriteFileAtomically(JailDir(rec.spec.name) + "/state.json", RuntimeToJson(rec));
}

absl::StatusOr<JailRecord> StateStore::Load(std::string_view name, bool transient) const {
  if (transient) {
    return LoadTransient(name);
  }
  std::string dir = JailDir(name);
  int err = 0;
  std::string config = ReadAll(dir + "/config.json", &err);
  if (err != 0) {
    return ErrnoStatus(err, StrCat("read ", dir, "/config.json"));
  }
  JailRecord rec;
  JW_ASSIGN_OR_RETURN(rec.spec, SpecFromJson(config));
  if (rec.spec.name != name) {
    return absl::InvalidArgumentError(
        StrCat(dir, "/config.json: name \"", rec.spec.name, "\" does not match the directory"));
  }
  std::string state = ReadAll(dir + "/state.json", &err);
  if (err == 0) {
    JW_RETURN_IF_ERROR(RuntimeFromJson(state, rec));
  } else if (err != ENOENT) {
    return ErrnoStatus(err, StrCat("read ", dir, "/state.json"));
  }
  return rec;
}

absl::StatusOr<JailRecord> StateStore::LoadTransient(std::string_view name) const {
  std::string path = TransientFile(name);
  int err = 0;
  std::string text = ReadAll(path, &err);
  if (err != 0) {
    return ErrnoStatus(err, StrCat("read ", path));
  }
  JailRecord rec;
  try {
    json j = json::parse(text);
    JW_ASSIGN_OR_RETURN(rec.spec, internal::SpecFromJsonValue(j.at("spec")));
    JW_RETURN_IF_ERROR(RuntimeFromJson(j.at("runtime").dump(), rec));
  } catch (const std::exception& e) {
    return ParseError(e, path);
  }
  if (rec.spec.name != name) {
    return absl::InvalidArgumentError(
        StrCat(path, ": name \"", rec.spec.name, "\" does not match the file name"));
  }
  rec.ephemeral = true;
  return rec;
}

absl::StatusOr<std::vector<std::string>> StateStore::ListNames(bool transient) const {
  std::string dir = transient ? transient_dir_ : root_ + "/jails";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return ErrnoStatus(errno, StrCat("opendir ", dir));
  }
  std::vector<std::string> out;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.empty() || n[0] == '.') {
      continue;  // ".", ".." and ".<name>.removing" (Remove)
    }
    if (!transient && e->d_type == DT_DIR) {
      out.push_back(n);
    } else if (transient && e->d_type == DT_REG && n.size() > 5 &&
               n.compare(n.size() - 5, 5, ".json") == 0) {
      out.push_back(n.substr(0, n.size() - 5));
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status StateStore::Remove(std::string_view name, bool transient) {
  if (transient) {
    std::string path = TransientFile(name);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, StrCat("remove ", path));
    }
    return absl::OkStatus();
  }
  std::string dir = JailDir(name);
  if (access(dir.c_str(), F_OK) != 0) {
    return absl::OkStatus();
  }
  // Renamed out of the way first, in one step: a removal killed half-way
  // leaves a ".<name>.removing" directory (jail names have no '.') that
  // Open finishes, never a jail directory without its config.json.
  const std::string doomed = RemovingDir(name);
  if (rename(dir.c_str(), doomed.c_str()) != 0) {
    return ErrnoStatus(errno, StrCat("rename ", dir, " to ", doomed));
  }
  if (fsync_) {
    JW_RETURN_IF_ERROR(FsyncDir(root_ + "/jails"));
  }
  return RemoveTree(doomed);
}

std::string StateStore::RemovingDir(std::string_view name) const {
  return StrCat(root_, "/jails/.", name, ".removing");
}

absl::Status StateStore::RemoveTree(const std::string& dir) {
  auto fn = [](const char* p, const struct stat*, int flag, struct FTW*) -> int {
    return flag == FTW_DP ? rmdir(p) : unlink(p);
  };
  if (nftw(dir.c_str(), fn, 8, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, StrCat("remove ", dir));
  }
  if (fsync_) {
    return FsyncDir(root_ + "/jails");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> StateStore::LoadLastJid() const {
  int err = 0;
  std::string text = ReadAll(root_ + "/manager.json", &err);
  if (err == ENOENT) {
    return 0;
  }
  if (err != 0) {
    return ErrnoStatus(err, StrCat("read ", root_, "/manager.json"));
  }
  try {
    return json::parse(text).value("last_jid", int64_t{0});
  } catch (const std::exception& e) {
    return ParseError(e, "manager.json");
  }
}

absl::Status StateStore::SaveLastJid(int64_t jid) {
  return WriteFileAtomically(root_ + "/manager.json",
                             json{{"last_jid", jid}}.dump() + "\n", /*durable=*/false);
}

}  // namespace jailwarden::jail
