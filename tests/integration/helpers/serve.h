#pragma once

// A real `jailwarden serve` child for the root-only integration tests
// (api_from_jail_test.cc, jail_logs_daemon_test.cc), with its own state
// directory and log file; and single quoting for /bin/sh.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "helpers/jail_env.h"

namespace jailwarden::testing {

inline const std::string kJailwarden = std::string(JW_BINARY_DIR) + "/src/jailwarden";

// Polls `ready` every `poll` until it is true (true), the child `pid`
// exits (false; pid becomes -1) or `timeout` passes (false).
inline bool WaitUntilReady(pid_t& pid, const std::function<bool()>& ready,
                           absl::Duration timeout = absl::Seconds(60),
                           absl::Duration poll = absl::Milliseconds(100)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (ready()) return true;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      pid = -1;
      return false;
    }
    absl::SleepFor(poll);
  }
  return false;
}

// SIGTERM to the child `pid`, reaped within `grace` (SIGKILL after); pid
// becomes -1. Nothing for pid <= 0.
inline void TerminateChild(pid_t& pid, absl::Duration grace = absl::Seconds(60)) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  int st = 0;
  const absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    if (waitpid(pid, &st, WNOHANG) == pid) {
      pid = -1;
      return;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  pid = -1;
}

// A `jailwarden serve` child with its own state directory.
class Serve {
 public:
  Serve(std::string dir, std::string config) : dir_(std::move(dir)), config_(std::move(config)) {}
  ~Serve() { Stop(); }

  // A command the serve command line is appended to and that execs it
  // (e.g. `unshare --mount ... sh -c '...; exec "$@"' sh`), so the child's
  // pid stays serve's. Empty: serve is exec'd directly.
  void SetWrapper(std::vector<std::string> wrapper) { wrapper_ = std::move(wrapper); }

  // Starts serve on `listen` and waits (at most 60 s) for its port.
  bool Start(const std::string& listen, bool stop_jails_on_exit,
             const std::vector<std::string>& extra = {}) {
    const std::string port_file = dir_ + "/port";
    unlink(port_file.c_str());
    pid_ = fork();
    if (pid_ == 0) {
      // The daemon shows jailwarden-oci's containers from the runtime's
      // root (docs/oci.md); a test's daemon looks at a root of its own, so
      // the OCI tests' containers, made at the same time, never appear in
      // another test's list or /metrics.
      setenv("JAILWARDEN_OCI_ROOT", (dir_ + "/oci-root").c_str(), 0);
      std::vector<std::string> args = wrapper_;
      const std::vector<std::string> serve = {kJailwarden, "serve", "--config", config_,
                                       "--listen", listen, "--port-file", port_file,
                                       "--log-file", dir_ + "/serve.log"};
      args.insert(args.end(), serve.begin(), serve.end());
      if (stop_jails_on_exit) args.push_back("--stop-jails-on-exit");
      for (const std::string& e : extra) args.push_back(e);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(args[0].c_str(), argv.data());
      _exit(127);
    }
    return WaitUntilReady(pid_, [&] {
      const std::string p = ReadText(port_file);
      if (p.empty() || p.back() != '\n') return false;
      port_ = std::stoi(p);
      return true;
    });
  }

  // SIGTERM, then wait at most 60 s (SIGKILL after).
  void Stop() { TerminateChild(pid_); }

  // As a crash would end it: SIGKILL, nothing told (the jails stay).
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return ReadText(dir_ + "/serve.log"); }

 private:
  std::string dir_;
  std::string config_;
  std::vector<std::string> wrapper_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Single-quoted for /bin/sh.
inline std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

}  // namespace jailwarden::testing
