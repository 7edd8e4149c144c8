#include "platform/linux/ipc_limits.h"

#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/linux_jail_paths.h"

namespace jailwarden::platform {
namespace {

constexpr char kDir[] = "/proc/sys/kernel/";

absl::StatusOr<int64_t> ReadOne(std::string_view name) {
  std::string path = StrCat(kDir, name);
  JW_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  std::optional<int64_t> v = ParseInt<int64_t>(StripWhitespace(text));
  if (!v) {
    // shmall/shmmax may exceed INT64_MAX on 64-bit hosts (ULONG_MAX - 2^24).
    std::optional<uint64_t> u = ParseInt<uint64_t>(StripWhitespace(text));
    if (!u) {
      return absl::InternalError(StrCat(path, ": cannot parse \"", text, "\""));
    }
    v = static_cast<int64_t>(std::min<uint64_t>(*u, INT64_MAX));
  }
  return *v;
}

absl::Status WriteOne(std::string_view name, std::string_view value) {
  return WriteFileString(StrCat(kDir, name), value);
}

}  // namespace

std::optional<std::array<int64_t, 4>> ParseSemSysctl(std::string_view text) {
  std::vector<std::string_view> f = SplitWhitespace(text);
  if (f.size() != 4) {
    return std::nullopt;
  }
  std::array<int64_t, 4> out{};
  for (std::size_t i = 0; i < 4; ++i) {
    std::optional<int64_t> v = ParseInt<int64_t>(f[i]);
    if (!v) {
      return std::nullopt;
    }
    out[i] = *v;
  }
  return out;
}

std::string FormatSemSysctl(const std::array<int64_t, 4>& sem) {
  return StrCat(sem[0], " ", sem[1], " ", sem[2], " ", sem[3]);
}

absl::StatusOr<IpcSysctls> ReadIpcSysctlsHere() {
  IpcSysctls s;
  JW_ASSIGN_OR_RETURN(s.msgmni, ReadOne("msgmni"));
  JW_ASSIGN_OR_RETURN(s.msgmnb, ReadOne("msgmnb"));
  JW_ASSIGN_OR_RETURN(s.shmmni, ReadOne("shmmni"));
  JW_ASSIGN_OR_RETURN(s.shmall, ReadOne("shmall"));
  JW_ASSIGN_OR_RETURN(s.shmmax, ReadOne("shmmax"));
  JW_ASSIGN_OR_RETURN(std::string sem_text, ReadFileToString(StrCat(kDir, "sem")));
  std::optional<std::array<int64_t, 4>> sem = ParseSemSysctl(sem_text);
  if (!sem) {
    return absl::InternalError(StrCat("kernel.sem: cannot parse \"", sem_text, "\""));
  }
  s.sem = *sem;
  return s;
}

absl::Status WriteIpcSysctlsHere(const IpcSysctls& wanted, const IpcSysctls* current) {
  auto differs = [&](auto member) {
    return current == nullptr || wanted.*member != current->*member;
  };
  if (differs(&IpcSysctls::msgmni)) {
    JW_RETURN_IF_ERROR(WriteOne("msgmni", StrCat(wanted.msgmni)));
  }
  if (differs(&IpcSysctls::msgmnb)) {
    JW_RETURN_IF_ERROR(WriteOne("msgmnb", StrCat(wanted.msgmnb)));
  }
  if (differs(&IpcSysctls::sem)) {
    JW_RETURN_IF_ERROR(WriteOne("sem", FormatSemSysctl(wanted.sem)));
  }
  if (differs(&IpcSysctls::shmmni)) {
    JW_RETURN_IF_ERROR(WriteOne("shmmni", StrCat(wanted.shmmni)));
  }
  if (differs(&IpcSysctls::shmall)) {
    JW_RETURN_IF_ERROR(WriteOne("shmall", StrCat(wanted.shmall)));
  }
  if (differs(&IpcSysctls::shmmax)) {
    JW_RETURN_IF_ERROR(WriteOne("shmmax", StrCat(wanted.shmmax)));
  }
  return absl::OkStatus();
}

}  // namespace jailwarden::platform
