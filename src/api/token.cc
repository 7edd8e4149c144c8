#include "jailwarden/api/token.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  std::string partial;
  for (std::string_view piece : Split(dir, '/')) {
    if (piece.empty()) {
      if (partial.empty()) partial = "/";
      continue;
    }
    if (!partial.empty() && partial.back() != '/') partial.push_back('/');
    partial.append(piece);
    if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, StrCat("mkdir ", partial));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool BearerMatches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kBearer = "Bearer ";
  return StartsWith(authorization, kBearer) &&
         TokensEqual(StripWhitespace(authorization.substr(kBearer.size())), token);
}

absl::StatusOr<std::string> NewToken() {
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token.push_back(kHex[b >> 4]);
    token.push_back(kHex[b & 15]);
  }
  return token;
}

// The largest token file read (a token is 64 hex characters).
constexpr std::size_t kMaxTokenFileBytes = 4096;

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return ErrnoStatus(errno, StrCat("token file ", path));
  std::string text;
  char buf[256];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      close(fd);
      return ErrnoStatus(e, StrCat("read ", path));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxTokenFileBytes) {
      close(fd);
      return ErrnoStatusWithMessage(
          EFBIG, StrCat("token file ", path, ": larger than ", kMaxTokenFileBytes,
                        " bytes; a token is one line of printable characters"));
    }
  }
  close(fd);
  const std::string_view token = StripWhitespace(text);
  if (token.empty() || token.find_first_of(" \t\r\n") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("token file ", path, " holds no token")));
  }
  for (char c : token) {
    // It goes into an HTTP header: a NUL or control byte would make the
    // request malformed ("HTTP 400 Malformed message").
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
      return absl::InvalidArgumentError(ToAbsl(StrCat(
          "token file ", path,
          " holds no token: it contains a byte that is not printable ASCII")));
    }
  }
  return std::string(token);
}

absl::StatusOr<std::string> LoadOrCreateToken(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return absl::FailedPreconditionError(
          ToAbsl(StrCat("token file ", path, " is not a regular file")));
    }
    if ((st.st_mode & 077) != 0) {
      char mode[8];
      snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
      return absl::FailedPreconditionError(ToAbsl(
          StrCat("token file ", path, " is accessible by group or others (mode ",
                 mode, "); chmod 600 it")));
    }
    return ReadTokenFile(path);
  }
  if (errno != ENOENT) return ErrnoStatus(errno, StrCat("stat ", path));
  const std::size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    JW_RETURN_IF_ERROR(MakeDirs(path.substr(0, slash)));
  }
  JW_ASSIGN_OR_RETURN(std::string token, NewToken());
  const std::string tmp = StrCat(path, ".tmp.", getpid());
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoStatus(errno, StrCat("create ", tmp));
  const std::string line = StrCat(token, "\n");
  const ssize_t n = write(fd, line.data(), line.size());
  const int write_errno = errno;
  if (n != static_cast<ssize_t>(line.size()) || fsync(fd) != 0) {
    close(fd);
    unlink(tmp.c_str());
    return ErrnoStatus(n < 0 ? write_errno : EIO, StrCat("write ", tmp));
  }
  close(fd);
  // link() rather than rename(): never replaces a token another process
  // created meanwhile.
  if (link(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    unlink(tmp.c_str());
    if (e == EEXIST) return ReadTokenFile(path);
    return ErrnoStatus(e, StrCat("link ", path));
  }
  unlink(tmp.c_str());
  return token;
}

bool TokensEqual(std::string_view a, std::string_view b) {
  const std::size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

}  // namespace jailwarden::api
