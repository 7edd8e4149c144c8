#pragma once

// A jail's captured output (issue 17): the stdout and stderr of its main
// process (`command:`) and of every exec.* hook, one record per line, in
// <state_dir>/logs/NAME/ (0700). The files are written by the jail's log
// writer (jailwarden-logd, a host process outside the jail; never the
// daemon, so a daemon restart or kill -9 loses nothing) and read by
// `jailwarden logs` through GET /v1/jails/NAME/logs.
//
// Files: "current.log" is appended to; at `max_size` it becomes "1.log",
// "1.log" becomes "2.log" ..., and "<max_files-1>.log" is removed, so the
// directory never holds more than max_size * max_files bytes (plus one
// record).
//
// Record: "<time> <stream> <source> <text>\n" — time RFC 3339 UTC with
// nanoseconds, stream "stdout" or "stderr" (or "meta" for jailwarden's
// own notes, e.g. dropped lines), source "main" or the hook ("exec.start",
// ...); text has no newline. Plain functions and a single-owner writer:
// no shared state, no locks.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/platform/jail_spec.h"

namespace jailwarden::jail {

struct LogRecord {
  absl::Time time = absl::InfinitePast();
  std::string stream;  // stdout, stderr, meta
  std::string source;  // main, exec.start, ...
  std::string text;
  friend bool operator==(const LogRecord&, const LogRecord&) = default;
};

// Longest text of one record; a longer line is split into several.
inline constexpr std::size_t kMaxLogLine = 16 * 1024;

// "<state_dir>/logs/<name>".
std::string LogDirFor(std::string_view state_dir, std::string_view name);

std::string FormatLogRecord(const LogRecord& record);
// nullopt for a line that is not a record (a torn last line after a crash).
std::optional<LogRecord> ParseLogRecord(std::string_view line);

// Appends records to a jail's log directory, rotating by size. Not
// thread-safe (one owner: the writer process).
class LogFileWriter {
 public:
  // Creates `dir` (0700, and its parent) if needed and opens current.log
  // (O_APPEND|O_CREAT|O_NOFOLLOW, 0600) relative to the directory's fd.
  // Errors: the errno of mkdir/open.
  static absl::StatusOr<LogFileWriter> Open(const std::string& dir, platform::LogSpec spec);

  LogFileWriter(LogFileWriter&& other) noexcept;
  LogFileWriter& operator=(LogFileWriter&& other) noexcept;
  LogFileWriter(const LogFileWriter&) = delete;
  LogFileWriter& operator=(const LogFileWriter&) = delete;
  ~LogFileWriter();

  // Writes one record, rotating first when it would pass max_size. Errors:
  // the errno of write/rename/open.
  absl::Status Append(const LogRecord& record);

 private:
  LogFileWriter(int dir_fd, int file_fd, int64_t size, platform::LogSpec spec)
      : dir_fd_(dir_fd), file_fd_(file_fd), size_(size), spec_(spec) {}
  absl::Status Rotate();

  int dir_fd_ = -1;
  int file_fd_ = -1;
  int64_t size_ = 0;
  platform::LogSpec spec_;
};

// Which records `logs` shows.
struct LogQuery {
  absl::Time since = absl::InfinitePast();  // records at or after
  int64_t tail = -1;                        // only the last N (-1 = all)
  std::string stream;                       // "" = every stream
};

// Whether `record` passes the query's since and stream filters.
bool LogRecordMatches(const LogRecord& record, const LogQuery& query);

// Where a reader is: the rotation generation's file and offset, so a
// follower reads only what was appended (and notices a rotation).
struct LogCursor {
  uint64_t inode = 0;
  int64_t offset = 0;
};

// The records in `dir`, oldest file first, filtered by `query`; `cursor`
// (if given) is set to the end of current.log. A directory that does not
// exist yet is empty. Errors: the errno of opendir/read other than ENOENT.
absl::StatusOr<std::vector<LogRecord>> ReadLogs(const std::string& dir, const LogQuery& query,
                                                LogCursor* cursor = nullptr);

// What was appended to current.log since `cursor` (after a rotation: the
// rest of the rotated file, then the new one from the start), filtered by
// `query`'s stream and since; advances `cursor`. Whole lines only.
absl::StatusOr<std::vector<LogRecord>> ReadNewLogs(const std::string& dir, const LogQuery& query,
                                                   LogCursor* cursor);

}  // namespace jailwarden::jail
