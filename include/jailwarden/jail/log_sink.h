#pragma once

// The daemon's side of a jail's log writer (issue 17; jail/logs.h,
// src/logd/main.cc): starts jailwarden-logd for a jail when its socket does
// not answer, and hands it the read ends of the pipes a hook or the main
// process writes to. Thread-safe (every call opens its own connection; the
// writers it started are reaped under a lock).

#include <array>
#include <string>
#include <string_view>

#include <functional>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_spec.h"

namespace jailwarden::jail {

class JailLogSink {
 public:
  // `logd_path`: the jailwarden-logd binary.
  JailLogSink(std::string state_dir, std::string logd_path)
      : state_dir_(std::move(state_dir)), logd_path_(std::move(logd_path)) {}

  // jailwarden-logd beside the running binary (or $JAILWARDEN_LOGD).
  // NotFound naming every place tried.
  static absl::StatusOr<std::string> FindLogd();

  // Starts `spec`'s writer (in its own session; it outlives the daemon)
  // unless one answers already. exec.consolelog is passed to it.
  absl::Status Ensure(const platform::JailSpec& spec) const;

  // Two pipes whose read ends `name`'s writer now reads as SOURCE's stdout
  // and stderr. Returns the write ends (O_CLOEXEC; the caller closes them).
  absl::StatusOr<std::array<int, 2>> Pipes(std::string_view name, std::string_view source) const;

  // Tells `name`'s writer to end once its pipes are closed (after a stop)
  // and, when this process started it, waits for it (at most 6 s: the
  // writer's own bound is 5 s).
  void Finish(std::string_view name) const;

  const std::string& state_dir() const { return state_dir_; }

 private:
  // Collects writers that ended (they are this process's children).
  void Reap() const;

  std::string state_dir_;
  std::string logd_path_;
  mutable absl::Mutex mu_;
  mutable std::map<std::string, int, std::less<>> children_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jailwarden::jail
