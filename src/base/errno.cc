#include "jailwarden/base/errno.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "jailwarden/base/absl_compat.h"

namespace jailwarden {
namespace {

constexpr char kErrnoPayloadUrl[] = "jailwarden/errno";

absl::Status AttachErrno(absl::Status status, int errnum) {
  status.SetPayload(kErrnoPayloadUrl, absl::Cord(absl::StrCat(errnum)));
  return status;
}

}  // namespace

absl::Status ErrnoStatus(int errnum, std::string_view context) {
  return AttachErrno(absl::ErrnoToStatus(errnum, ToAbsl(context)), errnum);
}

absl::Status ErrnoStatusWithMessage(int errnum, std::string_view message) {
  absl::Status base = absl::ErrnoToStatus(errnum, "");
  return AttachErrno(absl::Status(base.code(), ToAbsl(message)), errnum);
}

std::optional<int> StatusErrno(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrnoPayloadUrl);
  int value = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &value)) {
    return std::nullopt;
  }
  return value;
}

std::string_view ErrnoName(int errnum) {
  switch (errnum) {
#define JW_ERRNO_CASE(e) \
  case e:                \
    return #e;
    JW_ERRNO_CASE(EPERM) JW_ERRNO_CASE(ENOENT) JW_ERRNO_CASE(ESRCH)
    JW_ERRNO_CASE(EINTR) JW_ERRNO_CASE(EIO) JW_ERRNO_CASE(ENXIO)
    JW_ERRNO_CASE(E2BIG) JW_ERRNO_CASE(ENOEXEC) JW_ERRNO_CASE(EBADF)
    JW_ERRNO_CASE(ECHILD) JW_ERRNO_CASE(EAGAIN) JW_ERRNO_CASE(ENOMEM)
    JW_ERRNO_CASE(EACCES) JW_ERRNO_CASE(EFAULT) JW_ERRNO_CASE(EBUSY)
    JW_ERRNO_CASE(EEXIST) JW_ERRNO_CASE(EXDEV) JW_ERRNO_CASE(ENODEV)
    JW_ERRNO_CASE(ENOTDIR) JW_ERRNO_CASE(EISDIR) JW_ERRNO_CASE(EINVAL)
    JW_ERRNO_CASE(ENFILE) JW_ERRNO_CASE(EMFILE) JW_ERRNO_CASE(ENOTTY)
    JW_ERRNO_CASE(EFBIG) JW_ERRNO_CASE(ENOSPC) JW_ERRNO_CASE(ESPIPE)
    JW_ERRNO_CASE(EROFS) JW_ERRNO_CASE(EMLINK) JW_ERRNO_CASE(EPIPE)
    JW_ERRNO_CASE(EDOM) JW_ERRNO_CASE(ERANGE) JW_ERRNO_CASE(EDEADLK)
    JW_ERRNO_CASE(ENAMETOOLONG) JW_ERRNO_CASE(ENOSYS)
    JW_ERRNO_CASE(ENOTEMPTY) JW_ERRNO_CASE(ELOOP) JW_ERRNO_CASE(EOPNOTSUPP)
    JW_ERRNO_CASE(EADDRINUSE) JW_ERRNO_CASE(EADDRNOTAVAIL)
    JW_ERRNO_CASE(ECONNREFUSED) JW_ERRNO_CASE(ETIMEDOUT)
    JW_ERRNO_CASE(EOVERFLOW) JW_ERRNO_CASE(EPROTO) JW_ERRNO_CASE(ECANCELED)
#undef JW_ERRNO_CASE
    default:
      break;
  }
  thread_local std::string unknown;
  unknown = absl::StrCat("E", errnum);
  return unknown;
}

std::string_view FreeBsdStrerror(int errnum) {
  // FreeBSD's sys_errlist wording where it differs from glibc's, for the
  // errno values rctl(2), jail(2) and friends return.
  switch (errnum) {
    case EOPNOTSUPP:
      return "Operation not supported";
    case ESRCH:
      return "No such process";
    case EINVAL:
      return "Invalid argument";
    case ERANGE:
      return "Result too large";
    case ENAMETOOLONG:
      return "File name too long";
    case EPERM:
      return "Operation not permitted";
    case ENOSYS:
      return "Function not implemented";
    case E2BIG:
      return "Argument list too long";
    case EFAULT:
      return "Bad address";
    case ENOENT:
      return "No such file or directory";
    case EEXIST:
      return "File exists";
    case EAGAIN:
      return "Resource temporarily unavailable";
    case ENOMEM:
      return "Cannot allocate memory";
    default:
      return strerror(errnum);
  }
}

}  // namespace jailwarden
