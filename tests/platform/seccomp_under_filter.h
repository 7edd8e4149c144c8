#pragma once

// Seccomp tests' one way to run code under a filter: a forked child
// installs the filter built from the settings, then runs `body`.

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jailwarden/platform/linux/seccomp.h"

namespace jailwarden::platform::seccomp_test {

// Runs `body` in a forked child under the filter built from `s`; returns
// the child's exit code (body's return value; 100 if the filter could not
// be installed), or -1 (a build error is also a test failure).
inline int UnderFilter(const SeccompSettings& s, const std::function<int()>& body) {
  std::vector<sock_filter> program;
  std::string error;
  if (!BuildSeccompFilter(s, &program, &error)) {
    ADD_FAILURE() << error;
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    // Without root the test runs with no_new_privs, which seccomp(2) then
    // needs; as root it keeps the production path (CAP_SYS_ADMIN).
    if (geteuid() != 0) {
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    }
    if (InstallSeccompFilter(program) != 0) {
      _exit(100);
    }
    _exit(body());
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace jailwarden::platform::seccomp_test
