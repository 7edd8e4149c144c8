#pragma once

// The host of one FreeBSD jail's supervised main process (`command:`,
// issue 17): the role jailwarden-init plays on Linux, played from the host
// because a FreeBSD jail has no pid 1 of jailwarden's.
//
// FreeBsdMainHost runs FreeBsdMainSupervisor (jexec-style starts through
// FreeBsdKernel::SpawnMain, restarts per `restart:` with backoff and a
// limit, the record of exits) for one jail and answers the daemon on a
// unix socket (platform/freebsd/main_host_wire.h) in the daemon's run
// directory. On FreeBSD it is the process `jailwarden-supervise`, started
// by SpawningMainLauncher in a session of its own: a daemon restart or
// kill -9 leaves it, its main process (its child, so it alone can reap it)
// and the main process's stdout/stderr pipes to jailwarden-logd running;
// the next daemon finds it at the same socket and reads the same record.
// After every change the record is also written atomically to
// `record_path`, so the last exit outlives even the host.
//
// What a jail's root can do: kill, stop or make the main process exit
// (restarted per policy, counted, bounded by the limit). It cannot reach
// the host: a host process (jail_attach only happens in the forked child),
// its socket in a 0700 directory outside every jail's root.
//
// Thread-safety: Serve runs on one thread; Shutdown may be called from
// any thread. The launchers are thread-safe.

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jailwarden/platform/freebsd/kernel.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

class FreeBsdMainSupervisor;  // src/platform/freebsd/main_supervisor.h
struct MainWireMessage;       // src/platform/freebsd/main_host_wire.h

class FreeBsdMainHost {
 public:
  // Binds `socket_path` (0600; a stale socket file there is replaced).
  // `record_path` ("" = none) gets the record after every change. Errors:
  // the errno of socket/bind/listen.
  static absl::StatusOr<std::unique_ptr<FreeBsdMainHost>> Bind(FreeBsdKernel& kernel,
                                                               std::string socket_path,
                                                               std::string record_path);
  // Closes the socket. A main process still running is left running.
  ~FreeBsdMainHost();
  FreeBsdMainHost(const FreeBsdMainHost&) = delete;
  FreeBsdMainHost& operator=(const FreeBsdMainHost&) = delete;

  // Answers requests until "quit" (the jail is gone: the record and the
  // socket are removed) or Shutdown(). Bounded per request: a stop waits
  // at most its timeout + 5 s.
  void Serve();
  // Makes Serve return soon (within 100 ms); the main process runs on.
  void Shutdown();

 private:
  FreeBsdMainHost(FreeBsdKernel& kernel, int listen_fd, int wake_r, int wake_w,
                  std::string socket_path, std::string record_path);
  // One request; `fds` are the descriptors that came with it (consumed).
  MainWireMessage Handle(const MainWireMessage& request, std::vector<int>& fds, bool& quit);
  void WriteRecordIfChanged();

  std::unique_ptr<FreeBsdMainSupervisor> sup_;
  const int listen_fd_;
  const int wake_r_, wake_w_;
  const std::string socket_path_, record_path_;
  int jid_ = 0;  // the jail's current jid (0: nothing started yet)
  std::string last_record_;
};

// Makes sure a host answers at `socket_path` for jail `jail`.
class FreeBsdMainLauncher {
 public:
  virtual ~FreeBsdMainLauncher() = default;
  // Returns once a host is bound there (an existing one that answers is
  // kept). Errors: the host could not be started, with why.
  virtual absl::Status Launch(const std::string& jail, const std::string& socket_path,
                              const std::string& record_path) = 0;
};

// The production launcher: posix_spawn of `binary` (jailwarden-supervise)
// with stdin /dev/null, in a session of its own; waits at most 5 s for its
// "ready" line. The children it started are reaped as they end while this
// daemon lives; after that the host's init reaps them.
class SpawningMainLauncher final : public FreeBsdMainLauncher {
 public:
  explicit SpawningMainLauncher(std::string binary) : binary_(std::move(binary)) {}
  // $JAILWARDEN_SUPERVISE, else jailwarden-supervise beside the running
  // binary (or ../libexec/jailwarden/). NotFound with the paths tried.
  static absl::StatusOr<std::string> Find();
  absl::Status Launch(const std::string& jail, const std::string& socket_path,
                      const std::string& record_path) override;

 private:
  const std::string binary_;
  absl::Mutex mu_;
  std::vector<pid_t> children_ ABSL_GUARDED_BY(mu_);
};

// Hosts on threads of this process, over `kernel`. For a kernel that lives
// in this process's memory (FakeFreeBsdKernel: on Linux the FreeBSD
// backend runs over nothing else); a test that keeps the launcher while it
// replaces the daemon sees what a daemon restart leaves on FreeBSD.
// Destruction shuts every host down (their main processes run on).
class InProcessMainLauncher final : public FreeBsdMainLauncher {
 public:
  explicit InProcessMainLauncher(FreeBsdKernel& kernel) : kernel_(kernel) {}
  ~InProcessMainLauncher() override;
  absl::Status Launch(const std::string& jail, const std::string& socket_path,
                      const std::string& record_path) override;

 private:
  struct Running {
    std::unique_ptr<FreeBsdMainHost> host;
    std::thread thread;
  };
  FreeBsdKernel& kernel_;
  absl::Mutex mu_;
  std::map<std::string, Running> hosts_ ABSL_GUARDED_BY(mu_);  // by socket path
};

}  // namespace jailwarden::platform
