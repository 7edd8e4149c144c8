#include "jailwarden/platform/linux/systemd_scopes.h"

#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {
namespace {

constexpr char kDest[] = "org.freedesktop.systemd1";
constexpr char kPath[] = "/org/freedesktop/systemd1";
constexpr char kManager[] = "org.freedesktop.systemd1.Manager";
constexpr char kPrivateSocket[] = "unix:path=/run/systemd/private";

struct BusCloser {
  void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
using Bus = std::unique_ptr<sd_bus, BusCloser>;
struct MessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

// sd_bus_error freed at scope exit.
struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&e); }
  bool Is(const char* name) const { return sd_bus_error_has_name(&e, name) > 0; }
};

// "<what>: <D-Bus error name>: <message>" or "<what>: EFOO (text)", with
// the errno sd-bus gives (negative `r`).
absl::Status ToStatus(int r, const BusError* err, std::string_view what) {
  const int errnum = r < 0 ? -r : EIO;
  if (err != nullptr && sd_bus_error_is_set(&err->e)) {
    return ErrnoStatusWithMessage(
        errnum, StrCat(what, ": ", err->e.name, ": ", err->e.message ? err->e.message : ""));
  }
  return ErrnoStatusWithMessage(errnum,
                                StrCat(what, ": ", ErrnoName(errnum), " (", strerror(errnum), ")"));
}

absl::StatusOr<Bus> Connect() {
  sd_bus* bus = nullptr;
  const int sys = sd_bus_open_system(&bus);
  if (sys >= 0) {
    return Bus(bus);
  }
  // No dbus-daemon (a minimal host, a container): systemd's own socket.
  int r = sd_bus_new(&bus);
  if (r >= 0) {
    r = sd_bus_set_address(bus, kPrivateSocket);
  }
  if (r >= 0) {
    r = sd_bus_start(bus);
  }
  if (r >= 0) {
    return Bus(bus);
  }
  if (bus != nullptr) {
    sd_bus_unref(bus);
  }
  return absl::UnavailableError(StrCat("cannot reach systemd: system bus: ", ErrnoName(-sys),
                                       "; /run/systemd/private: ", ErrnoName(-r)));
}

// The JobRemoved signals seen on one connection: job path -> result.
struct JobWatch {
  std::map<std::string, std::string> results;
};

int OnJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
  uint32_t id = 0;
  const char* path = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) >= 0 && path != nullptr) {
    static_cast<JobWatch*>(userdata)->results[path] = result == nullptr ? "" : result;
  }
  return 0;
}

// One connection with the JobRemoved match installed before any job is
// queued, so a job that ends before its method reply is not missed.
class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Open() {
    JW_ASSIGN_OR_RETURN(Bus bus, Connect());
    std::unique_ptr<Session> s(new Session(std::move(bus)));
    // On a direct connection messages carry no sender: match on none.
    const char* sender = sd_bus_is_bus_client(s->bus_.get()) > 0 ? kDest : nullptr;
    int r = sd_bus_match_signal(s->bus_.get(), &s->slot_, sender, kPath, kManager, "JobRemoved",
                                OnJobRemoved, &s->watch_);
    if (r < 0) {
      return ToStatus(r, nullptr, "sd_bus_match_signal(JobRemoved)");
    }
    // On the system bus systemd sends signals only to subscribers; on its
    // private socket to everyone (then this is a no-op).
    BusError err;
    r = sd_bus_call_method(s->bus_.get(), kDest, kPath, kManager, "Subscribe", &err.e, nullptr,
                           "");
    if (r < 0 && !err.Is("org.freedesktop.systemd1.AlreadySubscribed")) {
      return ToStatus(r, &err, "Subscribe");
    }
    return s;
  }
  ~Session() { sd_bus_slot_unref(slot_); }

  sd_bus* bus() { return bus_.get(); }

  // Waits for job `job` until `deadline`; OK when its result is "done".
  absl::Status WaitJob(const std::string& job, absl::Time deadline, std::string_view what) {
    for (;;) {
      if (auto it = watch_.results.find(job); it != watch_.results.end()) {
        if (it->second == "done") {
          return absl::OkStatus();
        }
        return absl::AbortedError(StrCat(what, ": systemd's job ended '", it->second,
                                         "' (journalctl -b for the unit says why)"));
      }
      int r = sd_bus_process(bus_.get(), nullptr);
      if (r < 0) {
        return ToStatus(r, nullptr, StrCat(what, ": waiting for job ", job));
      }
      if (r > 0) {
        continue;
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return absl::DeadlineExceededError(StrCat(what, ": job ", job, " still running"));
      }
      r = sd_bus_wait(bus_.get(), static_cast<uint64_t>(absl::ToInt64Microseconds(left)));
      if (r < 0 && r != -EINTR) {
        return ToStatus(r, nullptr, StrCat(what, ": waiting for job ", job));
      }
    }
  }

  // Calls a Manager method taking (s name, s mode) and returning a job
  // path. NotFound for org.freedesktop.systemd1.NoSuchUnit.
  absl::StatusOr<std::string> UnitJob(const char* method, const std::string& unit,
                                      BusError& err) {
    sd_bus_message* reply = nullptr;
    const int r = sd_bus_call_method(bus_.get(), kDest, kPath, kManager, method, &err.e, &reply,
                                     "ss", unit.c_str(), "replace");
    Message owned(reply);
    if (r < 0) {
      return ToStatus(r, &err, StrCat(method, "(", unit, ")"));
    }
    const char* job = nullptr;
    if (sd_bus_message_read(reply, "o", &job) < 0 || job == nullptr) {
      return absl::InternalError(StrCat(method, "(", unit, "): no job in the reply"));
    }
    return std::string(job);
  }

 private:
  explicit Session(Bus bus) : bus_(std::move(bus)) {}
  Bus bus_;
  sd_bus_slot* slot_ = nullptr;
  JobWatch watch_;
};

bool Populated(const std::string& cgroup_dir) {
  absl::StatusOr<std::string> events = ReadFile(cgroup_dir + "/cgroup.events");
  return events.ok() && events->find("populated 1") != std::string::npos;
}

// Appends one (sv) property; returns sd-bus's result.
template <typename... Args>
int AppendProperty(sd_bus_message* m, const char* name, const char* type, Args... args) {
  return sd_bus_message_append(m, "(sv)", name, type, args...);
}

class SystemdJailScopes final : public JailScopeManager {
 public:
  explicit SystemdJailScopes(std::string before) : before_(std::move(before)) {}

  absl::Status StartScope(const JailScopeRequest& req, absl::Duration timeout) override {
    const absl::Time deadline = absl::Now() + timeout;
    const std::string what = StrCat("StartTransientUnit(", req.unit, ")");
    JW_ASSIGN_OR_RETURN(std::unique_ptr<Session> s, Session::Open());
    absl::Duration pause = absl::Milliseconds(5);
    for (;;) {
      BusError err;
      absl::StatusOr<std::string> job = Start(*s, req, err);
      if (job.ok()) {
        return s->WaitJob(*job, deadline, what);
      }
      if (!err.Is("org.freedesktop.systemd1.UnitExists")) {
        return job.status();
      }
      // The scope of this jail's last run, stopped but not yet collected,
      // or one still holding processes (never taken over: they are not
      // this jail's init).
      if (Populated(req.cgroup_dir)) {
        return absl::FailedPreconditionError(
            StrCat(req.unit, " already exists and has processes in ", req.cgroup_dir,
                   " (left by an earlier jail of that name?)"));
      }
      BusError ignored;
      (void)s->UnitJob("StopUnit", req.unit, ignored);
      BusError ignored2;
      (void)sd_bus_call_method(s->bus(), kDest, kPath, kManager, "ResetFailedUnit", &ignored2.e,
                               nullptr, "s", req.unit.c_str());
      if (absl::Now() + pause > deadline) {
        return absl::DeadlineExceededError(
            StrCat(what, ": an earlier ", req.unit, " was not collected in time"));
      }
      absl::SleepFor(pause);  // systemd collects it in its next loop iteration
      pause = std::min(pause * 2, absl::Milliseconds(100));
    }
  }

  absl::Status StopScope(std::string_view unit, absl::Duration timeout) override {
    const absl::Time deadline = absl::Now() + timeout;
    JW_ASSIGN_OR_RETURN(std::unique_ptr<Session> s, Session::Open());
    BusError err;
    absl::StatusOr<std::string> job = s->UnitJob("StopUnit", std::string(unit), err);
    if (!job.ok()) {
      if (err.Is("org.freedesktop.systemd1.NoSuchUnit")) {
        return absl::OkStatus();  // collected already
      }
      return job.status();
    }
    return s->WaitJob(*job, deadline, StrCat("StopUnit(", unit, ")"));
  }

 private:
  absl::StatusOr<std::string> Start(Session& s, const JailScopeRequest& req, BusError& err) {
    sd_bus_message* raw = nullptr;
    int r = sd_bus_message_new_method_call(s.bus(), &raw, kDest, kPath, kManager,
                                           "StartTransientUnit");
    Message m(raw);
    // "fail": never replace a job queued for the same unit.
    if (r >= 0) r = sd_bus_message_append(raw, "ss", req.unit.c_str(), "fail");
    if (r >= 0) r = sd_bus_message_open_container(raw, 'a', "(sv)");
    if (r >= 0) r = AppendProperty(raw, "Description", "s", req.description.c_str());
    if (r >= 0) r = AppendProperty(raw, "Slice", "s", req.slice.c_str());
    // The subtree is the daemon's: systemd leaves its cgroups and their
    // subtree_control alone (systemd.resource-control(5), Delegate=).
    if (r >= 0) r = AppendProperty(raw, "Delegate", "b", 1);
    // Gone as soon as it is empty, failed or not: the jail's next start
    // can take the name again.
    if (r >= 0) r = AppendProperty(raw, "CollectMode", "s", "inactive-or-failed");
    // Per-jail limits come from the policy (pids.max of the jail's own
    // cgroup), not systemd's DefaultTasksMax share.
    if (r >= 0) r = AppendProperty(raw, "TasksMax", "t", UINT64_MAX);
    if (r >= 0) r = AppendProperty(raw, "PIDs", "au", 1u, static_cast<uint32_t>(req.pid));
    // Before= the daemon's unit: stopping is the reverse of starting, so at
    // shutdown the daemon stops first (with --stop-jails-on-exit, the jails
    // in jail(8) order), then the scopes. (After= would make a scope's
    // start wait for the daemon's own start job, which waits for the
    // jails: a deadlock until TimeoutStartSec.)
    if (r >= 0 && !before_.empty()) r = AppendProperty(raw, "Before", "as", 1u, before_.c_str());
    if (r >= 0) r = sd_bus_message_close_container(raw);
    if (r >= 0) r = sd_bus_message_append(raw, "a(sa(sv))", 0u);
    if (r < 0) {
      return ToStatus(r, nullptr, StrCat("StartTransientUnit(", req.unit, "): message"));
    }
    sd_bus_message* reply = nullptr;
    r = sd_bus_call(s.bus(), raw, 0, &err.e, &reply);
    Message owned(reply);
    if (r < 0) {
      return ToStatus(r, &err, StrCat("StartTransientUnit(", req.unit, ")"));
    }
    const char* job = nullptr;
    if (sd_bus_message_read(reply, "o", &job) < 0 || job == nullptr) {
      return absl::InternalError(StrCat("StartTransientUnit(", req.unit, "): no job in the reply"));
    }
    return std::string(job);
  }

  std::string before_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<JailScopeManager>> NewSystemdJailScopes() {
  JW_ASSIGN_OR_RETURN(Bus bus, Connect());
  (void)bus;
  std::string before;
  char* unit = nullptr;
  if (sd_pid_get_unit(getpid(), &unit) >= 0 && unit != nullptr) {
    if (std::string_view(unit).ends_with(".service")) {
      before = unit;
    }
    free(unit);
  }
  return std::shared_ptr<JailScopeManager>(new SystemdJailScopes(std::move(before)));
}

}  // namespace jailwarden::platform
