#include "service/systemd_notify.h"

#include <cstdlib>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

#if defined(JW_HAVE_LIBSYSTEMD)
#include <systemd/sd-daemon.h>
#endif

namespace jailwarden::service {

SystemdNotifier SystemdNotifier::FromEnvironment() {
#if defined(JW_HAVE_LIBSYSTEMD)
  const char* socket = getenv("NOTIFY_SOCKET");
  const bool enabled = socket != nullptr && socket[0] != '\0';
  uint64_t usec = 0;
  // > 0: a watchdog for this pid; 0: none; < 0: WATCHDOG_USEC unreadable,
  // which systemd never writes: treated as none.
  const bool watchdog = enabled && sd_watchdog_enabled(0, &usec) > 0 && usec > 0;
  return SystemdNotifier(enabled, watchdog ? absl::Microseconds(usec) : absl::ZeroDuration());
#else
  return SystemdNotifier(false, absl::ZeroDuration());
#endif
}

SystemdNotifier::SystemdNotifier(SystemdNotifier&& other) noexcept
    : enabled_(other.enabled_),
      watchdog_(other.watchdog_),
      last_watchdog_ns_(other.last_watchdog_ns_.load()) {}

absl::Status SystemdNotifier::Send([[maybe_unused]] const std::string& message) {
  if (!enabled_) {
    return absl::OkStatus();
  }
#if defined(JW_HAVE_LIBSYSTEMD)
  const int r = sd_notify(0, message.c_str());
  if (r < 0) {
    return ErrnoStatus(-r, "sd_notify");
  }
#endif
  return absl::OkStatus();
}

absl::Status SystemdNotifier::Ready(std::string_view status) {
  return Send(StrCat("READY=1\nSTATUS=", status));
}

absl::Status SystemdNotifier::Status(std::string_view status) {
  return Send(StrCat("STATUS=", status));
}

absl::Status SystemdNotifier::Stopping(std::string_view status) {
  return Send(StrCat("STOPPING=1\nSTATUS=", status));
}

bool SystemdNotifier::OnTick(absl::Time now) {
  if (!enabled_ || watchdog_ <= absl::ZeroDuration()) {
    return false;
  }
  const int64_t now_ns = absl::ToUnixNanos(now);
  const int64_t last = last_watchdog_ns_.load(std::memory_order_relaxed);
  if (last != INT64_MIN && now_ns - last < absl::ToInt64Nanoseconds(watchdog_ / 4)) {
    return false;
  }
  if (!Send("WATCHDOG=1").ok()) {
    return false;  // the next tick tries again
  }
  last_watchdog_ns_.store(now_ns, std::memory_order_relaxed);
  return true;
}

}  // namespace jailwarden::service
