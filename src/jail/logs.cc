#include "jailwarden/jail/logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>

#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::jail {
namespace {

constexpr char kCurrent[] = "current.log";

std::string Rotated(int n) { return StrCat(n, ".log"); }

// Reads `path` from `offset` to its last newline; `*end` is the offset
// after that newline. ENOENT reads as empty.
absl::Status ReadLines(const std::string& path, int64_t offset, uint64_t want_inode,
                       std::vector<std::string>* lines, int64_t* end, uint64_t* inode) {
  *end = offset;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return errno == ENOENT ? absl::OkStatus() : ErrnoStatus(errno, StrCat("open ", path));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus(err, StrCat("fstat ", path));
  }
  if (inode != nullptr) *inode = st.st_ino;
  if (want_inode != 0 && st.st_ino != want_inode) {
    close(fd);
    return absl::OkStatus();
  }
  if (st.st_size < offset) offset = 0;  // truncated: start again
  std::string data;
  char buf[65536];
  int64_t pos = offset;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), pos);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return ErrnoStatus(err, StrCat("read ", path));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    pos += n;
  }
  close(fd);
  size_t start = 0;
  for (size_t nl; (nl = data.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines->push_back(data.substr(start, nl - start));
  }
  *end = offset + static_cast<int64_t>(start);
  return absl::OkStatus();
}

void Collect(const std::vector<std::string>& lines, const LogQuery& q,
             std::vector<LogRecord>* out) {
  for (const std::string& line : lines) {
    std::optional<LogRecord> r = ParseLogRecord(line);
    if (r.has_value() && LogRecordMatches(*r, q)) out->push_back(*std::move(r));
  }
}

}  // namespace

std::string LogDirFor(std::string_view state_dir, std::string_view name) {
  return StrCat(state_dir == "/" ? "" : state_dir, "/logs/", name);
}

std::string FormatLogRecord(const LogRecord& r) {
  return StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", r.time, absl::UTCTimeZone()), " ",
                r.stream, " ", r.source, " ", r.text, "\n");
}

std::optional<LogRecord> ParseLogRecord(std::string_view line) {
  LogRecord r;
  size_t a = line.find(' ');
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = line.find(' ', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  size_t c = line.find(' ', b + 1);
  if (c == std::string_view::npos) return std::nullopt;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", std::string(line.substr(0, a)),
                       absl::UTCTimeZone(), &r.time, &err)) {
    return std::nullopt;
  }
  r.stream = std::string(line.substr(a + 1, b - a - 1));
  r.source = std::string(line.substr(b + 1, c - b - 1));
  r.text = std::string(line.substr(c + 1));
  return r;
}

absl::StatusOr<LogFileWriter> LogFileWriter::Open(const std::string& dir,
                                                  platform::LogSpec spec) {
  const size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (mkdir(dir.substr(0, slash).c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, StrCat("mkdir ", dir.substr(0, slash)));
    }
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, StrCat("mkdir ", dir));
  }
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dir_fd < 0) {
    return ErrnoStatus(errno, StrCat("open ", dir));
  }
  (void)fchmod(dir_fd, 0700);
  int fd = openat(dir_fd, kCurrent, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    close(dir_fd);
    return ErrnoStatus(err, StrCat("open ", dir, "/", kCurrent));
  }
  struct stat st;
  int64_t size = fstat(fd, &st) == 0 ? st.st_size : 0;
  return LogFileWriter(dir_fd, fd, size, spec);
}

LogFileWriter::LogFileWriter(LogFileWriter&& o) noexcept
    : dir_fd_(o.dir_fd_), file_fd_(o.file_fd_), size_(o.size_), spec_(o.spec_) {
  o.dir_fd_ = o.file_fd_ = -1;
}

LogFileWriter& LogFileWriter::operator=(LogFileWriter&& o) noexcept {
  std::swap(dir_fd_, o.dir_fd_);
  std::swap(file_fd_, o.file_fd_);
  std::swap(size_, o.size_);
  std::swap(spec_, o.spec_);
  return *this;
}

LogFileWriter::~LogFileWriter() {
  if (file_fd_ >= 0) close(file_fd_);
  if (dir_fd_ >= 0) close(dir_fd_);
}

absl::Status LogFileWriter::Rotate() {
  // Oldest first: N-1.log goes, k.log becomes k+1.log, current becomes 1.
  const int last = spec_.max_files - 1;
  if (last <= 0) {
    if (ftruncate(file_fd_, 0) != 0) return ErrnoStatus(errno, "ftruncate current.log");
    size_ = 0;
    return absl::OkStatus();
  }
  if (unlinkat(dir_fd_, Rotated(last).c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, StrCat("unlink ", Rotated(last)));
  }
  for (int k = last - 1; k >= 1; --k) {
    if (renameat(dir_fd_, Rotated(k).c_str(), dir_fd_, Rotated(k + 1).c_str()) != 0 &&
        errno != ENOENT) {
      return ErrnoStatus(errno, StrCat("rename ", Rotated(k)));
    }
  }
  if (renameat(dir_fd_, kCurrent, dir_fd_, Rotated(1).c_str()) != 0) {
    return ErrnoStatus(errno, "rename current.log");
  }
  int fd = openat(dir_fd_, kCurrent, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                  0600);
  if (fd < 0) return ErrnoStatus(errno, "open current.log");
  close(file_fd_);
  file_fd_ = fd;
  size_ = 0;
  return absl::OkStatus();
}

absl::Status LogFileWriter::Append(const LogRecord& record) {
  const std::string line = FormatLogRecord(record);
  if (size_ > 0 && size_ + static_cast<int64_t>(line.size()) > spec_.max_size) {
    if (absl::Status s = Rotate(); !s.ok()) return s;
  }
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(file_fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "write current.log");
    done += static_cast<size_t>(n);
  }
  size_ += static_cast<int64_t>(line.size());
  return absl::OkStatus();
}

bool LogRecordMatches(const LogRecord& r, const LogQuery& q) {
  return r.time >= q.since && (q.stream.empty() || q.stream == r.stream);
}

absl::StatusOr<std::vector<LogRecord>> ReadLogs(const std::string& dir, const LogQuery& q,
                                                LogCursor* cursor) {
  std::vector<LogRecord> out;
  // At most 1000 rotated files (the policy allows 100).
  for (int k = 1000; k >= 1; --k) {
    const std::string path = StrCat(dir, "/", Rotated(k));
    if (access(path.c_str(), F_OK) != 0) continue;
    std::vector<std::string> lines;
    int64_t end = 0;
    if (absl::Status s = ReadLines(path, 0, 0, &lines, &end, nullptr); !s.ok()) return s;
    Collect(lines, q, &out);
  }
  std::vector<std::string> lines;
  int64_t end = 0;
  uint64_t inode = 0;
  if (absl::Status s = ReadLines(StrCat(dir, "/", kCurrent), 0, 0, &lines, &end, &inode);
      !s.ok()) {
    return s;
  }
  Collect(lines, q, &out);
  if (cursor != nullptr) *cursor = LogCursor{inode, end};
  if (q.tail >= 0 && static_cast<int64_t>(out.size()) > q.tail) {
    out.erase(out.begin(), out.end() - q.tail);
  }
  return out;
}

absl::StatusOr<std::vector<LogRecord>> ReadNewLogs(const std::string& dir, const LogQuery& q,
                                                   LogCursor* cursor) {
  std::vector<LogRecord> out;
  const std::string current = StrCat(dir, "/", kCurrent);
  struct stat st;
  if (stat(current.c_str(), &st) != 0) {
    if (errno == ENOENT) return out;
    return ErrnoStatus(errno, StrCat("stat ", current));
  }
  if (cursor->inode != 0 && st.st_ino != cursor->inode) {
    // Rotated: the rest of the file we followed, now 1.log.
    std::vector<std::string> lines;
    int64_t end = 0;
    if (absl::Status s = ReadLines(StrCat(dir, "/", Rotated(1)), cursor->offset, cursor->inode,
                                   &lines, &end, nullptr);
        !s.ok()) {
      return s;
    }
    Collect(lines, q, &out);
    *cursor = LogCursor{0, 0};
  }
  std::vector<std::string> lines;
  int64_t end = 0;
  uint64_t inode = 0;
  if (absl::Status s = ReadLines(current, cursor->offset, 0, &lines, &end, &inode); !s.ok()) {
    return s;
  }
  Collect(lines, q, &out);
  *cursor = LogCursor{inode, end};
  return out;
}

}  // namespace jailwarden::jail
