#pragma once

// SystemdNotifier: jailwarden's side of sd_notify(3) for a Type=notify
// unit. READY=1 once the daemon has adopted its jails and applied their
// limits, STOPPING=1 on shutdown, STATUS= lines, and WATCHDOG=1 fed from
// the sampler's tick, so systemd restarts a daemon whose sampling loop has
// stopped (WatchdogSec= in packaging/linux/jailwarden.service).
//
// On Linux the messages go through libsystemd's sd_notify (Debian's
// libsystemd0, on every systemd host); elsewhere, and when the daemon was
// not started by systemd (no NOTIFY_SOCKET), every call is a no-op that
// returns OK.
//
// Thread-safety: OnTick may be called from any one thread (the sampler's)
// while another calls Ready, Status or Stopping; each call sends one
// datagram and shares only an atomic with the others.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace jailwarden::service {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET and, through sd_watchdog_enabled(3),
  // WATCHDOG_USEC/WATCHDOG_PID (a watchdog meant for another pid is
  // ignored). The environment is left as it is: jails never inherit it,
  // jailwarden-init starts every jail process with its own environment.
  static SystemdNotifier FromEnvironment();

  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;
  SystemdNotifier(SystemdNotifier&& other) noexcept;
  SystemdNotifier& operator=(SystemdNotifier&&) = delete;

  // True when a notification socket was given (the daemon runs under a
  // Type=notify unit).
  bool enabled() const { return enabled_; }
  // WatchdogSec= of the unit; zero when the watchdog is off.
  absl::Duration watchdog_interval() const { return watchdog_; }

  // "READY=1" and "STATUS=<status>". Errors: the socket refused the
  // datagram (the errno's name).
  absl::Status Ready(std::string_view status);
  // "STATUS=<status>".
  absl::Status Status(std::string_view status);
  // "STOPPING=1" and "STATUS=<status>".
  absl::Status Stopping(std::string_view status);

  // One sampler tick happened at `now` (any clock that moves forward).
  // Sends "WATCHDOG=1" when the last one is at least a quarter of the
  // watchdog interval old, so systemd hears from the daemon only while
  // ticks progress, with room for three late ticks. Returns whether it
  // sent one; false without a watchdog.
  bool OnTick(absl::Time now);

 private:
  SystemdNotifier(bool enabled, absl::Duration watchdog)
      : enabled_(enabled), watchdog_(watchdog) {}

  absl::Status Send(const std::string& message);

  bool enabled_ = false;
  absl::Duration watchdog_;
  // absl::ToUnixNanos of the last WATCHDOG=1; INT64_MIN before the first.
  std::atomic<int64_t> last_watchdog_ns_{INT64_MIN};
};

}  // namespace jailwarden::service
