#include "metrics/process_metrics.h"

#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#if defined(__linux__)
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>

#include <cstdlib>
#elif defined(__FreeBSD__)
#include <sys/param.h>
#include <sys/sysctl.h>
#include <sys/user.h>
#endif

#include "metrics/text_format.h"

namespace jailwarden::metrics {
namespace {

struct ProcessStats {
  std::optional<double> cpu_seconds;
  std::optional<int64_t> resident_bytes;
  std::optional<int64_t> virtual_bytes;
  std::optional<int64_t> open_fds;
  std::optional<int64_t> max_fds;
  std::optional<double> start_time;  // Unix seconds
};

#if defined(__linux__)
// Reads a small /proc file whole into `buf`; the size read or -1.
ssize_t ReadSmall(const char* path, char* buf, std::size_t size) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  std::size_t got = 0;
  while (got + 1 < size) {
    const ssize_t n = read(fd, buf + got, size - 1 - got);
    if (n < 0) {
      close(fd);
      return -1;
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  close(fd);
  buf[got] = '\0';
  return static_cast<ssize_t>(got);
}

void Read(ProcessStats& st) {
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  char buf[4096];
  // /proc/self/stat: fields after the ')' that ends comm (which may hold
  // spaces and parentheses), numbered from 3 (state).
  if (ReadSmall("/proc/self/stat", buf, sizeof(buf)) > 0 && ticks > 0) {
    std::string_view line(buf);
    const std::size_t close_paren = line.rfind(')');
    if (close_paren != std::string_view::npos) {
      const char* p = buf + close_paren + 1;
      uint64_t field[25] = {};
      for (int i = 3; i <= 24 && *p != '\0'; ++i) {
        while (*p == ' ') ++p;
        if (i == 3) {  // state: one character
          while (*p != ' ' && *p != '\0') ++p;
          continue;
        }
        char* end = nullptr;
        field[i] = std::strtoull(p, &end, 10);
        p = end;
      }
      st.cpu_seconds = static_cast<double>(field[14] + field[15]) / static_cast<double>(ticks);
      st.virtual_bytes = static_cast<int64_t>(field[23]);
      st.resident_bytes = static_cast<int64_t>(field[24]) * page;
      char stat[8192];
      if (ReadSmall("/proc/stat", stat, sizeof(stat)) > 0) {
        const char* b = std::strstr(stat, "\nbtime ");
        if (b != nullptr) {
          const double btime = static_cast<double>(std::strtoull(b + 7, nullptr, 10));
          st.start_time = btime + static_cast<double>(field[22]) / static_cast<double>(ticks);
        }
      }
    }
  }
  // getdents64 into a stack buffer rather than opendir(3), which mallocs:
  // a warm render allocates nothing (collector.h).
  const int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    alignas(8) char dents[8192];
    int64_t n = 0;
    bool ok = true;
    for (;;) {
      const long got = syscall(SYS_getdents64, dir, dents, sizeof(dents));
      if (got <= 0) {
        ok = got == 0;
        break;
      }
      for (long off = 0; off < got;) {
        const auto* d = reinterpret_cast<const dirent64*>(dents + off);
        if (d->d_name[0] != '.') {
          ++n;
        }
        off += d->d_reclen;
      }
    }
    close(dir);
    if (ok) {
      st.open_fds = n - 1;  // the directory's own descriptor
    }
  }
}
#elif defined(__FreeBSD__)
void Read(ProcessStats& st) {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    st.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, static_cast<int>(getpid())};
  kinfo_proc kp{};
  size_t len = sizeof(kp);
  if (sysctl(mib, 4, &kp, &len, nullptr, 0) == 0 && len == sizeof(kp)) {
    st.resident_bytes = static_cast<int64_t>(kp.ki_rssize) * getpagesize();
    st.virtual_bytes = static_cast<int64_t>(kp.ki_size);
    st.start_time = static_cast<double>(kp.ki_start.tv_sec) +
                    static_cast<double>(kp.ki_start.tv_usec) / 1e6;
  }
#ifdef KERN_PROC_NFDS
  int nfds_mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_NFDS, 0};
  int nfds = 0;
  size_t nfds_len = sizeof(nfds);
  if (sysctl(nfds_mib, 4, &nfds, &nfds_len, nullptr, 0) == 0) {
    st.open_fds = nfds;
  }
#endif
}
#else
void Read(ProcessStats& /*st*/) {}
#endif

void AppendDouble(std::string& out, double v) {
  // Microsecond resolution is all these values carry.
  text::AppendFixed(out, static_cast<int64_t>(v * 1e6 + (v < 0 ? -0.5 : 0.5)), 6);
}

}  // namespace

void AppendProcessFamilies(std::string& out) {
  ProcessStats st;
  Read(st);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    st.max_fds = static_cast<int64_t>(rl.rlim_cur);
  }
  text::AppendFamilyHeader(out, "process_cpu_seconds_total",
                           "Total user and system CPU time spent in seconds.", "counter");
  if (st.cpu_seconds) {
    text::BeginSample(out, "process_cpu_seconds_total", "");
    AppendDouble(out, *st.cpu_seconds);
    out.push_back('\n');
  }
  text::AppendFamilyHeader(out, "process_resident_memory_bytes",
                           "Resident memory size in bytes.", "gauge");
  if (st.resident_bytes) {
    text::BeginSample(out, "process_resident_memory_bytes", "");
    text::AppendInt(out, *st.resident_bytes);
    out.push_back('\n');
  }
  text::AppendFamilyHeader(out, "process_virtual_memory_bytes",
                           "Virtual memory size in bytes.", "gauge");
  if (st.virtual_bytes) {
    text::BeginSample(out, "process_virtual_memory_bytes", "");
    text::AppendInt(out, *st.virtual_bytes);
    out.push_back('\n');
  }
  text::AppendFamilyHeader(out, "process_open_fds", "Number of open file descriptors.",
                           "gauge");
  if (st.open_fds) {
    text::BeginSample(out, "process_open_fds", "");
    text::AppendInt(out, *st.open_fds);
    out.push_back('\n');
  }
  text::AppendFamilyHeader(out, "process_max_fds",
                           "Maximum number of open file descriptors (RLIMIT_NOFILE soft limit).",
                           "gauge");
  if (st.max_fds) {
    text::BeginSample(out, "process_max_fds", "");
    text::AppendInt(out, *st.max_fds);
    out.push_back('\n');
  }
  text::AppendFamilyHeader(out, "process_start_time_seconds",
                           "Start time of the process since unix epoch in seconds.", "gauge");
  if (st.start_time) {
    text::BeginSample(out, "process_start_time_seconds", "");
    AppendDouble(out, *st.start_time);
    out.push_back('\n');
  }
}

}  // namespace jailwarden::metrics
