#include "platform/linux/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/cgroup_placement.h"
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

// The directory of hierarchy `key` ("cgroup.<key>"), "" when absent.
std::string Dir(const std::map<std::string, std::string>& backend_state, const char* key) {
  auto it = backend_state.find(key);
  return it == backend_state.end() ? "" : it->second;
}

// The jail's top directory in the hierarchy whose cgroup.procs lists its
// processes (the leaf's parent: where the limits are).
std::string MembershipTop(const std::map<std::string, std::string>& backend_state) {
  for (const char* key : {"cgroup.unified", "cgroup.pids", "cgroup.freezer"}) {
    if (std::string d = Dir(backend_state, key); !d.empty()) {
      return d;
    }
  }
  return "";
}

// The leaf below `top` where the jail's processes live, or `top` itself
// for a jail made before the leaf existed (adopted after an upgrade).
std::string LeafOf(const std::map<std::string, std::string>& backend_state,
                   const std::string& top) {
  auto it = backend_state.find(std::string(kCgroupLeafKey));
  if (top.empty() || it == backend_state.end() || it->second.empty()) {
    return top;
  }
  return JoinPath(top, it->second);
}

bool Populated(const std::string& dir) {
  // v2: cgroup.events "populated 0|1" covers the whole subtree; v1: a
  // non-empty cgroup.procs anywhere in it.
  absl::StatusOr<std::string> events = ReadString(JoinPath(dir, "cgroup.events"));
  if (events.ok()) {
    return events->find("populated 1") != std::string::npos;
  }
  absl::StatusOr<std::vector<std::string>> tree = CgroupLayout::Tree(dir);
  if (!tree.ok()) {
    return Exists(dir);  // cannot tell: assume busy
  }
  for (const std::string& d : *tree) {
    absl::StatusOr<std::vector<int64_t>> procs = CgroupLayout::ReadProcs(d);
    if (procs.ok() && !procs->empty()) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool ExposesCgroupFilesystem(std::string_view source, std::string_view mountinfo) {
  while (!source.empty() && source.size() > 1 && source.back() == '/') {
    source.remove_suffix(1);
  }
  for (std::string_view line : Split(mountinfo, '\n')) {
    std::size_t sep = line.find(" - ");
    if (sep == std::string_view::npos) {
      continue;
    }
    std::vector<std::string_view> head = SplitWhitespace(line.substr(0, sep));
    std::vector<std::string_view> tail = SplitWhitespace(line.substr(sep + 3));
    if (head.size() < 5 || tail.empty() || (tail[0] != "cgroup" && tail[0] != "cgroup2")) {
      continue;
    }
    std::string_view point = head[4];
    auto below = [](std::string_view path, std::string_view dir) {
      return dir == "/" || path == dir ||
             (StartsWith(path, dir) && path.size() > dir.size() && path[dir.size()] == '/');
    };
    if (below(point, source) || below(source, point)) {
      return true;
    }
  }
  return false;
}

bool BindShowsCgroupFilesystem(const MountSpec& mount) {
  if (mount.fstype != "nullfs" && mount.fstype != "bind" && !mount.fstype.empty()) {
    return false;
  }
  char real[PATH_MAX];
  if (realpath(mount.source.c_str(), real) == nullptr) {
    return false;
  }
  return ExposesCgroupFilesystem(real, ReadString("/proc/self/mountinfo").value_or(""));
}

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
        // First: Create looks at the v2 group before the v1 freezer. The
        // daemon's own cgroup there is the one it was placed in, without
        // the leaf it moved itself into (cgroup_placement.h).
        layout.hierarchies_.insert(
            layout.hierarchies_.begin(),
            {"unified", JoinPath(cgroup_root, row.unified_mount), DaemonCgroupBase(e->path)});
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
    std::string top = JoinPath(p, jail);
    // A concurrent Remove may rmdir the parent between the mkdirs.
    absl::Status st;
    for (int attempt = 0; attempt < 3; ++attempt) {
      st = MkdirOne(p);
      if (st.ok() && h.key == "unified") {
        // The jails' parent passes on what the daemon's cgroup offers
        // (every controller once the daemon sits in its leaf).
        st = EnableOfferedControllers(p).status();
      }
      if (st.ok()) {
        st = MkdirOne(top);
      }
      if (st.ok()) {
        st = MkdirOne(JoinPath(top, kCgroupLeaf));
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
    out[StrCat("cgroup.", h.key)] = top;
    out[std::string(kCgroupLeafKey)] = kCgroupLeaf;
  }
  // A leftover group from a crash must be empty before we reuse it.
  if (Populated(MembershipTop(out))) {
    return absl::FailedPreconditionError(
        StrCat("cgroup ", MembershipTop(out), " still has processes"));
  }
  return out;
}

std::string CgroupLayout::UnifiedMount() const {
  for (const Hierarchy& h : hierarchies_) {
    if (h.key == "unified") {
      return h.mount;
    }
  }
  return "";
}

std::map<std::string, std::string> CgroupLayout::Planned(std::string_view parent,
                                                         std::string_view jail) const {
  std::map<std::string, std::string> out;
  out["cgroup.version"] = name_;
  for (const Hierarchy& h : hierarchies_) {
    out[StrCat("cgroup.", h.key)] = JoinPath(JoinPath(JoinPath(h.mount, h.own), parent), jail);
    out[std::string(kCgroupLeafKey)] = kCgroupLeaf;
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
    const std::string leaf = LeafOf(backend_state, value);
    if (key == "cgroup.unified") {
      if (!v2_joined_at_clone) {
        out.push_back(JoinPath(leaf, "cgroup.procs"));
      }
    } else {
      out.push_back(JoinPath(leaf, "tasks"));
    }
  }
  return out;
}

std::string CgroupLayout::CloneIntoDir(const std::map<std::string, std::string>& backend_state) {
  return LeafOf(backend_state, Dir(backend_state, "cgroup.unified"));
}

std::string CgroupLayout::MembershipDir(
    const std::map<std::string, std::string>& backend_state) {
  return LeafOf(backend_state, MembershipTop(backend_state));
}

absl::StatusOr<std::vector<std::string>> CgroupLayout::Tree(const std::string& top) {
  std::vector<std::string> out;
  if (!Exists(top)) {
    return out;
  }
  out.push_back(top);
  // Breadth-first: out[i]'s children come after it.
  for (std::size_t i = 0; i < out.size(); ++i) {
    DIR* d = opendir(out[i].c_str());
    if (d == nullptr) {
      if (errno == ENOENT) {
        continue;  // removed meanwhile
      }
      return ErrnoStatus(errno, StrCat("opendir ", out[i]));
    }
    while (struct dirent* e = readdir(d)) {
      std::string_view name = e->d_name;
      if (e->d_type != DT_DIR || name == "." || name == "..") {
        continue;
      }
      if (out.size() >= kMaxCgroupTree) {
        closedir(d);
        return absl::ResourceExhaustedError(
            StrCat("cgroup ", top, " has more than ", kMaxCgroupTree, " cgroups below it"));
      }
      out.push_back(JoinPath(out[i], name));
    }
    closedir(d);
  }
  return out;
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
  // The jail's top directory: cgroup.kill and the v1 freezer act on its
  // whole subtree, which includes every child cgroup the jail made.
  std::string dir = MembershipTop(backend_state);
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
      JW_ASSIGN_OR_RETURN(std::vector<std::string> tree, Tree(dir));
      for (const std::string& d : tree) {
        absl::StatusOr<std::vector<int64_t>> pids = ReadProcs(d);
        if (!pids.ok()) {
          continue;  // removed meanwhile
        }
        for (int64_t pid : *pids) {
          kill(static_cast<pid_t>(pid), SIGKILL);
        }
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
  auto keep = [&first](absl::Status st) {
    if (first.ok() && !st.ok()) {
      first = std::move(st);
    }
  };
  for (const auto& [key, top] : backend_state) {
    if (!IsHierarchyKey(key)) {
      continue;
    }
    // Depth-first: the jail's own child cgroups (made from inside, with
    // the relaxing keys) before the leaf, the leaf before the top.
    absl::StatusOr<std::vector<std::string>> tree = Tree(top);
    if (!tree.ok()) {
      keep(tree.status());
      continue;
    }
    // rmdir can fail with EBUSY for a moment after the last task exits.
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    for (auto it = tree->rbegin(); it != tree->rend(); ++it) {
      absl::Duration pause = absl::Microseconds(100);
      for (;;) {
        if (rmdir(it->c_str()) == 0 || errno == ENOENT) {
          break;
        }
        int err = errno;
        if (err != EBUSY || absl::Now() > deadline) {
          keep(ErrnoStatus(err, StrCat("rmdir ", *it)));
          break;
        }
        absl::SleepFor(pause);
        pause = std::min(pause * 2, absl::Milliseconds(20));
      }
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
