#include "jailwarden/service/serve.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/exit_code.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#if defined(__linux__)
#include "jailwarden/platform/linux/cgroup_placement.h"
#include "jailwarden/platform/linux/jail_scopes.h"
#endif
#include "jailwarden/service/daemon.h"
#include "jailwarden/service/host_backend.h"
#include "jailwarden/service/state_dir_lock.h"
#include "service/systemd_notify.h"

namespace jailwarden::service {

const char kServeHelp[] =
    R"(usage: jailwarden serve --config FILE [options]

Runs the jailwarden daemon in the foreground: loads the policy, adopts
running jails, creates and starts the policy's jails (dependencies first),
installs their limits and rules, samples RACCT usage and evaluates the rules,
and serves /metrics and the REST API (loopback by default).

options:
  -c, --config FILE        the policy (YAML); SIGHUP re-reads it
  --listen ADDR:PORT       listen here instead of server.listen (repeatable;
                           port 0 picks a free one, see --port-file)
  --web.config.file FILE   exporter-toolkit web config (TLS files, basic
                           auth users) instead of server.web_config
  --port-file FILE         write the first bound port to FILE once ready
  --stop-jails-on-exit     stop every jail on SIGTERM/SIGINT (default: jails
                           keep running, as jails outlive jail(8))
  --log-file FILE          append log lines to FILE instead of stderr
  --log-level LEVEL        debug, info, warning or error
  --help                   this text

One daemon per state directory: serve holds a lock on
<state_dir>/jailwarden.lock (with its pid in it); a second serve on the same
state directory exits at once with EX_TEMPFAIL (75), naming the holder's
pid, and changes nothing.

signals: SIGHUP reloads the policy (a bad one is refused and the running one
stays); SIGTERM and SIGINT stop jailwarden.

Under systemd (Type=notify) serve sends READY=1 once the jails are adopted
and their limits applied, STOPPING=1 when it stops, and WATCHDOG=1 from the
sampler's tick when the unit sets WatchdogSec=.
)";

namespace {

// Why serve needs root, in this host's terms.
#if defined(__FreeBSD__)
constexpr char kRootReason[] = "it creates jails, mounts and RCTL rules";
#else
constexpr char kRootReason[] = "it creates namespaces, cgroups and mounts";
#endif

int g_signal_pipe[2] = {-1, -1};

void OnSignal(int sig) {
  const int saved = errno;
  const unsigned char b = static_cast<unsigned char>(sig);
  if (write(g_signal_pipe[1], &b, 1) < 0) {
    // Nothing to do: the pipe is full, a wake-up is pending anyway.
  }
  errno = saved;
}

void OnSigpipe(int) {}

// Handlers, not SIG_IGN or a blocked mask: both would be inherited by
// every jail process across exec.
absl::Status InstallSignals() {
  if (pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return ErrnoStatus(errno, "pipe2");
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGHUP, SIGTERM, SIGINT}) {
    if (sigaction(sig, &sa, nullptr) != 0) return ErrnoStatus(errno, "sigaction");
  }
  sa.sa_handler = OnSigpipe;
  if (sigaction(SIGPIPE, &sa, nullptr) != 0) return ErrnoStatus(errno, "sigaction");
  return absl::OkStatus();
}

#if defined(__linux__)
// Moves serve into <own cgroup>/supervisor on the unified tree and enables
// the offered controllers for the jails' cgroups; logs what it did.
absl::Status PlaceSelfInCgroupLeaf(const std::string& cgroup_root) {
  std::ifstream in("/proc/self/cgroup");
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<platform::DaemonCgroupPlacement> placed =
      platform::PlaceDaemonCgroup(cgroup_root, text.str(), getpid());
  if (!placed.ok()) {
    return placed.status();
  }
  for (const std::string& w : placed->warnings) {
    LogWarning("cgroup placement incomplete", {{"detail", w}});
  }
  if (!placed->leaf_dir.empty()) {
    LogInfo("jailwarden runs in its cgroup leaf",
            {{"cgroup", placed->leaf_dir},
             {"jail_controllers", placed->enabled.empty() ? "none offered"
                                                         : Join(placed->enabled, " ")}});
  }
  return absl::OkStatus();
}
#endif

// glibc gives each thread that allocates while the others hold their arenas
// an arena of its own, up to 8 per CPU, and keeps what each arena ever held.
// The daemon's threads (the HTTP workers above all) are idle most of the
// time, so two arenas serve them without contention and bound what stays
// resident (issue 16: per-thread arenas were most of the memory per jail).
// An explicit MALLOC_ARENA_MAX in the environment is left to decide.
void CapMallocArenas() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    mallopt(M_ARENA_MAX, 2);
  }
#endif
}

}  // namespace

int RunServe(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err, ServeOci oci) {
  DaemonOptions options;
  options.oci_roots = std::move(oci.roots);
  options.oci_scanner = std::move(oci.scanner);
  std::string port_file, log_file, log_level;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* dst) {
      if (i + 1 >= args.size()) {
        err << "jailwarden serve: " << a << " needs a value\n";
        return false;
      }
      *dst = args[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      out << kServeHelp;
      return EX_OK;
    } else if (a == "-c" || a == "--config") {
      if (!value(&options.config_path)) return EX_USAGE;
    } else if (StartsWith(a, "--config=")) {
      options.config_path = a.substr(9);
    } else if (a == "--listen") {
      if (!value(&v)) return EX_USAGE;
      options.listen.push_back(v);
    } else if (a == "--web.config.file") {
      if (!value(&options.web_config)) return EX_USAGE;
    } else if (StartsWith(a, "--web.config.file=")) {
      options.web_config = a.substr(18);
    } else if (a == "--port-file") {
      if (!value(&port_file)) return EX_USAGE;
    } else if (a == "--stop-jails-on-exit") {
      options.stop_jails_on_exit = true;
    } else if (a == "--log-file") {
      if (!value(&log_file)) return EX_USAGE;
    } else if (a == "--log-level") {
      if (!value(&log_level)) return EX_USAGE;
    } else {
      err << "jailwarden serve: unknown argument '" << a
          << "'; see 'jailwarden serve --help'\n";
      return EX_USAGE;
    }
  }
  if (options.config_path.empty()) {
    err << "jailwarden serve: --config FILE is required\n";
    return EX_USAGE;
  }
  if (!log_level.empty()) {
    const std::string l = AsciiToLower(log_level);
    if (l == "debug") SetMinLogSeverity(LogSeverity::kDebug);
    else if (l == "info") SetMinLogSeverity(LogSeverity::kInfo);
    else if (l == "warning") SetMinLogSeverity(LogSeverity::kWarning);
    else if (l == "error") SetMinLogSeverity(LogSeverity::kError);
    else {
      err << "jailwarden serve: --log-level must be debug, info, warning or error\n";
      return EX_USAGE;
    }
  }
  if (!log_file.empty()) {
    const int fd = open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      err << "jailwarden serve: cannot open " << log_file << ": " << strerror(errno) << "\n";
      return EX_CANTCREAT;
    }
    SetLogFd(fd);
  }
  if (geteuid() != 0) {
    err << "jailwarden serve: must run as root (" << kRootReason << ")\n";
    return EX_NOPERM;
  }

  CapMallocArenas();  // before the daemon starts any thread
  absl::StatusOr<policy::Policy> policy = policy::LoadPolicyFile(options.config_path);
  if (!policy.ok()) {
    err << policy.status().message() << "\n";
    LogError("policy refused", {{"file", options.config_path}});
    return policy.status().code() == absl::StatusCode::kInvalidArgument
               ? EX_CONFIG
               : EX_NOINPUT;
  }
  // One daemon per state directory: the lock comes before the backend is
  // made and before anything is adopted, so a second serve changes nothing.
  // EX_TEMPFAIL: the same command works once the holder has exited.
  absl::StatusOr<std::unique_ptr<StateDirLock>> lock =
      StateDirLock::Acquire(policy->server.state_dir);
  if (!lock.ok()) {
    err << "jailwarden serve: " << lock.status().message() << "\n";
    LogError("state_dir unavailable", {{"error", std::string(lock.status().message())}});
    return lock.status().code() == absl::StatusCode::kUnavailable ? EX_TEMPFAIL
                                                                   : EX_CANTCREAT;
  }
  options.state_lock = *std::move(lock);
  LinuxBackendOptions bo;
  bo.run_dir = RunDirFor(policy->server.state_dir);
  bo.state_dir = policy->server.state_dir;
  bo.cgroup_parent = CgroupParentFor(policy->server.state_dir);
#if defined(__linux__)
  // Before the backend: it reads /proc/self/cgroup, and the jails' cgroups
  // need the controllers this enables (cgroup_placement.h).
  if (policy->server.backend != policy::Backend::kFreeBsd &&
      platform::SystemdScopesWanted(bo.cgroup_root)) {
    // Each jail gets a systemd scope of its own (jail_scopes.h): nothing
    // goes below the daemon's unit, so its cgroup keeps no controller
    // enabled and systemd can always start the next daemon in it.
    LogInfo("jails get systemd scopes", {{"slice", platform::kJailSlice}});
  } else if (policy->server.backend != policy::Backend::kFreeBsd) {
    if (absl::Status s = PlaceSelfInCgroupLeaf(bo.cgroup_root); !s.ok()) {
      err << "jailwarden serve: " << s.message() << "\n";
      LogError("cgroup placement failed", {{"error", std::string(s.message())}});
      return EX_CONFIG;
    }
  }
#endif
  absl::StatusOr<std::unique_ptr<HostBackend>> backend =
      NewHostBackend(policy->server.backend, bo);
  if (!backend.ok()) {
    err << "jailwarden serve: " << backend.status().message() << "\n";
    return backend.status().code() == absl::StatusCode::kFailedPrecondition
               ? EX_CONFIG
               : EX_UNAVAILABLE;
  }
  if (absl::Status s = InstallSignals(); !s.ok()) {
    err << "jailwarden serve: " << s.message() << "\n";
    return EX_OSERR;
  }
  // Type=notify: READY=1 once Start has adopted the jails and applied
  // their limits; WATCHDOG=1 only while the sampler ticks.
  SystemdNotifier notifier = SystemdNotifier::FromEnvironment();
  if (notifier.watchdog_interval() > absl::ZeroDuration()) {
    if (policy->server.sample_interval * 4 > notifier.watchdog_interval()) {
      LogWarning("sample_interval is over a quarter of WatchdogSec; systemd may "
                 "restart jailwarden between two ticks",
                 {{"watchdog_usec",
                   StrCat(absl::ToInt64Microseconds(notifier.watchdog_interval()))}});
    }
    options.on_tick = [&notifier] { notifier.OnTick(absl::Now()); };
  }
  LogInfo("jailwarden starting", {{"config", options.config_path},
                                  {"pid", StrCat(getpid())}});
  absl::StatusOr<std::unique_ptr<Daemon>> daemon =
      Daemon::Start(options, *std::move(policy), *std::move(backend));
  if (!daemon.ok()) {
    err << "jailwarden serve: " << daemon.status().message() << "\n";
    LogError("jailwarden failed to start",
             {{"error", std::string(daemon.status().message())}});
    return ExitCodeFor(daemon.status());
  }
  if (absl::Status s = notifier.Ready(StrCat("ready; ", (*daemon)->ListJails().size(),
                                              " jails known"));
      !s.ok()) {
    LogWarning("systemd notification failed", {{"error", std::string(s.message())}});
  }
  if (!port_file.empty()) {
    const std::vector<int> ports = (*daemon)->ports();
    const std::string tmp = port_file + ".tmp";
    {
      std::ofstream f(tmp);
      f << (ports.empty() ? 0 : ports[0]) << "\n";
    }
    if (rename(tmp.c_str(), port_file.c_str()) != 0) {
      LogWarning("cannot write port file", {{"file", port_file}});
    }
  }
  for (;;) {
    pollfd p{g_signal_pipe[0], POLLIN, 0};
    if (poll(&p, 1, -1) < 0 && errno != EINTR) break;
    unsigned char sig = 0;
    bool stop = false;
    while (read(g_signal_pipe[0], &sig, 1) == 1) {
      if (sig == SIGHUP) {
        absl::StatusOr<api::ApplyResult> r = (*daemon)->ReloadFromFile();
        if (!r.ok()) {
          // Logged by the daemon with every error; the old policy runs on.
        }
      } else {
        LogInfo("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        stop = true;
      }
    }
    if (stop) break;
  }
  (void)notifier.Stopping(options.stop_jails_on_exit ? "stopping the jails"
                                                     : "stopping; jails keep running");
  (*daemon)->Shutdown();
  daemon->reset();
  return EX_OK;
}

}  // namespace jailwarden::service
