// FakeFreeBsdKernel's mounts: nmount(2) iovec parsing and checks (with the
// errmsg buffer filled as the kernel does) and unmount(2) bookkeeping.

#include "fakes/freebsd/fake_kernel.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "jailwarden/base/strings.h"

namespace jailwarden::platform {
namespace {

std::string IovString(const struct iovec& v) {
  if (v.iov_base == nullptr || v.iov_len == 0) return {};
  const char* p = static_cast<const char*>(v.iov_base);
  return std::string(p, strnlen(p, v.iov_len));
}

}  // namespace

int FakeFreeBsdKernel::Nmount(struct iovec* iov, unsigned int niov, int flags) {
  absl::MutexLock lock(&mu_);
  FakeMount m;
  struct iovec* errmsg = nullptr;
  for (unsigned int i = 0; i + 1 < niov; i += 2) {
    const std::string name = IovString(iov[i]);
    if (name == "errmsg") {
      errmsg = &iov[i + 1];
      continue;
    }
    const std::string value = IovString(iov[i + 1]);
    if (name == "fstype") {
      m.fstype = value;
    } else if (name == "fspath") {
      m.fspath = value;
    } else if (name == "from" || name == "target") {
      m.from = value;
    } else if (name == "ro" || name == "rdonly") {
      m.read_only = true;
    } else {
      m.options[name] = value;
    }
  }
  if (flags & kMntRdonly) m.read_only = true;
  LogLocked(StrCat("nmount(", m.fstype, " ", m.from, " ", m.fspath,
                   m.read_only ? " ro" : "",
                   m.options.contains("ruleset")
                       ? StrCat(" ruleset=", m.options["ruleset"])
                       : std::string(),
                   ")"));
  auto fail = [&](int e, std::string_view msg) {
    if (errmsg != nullptr && errmsg->iov_base != nullptr && errmsg->iov_len > 0) {
      const std::size_t n = std::min(msg.size(), errmsg->iov_len - 1);
      std::memcpy(errmsg->iov_base, msg.data(), n);
      static_cast<char*>(errmsg->iov_base)[n] = '\0';
    }
    errno = e;
    return -1;
  };
  int fault = 0;
  if (TakeFaultLocked(Call::kNmount, fault)) return fail(fault, errmsg_);
  if ((niov & 1) != 0) return fail(EINVAL, "");
  if (!CallerIsRootLocked()) return fail(EPERM, "");
  if (m.fstype.empty() || m.fspath.empty()) return fail(EINVAL, "");
  static const std::set<std::string> kFsTypes = {
      "nullfs", "devfs", "procfs", "fdescfs", "tmpfs", "linprocfs",
      "linsysfs", "ufs", "zfs"};
  if (!kFsTypes.contains(m.fstype)) return fail(ENODEV, "Invalid fstype");
  if (m.fspath[0] != '/' || missing_paths_.contains(m.fspath)) {
    return fail(ENOENT, "");
  }
  if (m.fstype == "nullfs") {
    if (m.from.empty()) return fail(EINVAL, "missing target");
    if (missing_paths_.contains(m.from)) return fail(ENOENT, "");
  }
  if (m.fstype == "devfs" && m.options.contains("ruleset") &&
      !ParseInt<int64_t>(m.options["ruleset"]).has_value()) {
    return fail(EINVAL, "invalid ruleset specification");
  }
  mounts_.push_back(std::move(m));
  return 0;
}

int FakeFreeBsdKernel::Unmount(const char* dir, int flags) {
  absl::MutexLock lock(&mu_);
  const std::string path = dir == nullptr ? "" : dir;
  LogLocked(StrCat("unmount(", path, ")"));
  int fault = 0;
  if (TakeFaultLocked(Call::kUnmount, fault)) return FailLocked(fault);
  if (!CallerIsRootLocked()) return FailLocked(EPERM);
  auto it = std::find_if(mounts_.rbegin(), mounts_.rend(),
                         [&](const FakeMount& m) { return m.fspath == path; });
  if (it == mounts_.rend()) return FailLocked(EINVAL);  // not a mount point
  if (!(flags & kMntForce)) {
    const std::string below = path + "/";
    for (const FakeMount& m : mounts_) {
      if (StartsWith(m.fspath, below)) return FailLocked(EBUSY);
    }
  }
  mounts_.erase(std::next(it).base());
  return 0;
}

}  // namespace jailwarden::platform
