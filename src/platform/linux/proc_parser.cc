#include "platform/linux/proc_parser.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {
namespace {

std::string_view NextLine(std::string_view& text) {
  std::size_t nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  return line;
}

std::string_view NextField(std::string_view& line) {
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) {
    ++i;
  }
  std::size_t j = i;
  while (j < line.size() && line[j] != ' ' && line[j] != '\t') {
    ++j;
  }
  std::string_view field = line.substr(i, j - i);
  line.remove_prefix(j);
  return field;
}

// "VmData:\t  18532 kB" -> bytes.
bool ParseKb(std::string_view rest, int64_t& out) {
  std::optional<int64_t> kb = ParseInt<int64_t>(NextField(rest));
  if (!kb) {
    return false;
  }
  out = *kb * 1024;
  return true;
}

absl::StatusOr<int64_t> CountDir(const char* path, bool skip_ptmx) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus(errno, path);
  }
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    close(fd);
    return ErrnoStatus(err, path);
  }
  int64_t n = 0;
  while (dirent* e = readdir(dir)) {
    const char* name = e->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
      continue;
    }
    if (skip_ptmx && std::strcmp(name, "ptmx") == 0) {
      continue;
    }
    ++n;
  }
  closedir(dir);
  return n;
}

}  // namespace

std::optional<ProcStatusFields> ParseProcStatus(std::string_view text) {
  ProcStatusFields s;
  bool have_uid = false, have_threads = false;
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view key = line.substr(0, colon);
    std::string_view rest = line.substr(colon + 1);
    bool ok = true;
    if (key == "Name") {
      s.name = StripWhitespace(rest);
    } else if (key == "Uid") {
      std::optional<int64_t> r = ParseInt<int64_t>(NextField(rest));
      std::optional<int64_t> e = ParseInt<int64_t>(NextField(rest));
      ok = r.has_value() && e.has_value();
      if (ok) {
        s.ruid = *r;
        s.euid = *e;
        have_uid = true;
      }
    } else if (key == "Threads") {
      std::optional<int64_t> t = ParseInt<int64_t>(NextField(rest));
      ok = t.has_value();
      if (ok) {
        s.threads = *t;
        have_threads = true;
      }
    } else if (key == "VmSize") {
      ok = ParseKb(rest, s.vm_size_bytes);
    } else if (key == "VmLck") {
      ok = ParseKb(rest, s.vm_lck_bytes);
    } else if (key == "VmRSS") {
      ok = ParseKb(rest, s.vm_rss_bytes);
    } else if (key == "VmData") {
      ok = ParseKb(rest, s.vm_data_bytes);
    } else if (key == "VmStk") {
      ok = ParseKb(rest, s.vm_stk_bytes);
    } else if (key == "VmSwap") {
      ok = ParseKb(rest, s.vm_swap_bytes);
    }
    if (!ok) {
      return std::nullopt;
    }
  }
  if (!have_uid || !have_threads) {
    return std::nullopt;
  }
  return s;
}

namespace {

// The rest of the status line whose key is `key` ("Uid"), nullopt if none.
std::optional<std::string_view> FindStatusLine(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && line.substr(0, colon) == key) {
      return line.substr(colon + 1);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcStatusUids> ParseProcStatusUids(std::string_view text) {
  std::optional<std::string_view> rest = FindStatusLine(text, "Uid");
  if (!rest) {
    return std::nullopt;
  }
  std::optional<int64_t> r = ParseInt<int64_t>(NextField(*rest));
  std::optional<int64_t> e = ParseInt<int64_t>(NextField(*rest));
  if (!r || !e) {
    return std::nullopt;
  }
  return ProcStatusUids{*r, *e};
}

std::optional<ProcStatusNsPid> ParseProcStatusNsPid(std::string_view text) {
  std::optional<std::string_view> rest = FindStatusLine(text, "NSpid");
  if (!rest) {
    return std::nullopt;
  }
  ProcStatusNsPid ns;
  for (std::string_view f = NextField(*rest); !f.empty(); f = NextField(*rest)) {
    std::optional<int64_t> pid = ParseInt<int64_t>(f);
    if (!pid) {
      return std::nullopt;
    }
    if (ns.levels == 0) {
      ns.outer = *pid;
    }
    ns.inner = *pid;
    ++ns.levels;
  }
  if (ns.levels == 0) {
    return std::nullopt;
  }
  return ns;
}

std::optional<ProcStatFields> ParseProcStat(std::string_view text) {
  ProcStatFields s;
  std::size_t open = text.find('(');
  std::size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos ||
      close < open) {
    return std::nullopt;
  }
  std::optional<int64_t> pid = ParseInt<int64_t>(StripWhitespace(text.substr(0, open)));
  if (!pid) {
    return std::nullopt;
  }
  s.pid = *pid;
  s.comm = text.substr(open + 1, close - open - 1);
  std::string_view rest = text.substr(close + 1);
  // Field 3 onwards.
  int field = 3;
  for (std::string_view f = NextField(rest); !f.empty(); f = NextField(rest), ++field) {
    if (field == 3) {
      s.state = f[0];
      continue;
    }
    int64_t* target = nullptr;
    switch (field) {
      case 4:
        target = &s.ppid;
        break;
      case 14:
        target = &s.utime_ticks;
        break;
      case 15:
        target = &s.stime_ticks;
        break;
      case 20:
        target = &s.num_threads;
        break;
      case 22:
        target = &s.starttime_ticks;
        break;
      default:
        break;
    }
    if (target != nullptr) {
      std::optional<int64_t> v = ParseInt<int64_t>(StripWhitespace(f));
      if (!v) {
        return std::nullopt;
      }
      *target = *v;
    }
    if (field == 22) {
      return s;
    }
  }
  return std::nullopt;  // too few fields
}

std::optional<ProcSchedstatFields> ParseProcSchedstat(std::string_view text) {
  uint64_t v[3];
  for (uint64_t& out : v) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\n')) {
      text.remove_prefix(1);
    }
    std::size_t end = 0;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
      ++end;
    }
    std::optional<uint64_t> n = ParseInt<uint64_t>(text.substr(0, end));
    if (end == 0 || !n) {
      return std::nullopt;
    }
    out = *n;
    text.remove_prefix(end);
  }
  if (!StripWhitespace(text).empty()) {
    return std::nullopt;
  }
  return ProcSchedstatFields{v[0], v[1], v[2]};
}

std::optional<ProcIoFields> ParseProcIo(std::string_view text) {
  ProcIoFields io;
  int seen = 0;
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view key = line.substr(0, colon);
    std::optional<int64_t> v = ParseInt<int64_t>(StripWhitespace(line.substr(colon + 1)));
    if (!v) {
      return std::nullopt;
    }
    const std::pair<std::string_view, int64_t*> keys[] = {
        {"rchar", &io.rchar},
        {"wchar", &io.wchar},
        {"syscr", &io.syscr},
        {"syscw", &io.syscw},
        {"read_bytes", &io.read_bytes},
        {"write_bytes", &io.write_bytes},
        {"cancelled_write_bytes", &io.cancelled_write_bytes},
    };
    int64_t* target = nullptr;
    for (const auto& [name, field] : keys) {
      if (key == name) {
        target = field;
      }
    }
    if (target != nullptr) {
      *target = *v;
      ++seen;
    }
  }
  if (seen == 0) {
    return std::nullopt;
  }
  return io;
}

absl::StatusOr<int64_t> CountProcFds(int64_t pid) {
  char path[48];
  std::snprintf(path, sizeof(path), "/proc/%lld/fd", static_cast<long long>(pid));
  return CountDir(path, false);
}

absl::StatusOr<int64_t> CountDevptsEntries(const char* devpts_dir) {
  return CountDir(devpts_dir, true);
}

}  // namespace jailwarden::platform
