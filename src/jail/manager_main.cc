// jail::Manager: the environment of the commands it runs, and the jail's
// supervised main process (`command:`, issue 17).

#include <unistd.h>

#include <cstdlib>

#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/manager.h"

namespace jailwarden::jail {

using platform::ExecRequest;
using platform::ExecWhere;

void Manager::FillCommandEnv(const JailRecord& rec, ExecWhere where, ExecRequest* req) {
  const platform::JailSpec& spec = rec.spec;
  if (spec.exec.clean) {
    // exec.clean: HOME, SHELL, TERM and USER only, PATH=/bin:/usr/bin;
    // JID, JNAME and JPATH are not set (jail(8)).
    req->clean_env = true;
    for (const char* keep : {"HOME", "SHELL", "TERM", "USER"}) {
      if (const char* v = getenv(keep); v != nullptr) {
        req->env[keep] = v;
      }
    }
    req->env["PATH"] = "/bin:/usr/bin";
  } else {
    req->env["JID"] = StrCat(rec.jid);
    req->env["JNAME"] = spec.name;
    req->env["JPATH"] = spec.path;
    if (where == ExecWhere::kJail) {
      req->env["PATH"] = "/bin:/sbin:/usr/bin:/usr/sbin";
    }
  }
}

std::array<int, 2> Manager::LogPipes(const JailRecord& rec, std::string_view source) {
  if (options_.log_sink == nullptr || rec.ephemeral) return {-1, -1};
  absl::StatusOr<std::array<int, 2>> p = options_.log_sink->Pipes(rec.spec.name, source);
  if (!p.ok()) {  // not running (ended, or made before logs): start it
    absl::Status s = options_.log_sink->Ensure(rec.spec);
    p = s.ok() ? options_.log_sink->Pipes(rec.spec.name, source) : absl::StatusOr<std::array<int, 2>>(s);
  }
  if (!p.ok()) {
    LogWarning("the jail's log writer cannot be reached; output not captured",
               {{"jail", rec.spec.name}, {"source", std::string(source)},
                {"error", std::string(p.status().message())}});
    return {-1, -1};
  }
  return *p;
}

absl::Status Manager::StartMainLocked(JailRecord& rec) {
  const platform::JailSpec& spec = rec.spec;
  ExecRequest req;
  req.argv = spec.main.argv;
  const std::array<int, 2> pipes = LogPipes(rec, "main");
  req.stdout_fd = pipes[0] >= 0 ? pipes[0] : options_.hook_stdout_fd;
  req.stderr_fd = pipes[1] >= 0 ? pipes[1] : options_.hook_stderr_fd;
  FillCommandEnv(rec, ExecWhere::kJail, &req);
  std::string user;
  if (auto it = spec.parameters.find("exec.jail_user"); it != spec.parameters.end()) {
    user = it->second;
  }
  absl::StatusOr<platform::MainProcessStatus> st =
      runtime_->StartMain(rec.instance, req, spec.main, user);
  for (int fd : pipes) {  // init holds its own copies
    if (fd >= 0) close(fd);
  }
  if (!st.ok()) {
    return absl::Status(st.status().code(),
                        StrCat("jail ", spec.name, ": command: ", std::string(st.status().message())));
  }
  LogInfo("jail main process started",
          {{"jail", spec.name}, {"pid", StrCat(st->pid)}});
  return absl::OkStatus();
}

absl::StatusOr<platform::MainProcessStatus> Manager::MainStatus(std::string_view name) {
  platform::JailInstance instance;
  {
    absl::MutexLock lock(&mu_);
    auto it = jails_.find(name);
    if (it == jails_.end()) {
      return absl::NotFoundError(StrCat("jail ", name, " is not defined"));
    }
    if (it->second.state != JailState::kRunning || it->second.spec.main.argv.empty()) {
      return absl::FailedPreconditionError(
          StrCat("jail ", name, " has no running main process (not running, or no command)"));
    }
    instance = it->second.instance;
  }
  return runtime_->MainStatus(instance);
}

void Manager::StopMainLocked(JailRecord& rec) {
  const platform::JailSpec& spec = rec.spec;
  absl::StatusOr<platform::MainProcessStatus> st =
      runtime_->StopMain(rec.instance, spec.stop_timeout);
  Notify({spec.name, "main.stop", "", false, st.ok()});
  if (!st.ok()) {
    // The jail's removal kills it anyway; the stop goes on.
    LogWarning("stopping the jail's main process failed",
               {{"jail", spec.name}, {"error", std::string(st.status().message())}});
  }
}

}  // namespace jailwarden::jail
