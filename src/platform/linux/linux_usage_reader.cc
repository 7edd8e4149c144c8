#include "jailwarden/platform/linux/linux_usage_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/cgroup_reader.h"
#include "platform/linux/linux_jail_paths.h"
#include "platform/linux/proc_parser.h"
#include "platform/linux/held_knob_files.h"
#include "platform/linux/process_scan_cache.h"
#include "platform/linux/sysvipc.h"

namespace jailwarden::platform {
namespace {

using rctl::Index;
using rctl::Resource;

void Put(RawUsage& out, Resource r, int64_t value, bool cumulative = false) {
  out.value[Index(r)] = value;
  out.present.set(Index(r));
  out.cumulative.set(Index(r), cumulative);
}

int64_t ClockTicksPerSecond() {
  static const int64_t ticks = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  return ticks;
}

int64_t BoottimeNowUs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Reads /proc/<pid>/<file> into `buf`; NotFound when the process is gone.
absl::StatusOr<std::string_view> ReadProcFile(int64_t pid, const char* file, char* buf,
                                              std::size_t size) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%lld/%s", static_cast<long long>(pid), file);
  HeldFile f;
  absl::Status st = f.Open(path);
  if (!st.ok()) {
    return absl::NotFoundError(StrCat("process ", pid, " gone"));
  }
  absl::StatusOr<std::string_view> text = f.Read(buf, size);
  if (!text.ok() || text->empty()) {
    return absl::NotFoundError(StrCat("process ", pid, " gone"));
  }
  return text;
}

// The jail's devpts directory (`path`, the host's view through its init's
// root), opened when the jail is registered (or at the first pass that
// finds it mounted) and kept only if it is a devpts (fstatfs); -1
// otherwise. Later passes read the descriptor, so a
// jail's root that later swaps /dev/pts for a symlink or another mount
// steers nothing.
int HeldDevptsDir(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  struct statfs fs {};
  if (fstatfs(fd, &fs) != 0 || fs.f_type != DEVPTS_SUPER_MAGIC) {
    close(fd);
    return -1;
  }
  return fd;
}

// The pseudoterminals in the held devpts directory `fd` (its entries but
// "ptmx"): lseek to the start and getdents64, no open per pass.
absl::StatusOr<int64_t> CountHeldDevpts(int fd) {
  if (lseek(fd, 0, SEEK_SET) != 0) {
    return ErrnoStatus(errno, "lseek devpts");
  }
  alignas(dirent64) char buf[4096];
  int64_t n = 0;
  for (;;) {
    const ssize_t got = getdents64(fd, buf, sizeof(buf));
    if (got < 0) {
      return ErrnoStatus(errno, "getdents64 devpts");
    }
    if (got == 0) {
      return n;
    }
    for (ssize_t off = 0; off < got;) {
      const auto* e = reinterpret_cast<const dirent64*>(buf + off);
      const std::string_view name(e->d_name);
      if (name != "." && name != ".." && name != "ptmx") {
        ++n;
      }
      off += e->d_reclen;
    }
  }
}

}  // namespace

struct LinuxUsageReader::Impl {
  struct Jail {
    JailRef ref;
    LinuxJailPaths paths;
    std::unique_ptr<CgroupJailFiles> files;
    // The slow tier's process reads; its own lock so the pass runs
    // without `mu` held.
    struct Scan {
      absl::Mutex mu;
      ProcessScanCache cache ABSL_GUARDED_BY(mu);
      HeldKnobFiles held ABSL_GUARDED_BY(mu);  // the cgroup.procs
      // Set in AddJail before the Scan is shared, then read-only; closed
      // with the last pass that holds the Scan (no dup per pass).
      int ipc_ns = -1;
      // The jail's devpts directory, held from the first pass that finds
      // a devpts there (HeldDevptsDir), so later passes walk no path
      // inside the jail's root.
      int devpts_fd ABSL_GUARDED_BY(mu) = -1;
      ~Scan() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        for (int fd : {ipc_ns, devpts_fd}) {
          if (fd >= 0) {
            close(fd);
          }
        }
      }
    };
    std::shared_ptr<Scan> scan = std::make_shared<Scan>();
  };

  LinuxUsageReaderOptions options;
  std::unique_ptr<CgroupReader> cgroups;
  std::unique_ptr<IpcNamespaceWorker> ipc;

  mutable absl::Mutex mu;
  std::vector<std::unique_ptr<Jail>> slots ABSL_GUARDED_BY(mu);  // handle = index
  char buf[16384] ABSL_GUARDED_BY(mu);

  Jail* Find(const JailRef& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (ref.handle < slots.size() && slots[ref.handle] != nullptr &&
        slots[ref.handle]->ref.name == ref.name) {
      return slots[ref.handle].get();
    }
    for (const auto& j : slots) {
      if (j != nullptr && j->ref.name == ref.name) {
        return j.get();
      }
    }
    return nullptr;
  }

  absl::Time WallNow() const { return options.wall_now ? options.wall_now() : absl::Now(); }
};

LinuxUsageReader::LinuxUsageReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LinuxUsageReader::~LinuxUsageReader() = default;

absl::StatusOr<std::unique_ptr<LinuxUsageReader>> LinuxUsageReader::Create(
    LinuxUsageReaderOptions options) {
  auto impl = std::make_unique<Impl>();
  std::string_view version = options.cgroup_version.empty()
                                 ? DetectCgroupVersion(options.cgroup_root)
                                 : std::string_view(options.cgroup_version);
  const int64_t costly_ns = absl::ToInt64Nanoseconds(options.costly_every);
  impl->cgroups = version == "v2" ? NewCgroupV2Reader(costly_ns) : NewCgroupV1Reader(costly_ns);
  if (options.read_sysv_ipc) {
    JW_ASSIGN_OR_RETURN(impl->ipc, IpcNamespaceWorker::Start());
  }
  impl->options = std::move(options);
  return std::unique_ptr<LinuxUsageReader>(new LinuxUsageReader(std::move(impl)));
}

std::string_view LinuxUsageReader::cgroup_version() const { return impl_->cgroups->name(); }

absl::StatusOr<JailRef> LinuxUsageReader::AddJail(const JailInstance& instance) {
  JW_ASSIGN_OR_RETURN(LinuxJailPaths paths, LinuxJailPathsFromInstance(instance));
  auto jail = std::make_unique<Impl::Jail>();
  JW_ASSIGN_OR_RETURN(jail->files, impl_->cgroups->Open(paths));
  if (impl_->ipc != nullptr && paths.init_pid > 0) {
    absl::StatusOr<int> ns = OpenIpcNamespace(paths.init_pid);
    if (ns.ok()) {
      jail->scan->ipc_ns = *ns;
    }
  }
  if (!paths.devpts.empty()) {
    absl::MutexLock scan_lock(&jail->scan->mu);
    jail->scan->devpts_fd = HeldDevptsDir(paths.devpts);
  }
  jail->paths = std::move(paths);
  jail->ref = instance.ref;
  absl::MutexLock lock(&impl_->mu);
  std::size_t slot = impl_->slots.size();
  for (std::size_t i = 0; i < impl_->slots.size(); ++i) {
    if (impl_->slots[i] != nullptr && impl_->slots[i]->ref.name == jail->ref.name) {
      slot = i;
      break;
    }
  }
  if (slot == impl_->slots.size()) {
    for (std::size_t i = 0; i < impl_->slots.size(); ++i) {
      if (impl_->slots[i] == nullptr) {
        slot = i;
        break;
      }
    }
  }
  if (slot == impl_->slots.size()) {
    impl_->slots.emplace_back();
  }
  jail->ref.handle = slot;
  JailRef ref = jail->ref;
  impl_->slots[slot] = std::move(jail);
  return ref;
}

absl::Status LinuxUsageReader::RemoveJail(std::string_view name) {
  std::unique_ptr<Impl::Jail> gone;
  absl::MutexLock lock(&impl_->mu);
  for (auto& j : impl_->slots) {
    if (j != nullptr && j->ref.name == name) {
      gone = std::move(j);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(StrCat("jail ", name, " is not registered"));
}

absl::StatusOr<std::vector<JailRef>> LinuxUsageReader::ListJails() {
  absl::MutexLock lock(&impl_->mu);
  std::vector<JailRef> out;
  for (const auto& j : impl_->slots) {
    if (j != nullptr) {
      out.push_back(j->ref);
    }
  }
  return out;
}

absl::Status LinuxUsageReader::ReadFast(const JailRef& jail, RawUsage& out) {
  absl::MutexLock lock(&impl_->mu);
  Impl::Jail* j = impl_->Find(jail);
  if (j == nullptr) {
    return absl::NotFoundError("jail not registered");
  }
  JW_RETURN_IF_ERROR(j->files->ReadFast(out, impl_->buf, sizeof(impl_->buf)));
  if (j->paths.started != absl::InfinitePast()) {
    Put(out, Resource::kWallclock,
        absl::ToInt64Microseconds(impl_->WallNow() - j->paths.started));
  }
  return absl::OkStatus();
}

absl::StatusOr<ProcessUsage> LinuxUsageReader::ReadProcess(int64_t pid) {
  char buf[4096];
  ProcessUsage p;
  p.pid = pid;
  RawUsage& u = p.usage;
  {
    JW_ASSIGN_OR_RETURN(std::string_view text, ReadProcFile(pid, "status", buf, sizeof(buf)));
    std::optional<ProcStatusFields> s = ParseProcStatus(text);
    if (!s) {
      return absl::NotFoundError(StrCat("process ", pid, ": status unreadable"));
    }
    p.comm = std::string(s->name);
    p.ruid = s->ruid;
    p.euid = s->euid;
    Put(u, Resource::kDatasize, s->vm_data_bytes);
    Put(u, Resource::kStacksize, s->vm_stk_bytes);
    Put(u, Resource::kMemoryuse, s->vm_rss_bytes);
    Put(u, Resource::kMemorylocked, s->vm_lck_bytes);
    Put(u, Resource::kVmemoryuse, s->vm_size_bytes);
    Put(u, Resource::kSwapuse, s->vm_swap_bytes);
    Put(u, Resource::kNthr, s->threads);
    Put(u, Resource::kMaxproc, 1);
  }
  {
    JW_ASSIGN_OR_RETURN(std::string_view text, ReadProcFile(pid, "stat", buf, sizeof(buf)));
    std::optional<ProcStatFields> s = ParseProcStat(text);
    if (!s) {
      return absl::NotFoundError(StrCat("process ", pid, ": stat unreadable"));
    }
    const int64_t hz = ClockTicksPerSecond();
    Put(u, Resource::kCputime, (s->utime_ticks + s->stime_ticks) * 1000000 / hz, true);
    Put(u, Resource::kWallclock, BoottimeNowUs() - s->starttime_ticks * 1000000 / hz);
  }
  // /proc/<pid>/io: storage-layer bytes; syscr/syscw are read/write
  // syscalls, the nearest per-process stand-in for FreeBSD's buffer ops.
  if (absl::StatusOr<std::string_view> text = ReadProcFile(pid, "io", buf, sizeof(buf));
      text.ok()) {
    if (std::optional<ProcIoFields> io = ParseProcIo(*text)) {
      Put(u, Resource::kReadbps, io->read_bytes, true);
      Put(u, Resource::kWritebps, io->write_bytes, true);
      Put(u, Resource::kReadiops, io->syscr, true);
      Put(u, Resource::kWriteiops, io->syscw, true);
    }
  }
  absl::StatusOr<int64_t> fds = CountProcFds(pid);
  if (fds.ok()) {
    Put(u, Resource::kOpenfiles, *fds);
  }
  return p;
}

absl::Status LinuxUsageReader::ReadSlow(const JailRef& jail, RawUsage& out,
                                        std::vector<ProcessUsage>* processes) {
  LinuxJailPaths paths;
  std::shared_ptr<Impl::Jail::Scan> scan;
  {
    absl::MutexLock lock(&impl_->mu);
    Impl::Jail* j = impl_->Find(jail);
    if (j == nullptr) {
      return absl::NotFoundError("jail not registered");
    }
    paths = j->paths;
    scan = j->scan;
  }
  const int ipc_ns = scan->ipc_ns;

  const std::string& dir = paths.MembershipDir();
  absl::MutexLock scan_lock(&scan->mu);
  absl::StatusOr<std::string> procs = scan->held.Read(JoinCgroupPath(dir, "cgroup.procs"));
  if (!procs.ok()) {
    return PathExists(dir) ? procs.status()
                           : absl::NotFoundError(StrCat("cgroup ", dir, " is gone"));
  }
  int64_t data = 0, stack = 0, vmem = 0, locked = 0, files = 0, nproc = 0;
  scan->cache.BeginPass();
  for (std::string_view line : Split(*procs, '\n')) {
    std::optional<int64_t> pid = ParseInt<int64_t>(StripWhitespace(line));
    if (!pid) {
      continue;
    }
    absl::StatusOr<ProcessUsage> p = scan->cache.Read(*pid);
    if (!p.ok()) {
      continue;  // exited between the listing and the read
    }
    const rctl::UsageVector& v = p->usage.value;
    data += v[Index(Resource::kDatasize)];
    stack += v[Index(Resource::kStacksize)];
    vmem += v[Index(Resource::kVmemoryuse)];
    locked += v[Index(Resource::kMemorylocked)];
    files += v[Index(Resource::kOpenfiles)];
    ++nproc;
    if (processes != nullptr) {
      p->jail = jail.name;
      processes->push_back(std::move(*p));
    }
  }
  scan->cache.EndPass();
  Put(out, Resource::kDatasize, data);
  Put(out, Resource::kStacksize, stack);
  Put(out, Resource::kVmemoryuse, vmem);
  Put(out, Resource::kMemorylocked, locked);
  Put(out, Resource::kOpenfiles, files);
  Put(out, Resource::kMaxproc, nproc);

  if (ipc_ns >= 0 && impl_->ipc != nullptr) {
    absl::StatusOr<SysvIpcCounts> c = impl_->ipc->ReadCounts(ipc_ns);
    if (c.ok()) {
      Put(out, Resource::kNmsgq, c->msg_queues);
      Put(out, Resource::kMsgqqueued, c->msg_messages);
      Put(out, Resource::kMsgqsize, c->msg_bytes);
      Put(out, Resource::kNsem, c->sems);
      Put(out, Resource::kNshm, c->shm_segments);
      Put(out, Resource::kShmsize, c->shm_bytes);
    }
  }
  if (scan->devpts_fd < 0 && !paths.devpts.empty()) {
    scan->devpts_fd = HeldDevptsDir(paths.devpts);  // not mounted at AddJail
  }
  if (scan->devpts_fd >= 0) {
    absl::StatusOr<int64_t> ptys = CountHeldDevpts(scan->devpts_fd);
    if (ptys.ok()) {
      Put(out, Resource::kPseudoterminals, *ptys);
    }
  }
  if (paths.started != absl::InfinitePast()) {
    Put(out, Resource::kWallclock,
        absl::ToInt64Microseconds(impl_->WallNow() - paths.started));
  }
  return absl::OkStatus();
}

ResourceMask LinuxUsageReader::Supported() const {
  ResourceMask m;
  m.set();
  m.reset(Index(Resource::kCoredumpsize));  // known only at dump time
  m.reset(Index(Resource::kNsemop));        // a per-call limit, no usage
  if (impl_->ipc == nullptr) {
    for (Resource r : {Resource::kNmsgq, Resource::kMsgqqueued, Resource::kMsgqsize,
                       Resource::kNsem, Resource::kNshm, Resource::kShmsize}) {
      m.reset(Index(r));
    }
  }
  return m;
}

}  // namespace jailwarden::platform
