#include "jailwarden/platform/freebsd/racct_reader.h"

#include <cerrno>
#include <charconv>
#include <cstring>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/freebsd/racct_parser.h"
#include "jailwarden/platform/freebsd/rctl_backend.h"

namespace jailwarden::platform {
namespace {

std::string_view FormatPid(pid_t pid, char (&buf)[24]) {
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(pid));
  (void)ec;
  return std::string_view(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

FreeBsdRacctReader::FreeBsdRacctReader(FreeBsdKernel& kernel,
                                       FreeBsdRacctReaderOptions options)
    : kernel_(kernel), options_(options) {
  buf_.resize(options_.initial_buffer_bytes == 0 ? 1
                                                 : options_.initial_buffer_bytes);
  filter_.reserve(64);
}

absl::StatusOr<std::vector<JailRef>> FreeBsdRacctReader::ListJails() {
  std::vector<JailRef> out;
  int last = 0;
  for (;;) {
    std::vector<JailParam> params = {
        {"lastjid", StrCat(last)}, {"jid", std::nullopt}, {"name", std::nullopt}};
    const int jid = kernel_.JailGetv(0, params);
    if (jid < 0) {
      const int e = errno;
      if (e == ENOENT) break;  // "no jail after N": the walk is over
      return ErrnoStatus(e, StrCat("jail_getv(lastjid=", last, "): ",
                                   kernel_.JailErrmsg()));
    }
    JailRef ref;
    ref.jid = jid;
    ref.handle = static_cast<uint64_t>(jid);
    ref.name = params[2].value.value_or(StrCat(jid));
    if (const std::size_t dot = ref.name.rfind('.'); dot != std::string::npos) {
      ref.parent = ref.name.substr(0, dot);
    }
    out.push_back(std::move(ref));
    last = jid;
  }
  return out;
}

absl::Status FreeBsdRacctReader::Read(std::string_view subject,
                                      std::string_view id, RawUsage& out) {
  // assign/append reuse filter_'s capacity: no allocation once warm.
  filter_.assign(subject);
  filter_.push_back(':');
  filter_.append(id);
  for (;;) {
    if (kernel_.RctlGetRacct(filter_.c_str(), filter_.size() + 1, buf_.data(),
                             buf_.size()) == 0) {
      break;
    }
    const int e = errno;
    if (e == ERANGE && buf_.size() * 4 <= options_.max_buffer_bytes) {
      buf_.resize(buf_.size() * 4);  // as rctl(8): ×4 and retry
      continue;
    }
    if (e == ENOSYS) return ErrnoStatusWithMessage(ENOSYS, EnosysText(kernel_));
    return ErrnoStatus(e, StrCat("rctl_get_racct(", filter_, ")"));
  }
  return ParseRacctOutput(std::string_view(buf_.data(), strnlen(buf_.data(), buf_.size())),
                          out);
}

absl::Status FreeBsdRacctReader::ReadFast(const JailRef& jail, RawUsage& out) {
  return Read("jail", jail.name, out);
}

absl::Status FreeBsdRacctReader::ReadSlow(const JailRef& jail, RawUsage& out,
                                          std::vector<ProcessUsage>* processes) {
  (void)out;
  if (processes == nullptr) return absl::OkStatus();
  if (kernel_.KinfoGetallproc(procs_) != 0) {
    const int e = errno;
    return ErrnoStatus(e, "kinfo_getallproc");
  }
  char pid_text[24];
  for (const KinfoProc& p : procs_) {
    if (p.jid != jail.jid) continue;
    const std::string_view id = FormatPid(p.pid, pid_text);
    ProcessUsage pu;
    absl::Status s = Read("process", id, pu.usage);
    if (!s.ok()) {
      if (StatusErrno(s) == ESRCH) continue;  // exited since the listing
      return s;
    }
    pu.pid = p.pid;
    pu.ruid = p.ruid;
    pu.euid = p.uid;
    pu.comm = p.comm;
    pu.jail = jail.name;
    processes->push_back(std::move(pu));
  }
  return absl::OkStatus();
}

ResourceMask FreeBsdRacctReader::Supported() const {
  ResourceMask all;
  all.set();
  return all;
}

}  // namespace jailwarden::platform
