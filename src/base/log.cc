#include "jailwarden/base/log.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "jailwarden/base/strings.h"

namespace jailwarden {
namespace {

LogSeverity InitialSeverity() {
  const char* env = std::getenv("JAILWARDEN_LOG_LEVEL");
  if (env == nullptr) return LogSeverity::kInfo;
  const std::string_view v = env;
  if (v == "debug") return LogSeverity::kDebug;
  if (v == "warning") return LogSeverity::kWarning;
  if (v == "error") return LogSeverity::kError;
  return LogSeverity::kInfo;
}

std::atomic<int> g_min{static_cast<int>(InitialSeverity())};
std::atomic<int> g_fd{2};

std::string_view SeverityName(LogSeverity s) {
  switch (s) {
    case LogSeverity::kDebug:
      return "DEBUG";
    case LogSeverity::kInfo:
      return "INFO";
    case LogSeverity::kWarning:
      return "WARN";
    case LogSeverity::kError:
      return "ERROR";
  }
  return "INFO";
}

void AppendValue(std::string& line, std::string_view v) {
  const bool quote = v.empty() || v.find_first_of(" \"=\t\n") != std::string_view::npos;
  if (!quote) {
    line.append(v);
    return;
  }
  line.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') line.push_back('\\');
    if (c == '\n') {
      line.append("\\n");
      continue;
    }
    line.push_back(c);
  }
  line.push_back('"');
}

}  // namespace

void SetMinLogSeverity(LogSeverity severity) {
  g_min.store(static_cast<int>(severity));
}

LogSeverity MinLogSeverity() { return static_cast<LogSeverity>(g_min.load()); }

void SetLogFd(int fd) { g_fd.store(fd); }

void Log(LogSeverity severity, std::string_view message,
         std::initializer_list<LogField> fields) {
  if (static_cast<int>(severity) < g_min.load()) return;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm parts{};
  gmtime_r(&ts.tv_sec, &parts);
  char stamp[96];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                parts.tm_hour, parts.tm_min, parts.tm_sec, ts.tv_nsec / 1000000);
  std::string line = StrCat(stamp, " ", SeverityName(severity), " ", message);
  for (const LogField& f : fields) {
    StrAppend(&line, " ", f.key, "=");
    AppendValue(line, f.value);
  }
  line.push_back('\n');
  // One write(2) per line so concurrent lines do not interleave.
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(g_fd.load(), p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace jailwarden
