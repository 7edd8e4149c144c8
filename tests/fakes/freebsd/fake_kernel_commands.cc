// FakeFreeBsdKernel's commands (RunCommand/SpawnCommand): jail(8)'s
// ifconfig alias and vnet forms are modelled; anything else goes to the
// test's CommandHandler, called without the lock held.

#include "fakes/freebsd/fake_kernel.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jailwarden/base/strings.h"
#include "platform/freebsd/pty.h"

namespace jailwarden::platform {
namespace {

std::string Basename(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path
                                                     : path.substr(slash + 1));
}

}  // namespace

int FakeFreeBsdKernel::IfconfigLocked(const FakeCommand& cmd) {
  const std::vector<std::string>& a = cmd.argv;
  if (a.size() < 3) return 1;
  auto it = interfaces_.find(a[1]);
  if (it == interfaces_.end() || it->second.first != cmd.jid) {
    return 1;  // "ifconfig: interface X does not exist"
  }
  if (a[2] == "vnet" && a.size() == 4) {
    const std::optional<int64_t> jid = ParseInt<int64_t>(a[3]);
    std::optional<int> target;
    if (jid.has_value() && prisons_.contains(static_cast<int>(*jid))) {
      target = static_cast<int>(*jid);
    } else if (FakePrison* p = FindByNameLocked(a[3]); p != nullptr) {
      target = p->jid;
    }
    if (!target.has_value() || !prisons_[*target].vnet) return 1;
    it->second.first = *target;
    return 0;
  }
  if ((a[2] != "inet" && a[2] != "inet6") || a.size() < 5) return 1;
  const std::string verb = a.back();
  if (verb != "alias" && verb != "-alias") return 1;
  const std::string entry = Join(std::vector<std::string>(a.begin() + 2, a.end() - 1), " ");
  auto addr_of = [](std::string_view e) {
    std::vector<std::string_view> f = SplitWhitespace(e);
    std::string_view addr = f.size() > 1 ? f[1] : std::string_view();
    return std::string(addr.substr(0, addr.find('/')));
  };
  std::vector<std::string>& aliases = it->second.second;
  const std::string addr = addr_of(entry);
  auto found = std::find_if(aliases.begin(), aliases.end(), [&](const std::string& e) {
    return addr_of(e) == addr;
  });
  if (verb == "alias") {
    if (found != aliases.end()) return 1;  // SIOCAIFADDR: File exists
    aliases.push_back(entry);
  } else {
    if (found == aliases.end()) return 1;  // Can't assign requested address
    aliases.erase(found);
  }
  return 0;
}

int FakeFreeBsdKernel::RunCommand(int jid, const ExecRequest& request,
                                  ExecResult& result) {
  FakeCommand cmd;
  cmd.jid = jid;
  cmd.argv = request.argv;
  cmd.env = request.env;
  cmd.clean_env = request.clean_env;
  cmd.stdout_fd = request.stdout_fd;
  cmd.stderr_fd = request.stderr_fd;
  cmd.stdin_fd = request.stdin_fd;
  CommandHandler handler;
  {
    absl::MutexLock lock(&mu_);
    LogLocked(StrCat("run(jid=", jid, ") ", Join(request.argv, " ")));
    int fault = 0;
    if (TakeFaultLocked(Call::kRunCommand, fault)) return FailLocked(fault);
    if (request.argv.empty()) return FailLocked(ENOENT);
    if (jid != 0 && !prisons_.contains(jid)) return FailLocked(EINVAL);
    result = ExecResult{};
    if (Basename(request.argv[0]) == "ifconfig") {
      result.exit_code = IfconfigLocked(cmd);
      return 0;
    }
    handler = handler_;
  }
  int master = -1, slave = -1;
  if (request.tty) {
    // The product's pty (a real one: posix_openpt is portable).
    if (OpenPty(request.tty_rows, request.tty_cols, &master, &slave) != 0) return -1;
    cmd.tty = true;
    cmd.stdin_fd = cmd.stdout_fd = cmd.stderr_fd = slave;
  }
  result = ExecResult{};
  result.exit_code = handler ? handler(cmd) : 0;
  if (slave >= 0) close(slave);
  if (master >= 0) {
    if (request.on_tty) {
      request.on_tty(master);
    } else {
      close(master);
    }
  }
  return 0;
}

int FakeFreeBsdKernel::SpawnCommand(int jid, const ExecRequest& request,
                                    pid_t& pid) {
  absl::MutexLock lock(&mu_);
  LogLocked(StrCat("spawn(jid=", jid, ") ", Join(request.argv, " ")));
  int fault = 0;
  if (TakeFaultLocked(Call::kRunCommand, fault)) return FailLocked(fault);
  if (request.argv.empty()) return FailLocked(ENOENT);
  if (jid != 0 && !prisons_.contains(jid)) return FailLocked(EINVAL);
  pid = NewProcessLocked(jid, 0, 0, Basename(request.argv[0]), "default");
  return 0;
}

int FakeFreeBsdKernel::SpawnMain(int jid, const ExecRequest& request, const std::string& user,
                                 pid_t& pid) {
  MainHandler handler;
  FakeCommand cmd;
  {
    absl::MutexLock lock(&mu_);
    LogLocked(StrCat("spawn-main(jid=", jid, ", user=", user, ") ", Join(request.argv, " ")));
    int fault = 0;
    if (TakeFaultLocked(Call::kRunCommand, fault)) return FailLocked(fault);
    if (request.argv.empty()) return FailLocked(ENOENT);
    if (jid != 0 && !prisons_.contains(jid)) return FailLocked(EINVAL);
    pid = NewProcessLocked(jid, 0, 0, Basename(request.argv[0]), "default");
    main_children_[pid] = user;
    handler = main_handler_;
  }
  if (handler) {
    cmd.jid = jid;
    cmd.argv = request.argv;
    cmd.env = request.env;
    cmd.clean_env = request.clean_env;
    cmd.stdin_fd = request.stdin_fd;
    cmd.stdout_fd = request.stdout_fd;
    cmd.stderr_fd = request.stderr_fd;
    handler(pid, cmd);
  }
  return 0;
}

int FakeFreeBsdKernel::WaitChild(pid_t pid, int& status) {
  absl::MutexLock lock(&mu_);
  if (auto it = ended_children_.find(pid); it != ended_children_.end()) {
    status = it->second;
    ended_children_.erase(it);
    main_children_.erase(pid);
    return 1;
  }
  if (main_children_.contains(pid) && processes_.contains(pid)) return 0;
  return FailLocked(ECHILD);
}

}  // namespace jailwarden::platform
