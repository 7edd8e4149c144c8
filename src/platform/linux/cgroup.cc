#include "platform/linux/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <thread>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/proc_cgroup.h"

namespace jailwarden::platform {
namespace {

// The hierarchies a jail gets, per host layout (linux-mapping.md §2, §10).
// v1 rows name the controller (the mount is <root>/<controller>); "unified"
// is the v2 tree, mounted at <root>/unified on hybrid hosts and at <root>
// on v2-only hosts.
struct LayoutRow {
  const char* name;
  const char* probe;  // file whose existence selects this row
  std::vector<const char*> v1;
  const char* unified_mount;  // relative to root; nullptr = none
};

const std::vector<LayoutRow>& Layouts() {
  static const std::vector<LayoutRow>* rows = new std::vector<LayoutRow>{
      {"v2", "cgroup.controllers", {}, ""},
      {"hybrid",
       "unified/cgroup.controllers",
       {"memory", "pids", "cpu", "cpuacct", "blkio", "freezer"},
       "unified"},
      {"v1", "pids/cgroup.procs",
       {"memory", "pids", "cpu", "cpuacct", "blkio", "freezer"}, nullptr},
  };
  return *rows;
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string JoinPath(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!out.empty() && out.back() == '/') {
    out.pop_back();
  }
  while (!b.empty() && b.front() == '/') {
    b.remove_prefix(1);
  }
  if (!b.empty()) {
    out += '/';
    out.append(b);
  }
  return out;
}

absl::Status MkdirOne(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, StrCat("mkdir ", path));
  }
  return absl::OkStatus();
}

absl::Status WriteString(const std::string& path, std::string_view value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus(errno, StrCat("open ", path));
  }
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n < 0) {
    return ErrnoStatus(err, StrCat("write ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadString(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return ErrnoStatus(errno == 0 ? ENOENT : errno, StrCat("open ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// backend_state keys naming one of the jail's cgroup directories
// ("cgroup.<hierarchy>"), as Create writes them.
bool IsHierarchyKey(std::string_view key) {
  return StartsWith(key, "cgroup.") && key != "cgroup.version";
}

bool Populated(const std::string& dir) {
  // v2: cgroup.events "populated 0|1"; v1: a non-empty cgroup.procs.
  absl::StatusOr<std::string> events = ReadString(JoinPath(dir, "cgroup.events"));
  if (events.ok()) {
    return events->find("populated 1") != std::string::npos;
  }
  absl::StatusOr<std::vector<int64_t>> procs = CgroupLayout::ReadProcs(dir);
  return procs.ok() && !procs->empty();
}

}  // namespace

absl::StatusOr<CgroupLayout> CgroupLayout::Detect(std::string_view cgroup_root,
                                                  std::string_view proc_self_cgroup) {
  JW_ASSIGN_OR_RETURN(std::vector<ProcCgroupEntry> entries,
                      ParseProcCgroup(proc_self_cgroup));
  for (const LayoutRow& row : Layouts()) {
    if (!Exists(JoinPath(cgroup_root, row.probe))) {
      continue;
    }
    CgroupLayout layout;
    layout.name_ = row.name;
    bool ok = true;
    for (const char* controller : row.v1) {
      const ProcCgroupEntry* e = FindCgroupEntry(entries, controller);
      std::string mount = JoinPath(cgroup_root, controller);
      if (e == nullptr || !Exists(JoinPath(mount, "cgroup.procs"))) {
        ok = false;
        break;
      }
      layout.hierarchies_.push_back({controller, mount, e->path});
    }
    if (row.unified_mount != nullptr) {
      const ProcCgroupEntry* e = FindCgroupEntry(entries, "");
      if (e == nullptr) {
        ok = false;
      } else {
        // First: Create looks at the v2 group before the v1 freezer.
        layout.hierarchies_.insert(
            layout.hierarchies_.begin(),
            {"unified", JoinPath(cgroup_root, row.unified_mount), e->path});
      }
    }
    if (ok) {
      return layout;
    }
  }
  return absl::FailedPreconditionError(
      StrCat("no usable cgroup hierarchy under ", cgroup_root));
}

absl::StatusOr<std::map<std::string, std::string>> CgroupLayout::Create(
    std::string_view parent, std::string_view jail) const {
  std::map<std::string, std::string> out;
  out["cgroup.version"] = name_;
  for (const Hierarchy& h : hierarchies_) {
    // The v1 freezer only serves KillAll (freeze, kill each pid, thaw).
    // When the v2 group (made first, see Detect) has cgroup.kill (Linux
    // 5.14, every non-root group) one write does that, and the jail need
    // not join the freezer.
    if (h.key == "freezer" && out.count("cgroup.unified") != 0 &&
        Exists(JoinPath(out["cgroup.unified"], "cgroup.kill"))) {
      continue;
    }
    std::string base = JoinPath(h.mount, h.own);
    std::string p = JoinPath(base, parent);
    std::string leaf = JoinPath(p, jail);
    // A concurrent Remove may rmdir the parent between the two mkdirs.
    absl::Status st;
    for (int attempt = 0; attempt < 3; ++attempt) {
      st = MkdirOne(p);
      if (st.ok()) {
        st = MkdirOne(leaf);
      }
      if (st.ok() || StatusErrno(st) != ENOENT) {
        break;
      }
    }
    if (!st.ok()) {
      out.erase("cgroup.version");
      (void)Remove(out);
      return st;
    }
    out[StrCat("cgroup.", h.key)] = leaf;
  }
  // A leftover group from a crash must be empty before we reuse it.
  if (Populated(MembershipDir(out))) {
    return absl::FailedPreconditionError(
        StrCat("cgroup ", MembershipDir(out), " still has processes"));
  }
  return out;
}

std::vector<std::string> CgroupLayout::JoinFiles(
    const std::map<std::string, std::string>& backend_state, bool v2_joined_at_clone) {
  std::vector<std::string> out;
  for (const auto& [key, value] : backend_state) {
    if (!IsHierarchyKey(key)) {
      continue;
    }
    if (key == "cgroup.unified") {
      if (!v2_joined_at_clone) {
        out.push_back(JoinPath(value, "cgroup.procs"));
      }
    } else {
      out.push_back(JoinPath(value, "tasks"));
    }
  }
  return out;
}

std::string CgroupLayout::CloneIntoDir(const std::map<std::string, std::string>& backend_state) {
  auto it = backend_state.find("cgroup.unified");
  return it == backend_state.end() ? "" : it->second;
}

std::string CgroupLayout::MembershipDir(
    const std::map<std::string, std::string>& backend_state) {
  for (const char* key : {"cgroup.unified", "cgroup.pids", "cgroup.freezer"}) {
    auto it = backend_state.find(key);
    if (it != backend_state.end()) {
      return it->second;
    }
  }
  return "";
}

absl::StatusOr<std::vector<int64_t>> CgroupLayout::ReadProcs(const std::string& dir) {
  JW_ASSIGN_OR_RETURN(std::string text, ReadString(JoinPath(dir, "cgroup.procs")));
  std::vector<int64_t> out;
  for (std::string_view line : Split(text, '\n')) {
    if (std::optional<int64_t> pid = ParseInt<int64_t>(StripWhitespace(line))) {
      out.push_back(*pid);
    }
  }
  return out;
}

absl::Status CgroupLayout::KillAll(const std::map<std::string, std::string>& backend_state,
                                   absl::Duration timeout) {
  std::string dir = MembershipDir(backend_state);
  if (dir.empty() || !Exists(dir)) {
    return absl::OkStatus();
  }
  std::string kill_file = JoinPath(dir, "cgroup.kill");
  bool have_kill = Exists(kill_file);
  auto freezer = backend_state.find("cgroup.freezer");
  absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Microseconds(200);
  for (;;) {
    if (!Populated(dir)) {
      return absl::OkStatus();
    }
    if (have_kill) {
      JW_RETURN_IF_ERROR(WriteString(kill_file, "1"));
    } else {
      // cgroup v1 has no cgroup.kill: freeze so nothing forks while we
      // signal each pid, then thaw so the signals are delivered.
      std::string state;
      if (freezer != backend_state.end()) {
        state = JoinPath(freezer->second, "freezer.state");
        (void)WriteString(state, "FROZEN");
      }
      JW_ASSIGN_OR_RETURN(std::vector<int64_t> pids, ReadProcs(dir));
      for (int64_t pid : pids) {
        kill(static_cast<pid_t>(pid), SIGKILL);
      }
      if (!state.empty()) {
        (void)WriteString(state, "THAWED");
      }
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(StrCat("cgroup ", dir, " not empty after kill"));
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
}

absl::Status CgroupLayout::Remove(const std::map<std::string, std::string>& backend_state) {
  absl::Status first;
  for (const auto& [key, leaf] : backend_state) {
    if (!IsHierarchyKey(key)) {
      continue;
    }
    // rmdir can fail with EBUSY for a moment after the last task exits.
    absl::Duration pause = absl::Microseconds(100);
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    for (;;) {
      if (rmdir(leaf.c_str()) == 0 || errno == ENOENT) {
        break;
      }
      int err = errno;
      if (err != EBUSY || absl::Now() > deadline) {
        if (first.ok()) {
          first = ErrnoStatus(err, StrCat("rmdir ", leaf));
        }
        break;
      }
      absl::SleepFor(pause);
      pause = std::min(pause * 2, absl::Milliseconds(20));
    }
  }
  return first;
}

void CgroupLayout::RemoveParent(std::string_view parent) const {
  for (const Hierarchy& h : hierarchies_) {
    std::string p = JoinPath(JoinPath(h.mount, h.own), parent);
    // ENOTEMPTY/EBUSY: a jail is still there (left running, or another
    // jailwarden's); ENOENT: already gone.
    (void)rmdir(p.c_str());
  }
}

}  // namespace jailwarden::platform
