#pragma once

// Structured log lines on stderr (Debian 12's abseil predates absl/log):
//   2026-11-22T16:01:02.123Z INFO jail started jail=web1 jid=3
// Thread-safe. Field values are quoted when they contain spaces or quotes.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace jailwarden {

enum class LogSeverity : uint8_t { kDebug, kInfo, kWarning, kError };

struct LogField {
  std::string_view key;
  std::string value;
};

// Writes one line. Lines below the minimum severity are dropped.
void Log(LogSeverity severity, std::string_view message,
         std::initializer_list<LogField> fields = {});

// Default kInfo; JAILWARDEN_LOG_LEVEL=debug|info|warning|error overrides.
void SetMinLogSeverity(LogSeverity severity);
LogSeverity MinLogSeverity();

// Redirects log output to `fd` (default 2). For tests and the daemon's
// --log-file.
void SetLogFd(int fd);

inline void LogInfo(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogSeverity::kInfo, m, f);
}
inline void LogWarning(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogSeverity::kWarning, m, f);
}
inline void LogError(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogSeverity::kError, m, f);
}
inline void LogDebug(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogSeverity::kDebug, m, f);
}

}  // namespace jailwarden
