// CLI argument lists and policy texts every entry point must refuse.

#include <sysexits.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "badinput/badinput_cases.h"

namespace jailwarden::badinput {
namespace {

std::string TempPath(const std::string& name) {
  return "/tmp/jw-badinput-" + std::to_string(getpid()) + "-" + name;
}

// A file under /tmp holding `content` (RemoveCaseFiles removes it).
std::string TempFile(const std::string& name, const std::string& content) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return path;
}

}  // namespace

void RemoveCaseFiles() {
  for (const char* name : {"big.yaml", "nul-token", "caps.yaml"}) {
    std::remove(TempPath(name).c_str());
  }
}

std::vector<CliCase> CliCases() {
  const std::string n100(100, 'n');
  const std::string big = TempFile("big.yaml", std::string((std::size_t{4} << 20) + 1, '#'));
  const std::string nul_token = TempFile("nul-token", std::string("ab\0cd", 5));
  const std::string caps = TempFile(
      "caps.yaml", "jails:\n  x:\n    persist: true\n    linux.capabilities: [cap_sys_nice, cap_foo]\n");
  return {
      // ---- create: the same checks and words as the daemon's ----
      {"create", {"x", "-t", "small", "-L", "memoryuse:deny=1M", "-L", "memoryuse:deny=2M"}, -1,
       "jailwarden create: duplicate limit 'jail:x:memoryuse:deny=2M': a deny for memoryuse is "
       "already given as 'jail:x:memoryuse:deny=1M' and the kernel keeps only the last one"},
      {"create", {n100, "-t", "small"}, -1,
       "jailwarden create: jail name '" + n100 + "': is 100 characters long; at most 64 are allowed"},
      {"create", {"x.y", "--path", "/srv/x", "--persist"}, -1,
       "jail name 'x.y': must not contain '.'"},
      {"create", {"123", "--path", "/srv/x", "--persist"}, -1, "must not be all digits"},
      {"create", {"x", "-t", "small", "-L", "nosuch:deny=1"}, -1,
       "failed to add rule 'jail:x:nosuch:deny=1': Invalid argument"},
      {"create", {"x", "-t", "small", "-L", "memoryuse:throttle=1M"}, -1,
       "failed to add rule 'jail:x:memoryuse:throttle=1M': Operation not supported"},
      {"create", {"x", "-t", "small", "-L", "memoryuse"}, -1, "rule 'jail:x:memoryuse'"},
      {"create", {"x", "-t", "nosuch"}, -1, "no template named 'nosuch'"},
      {"create", {"db", "-t", "small"}, -1, "jail name 'db' is already used by"},
      {"create", {}, EX_USAGE, "name is required"},
      {"create", {"x", "--bogus"}, EX_USAGE, "--bogus"},
      // ---- rctl ----
      // rctl(8)'s words: the reason travels as the errno (EOPNOTSUPP).
      {"rctl", {"-a", "process:1:maxproc:deny=10"}, -1,
       "jailwarden rctl: failed to add rule 'process:1:maxproc:deny=10': Operation not "
       "supported"},
      {"rctl", {"-a", "jail:db:nosuch:deny=1"}, -1, "jail:db:nosuch:deny=1"},
      {"rctl", {"-a", "jail:db:memoryuse:throttle=1M"}, -1, "Operation not supported"},
      // ---- apply -f and validate: one bound, read streamed ----
      {"apply", {"-f", "/dev/zero"}, EX_CONFIG,
       "jailwarden apply: /dev/zero: File too large (a policy is limited to 4194304 bytes, 4 MiB)"},
      {"apply", {"-f", big}, EX_CONFIG, "File too large (a policy is limited to 4194304 bytes"},
      {"apply", {"-f", "/nonexistent/p.yaml"}, EX_NOINPUT,
       "jailwarden apply: /nonexistent/p.yaml: No such file or directory"},
      {"apply", {"-f", "/tmp"}, EX_NOINPUT, "jailwarden apply: /tmp: Is a directory"},
      {"apply", {"-f", caps}, EX_CONFIG,
       ":4:40: 'linux.capabilities' in jail 'x': unknown capability 'cap_foo'"},
      {"apply", {}, EX_USAGE, "--file is required"},
      {"validate", {"/dev/zero"}, EX_CONFIG,
       "/dev/zero: File too large (a policy is limited to 4194304 bytes, 4 MiB)", false},
      {"validate", {big}, EX_CONFIG, "File too large", false},
      {"validate", {"/nonexistent/p.yaml"}, EX_CONFIG,
       "/nonexistent/p.yaml: No such file or directory", false},
      {"validate", {caps}, EX_CONFIG,
       ":4:40: 'linux.capabilities' in jail 'x': unknown capability 'cap_foo' (capabilities(7) "
       "names such as cap_sys_nice or CAP_NET_RAW) (item 2)",
       false},
      {"validate", {}, EX_USAGE, "file is required", false},
      // ---- exec and run: refused before anything streams ----
      {"exec", {"db", "--", ""}, -1, "field 'argv': the command (argv[0]) must not be empty"},
      {"exec", {"db"}, EX_USAGE, "no command"},
      {"exec", {"nosuch", "--", "true"}, -1, "nosuch"},
      {"run", {"nosuch", "--", "true"}, -1, "no template named 'nosuch'"},
      {"run", {"small", "--", ""}, EX_USAGE, "the command (argv[0]) must not be empty"},
      {"run", {"small", "-L", "memoryuse:deny=1M", "-L", "memoryuse:deny=2M", "--", "true"}, -1,
       "duplicate limit 'jail:NAME:memoryuse:deny=2M'"},
      {"run", {"--", "true"}, EX_USAGE, "give a TEMPLATE or --path"},
      {"run", {"small", "--name", "a.b", "--", "true"}, -1, "jail name 'a.b': must not contain"},
      // ---- lifecycle verbs on names that are not there ----
      {"destroy", {"nosuch"}, -1, "nosuch"},
      {"start", {"nosuch"}, -1, "nosuch"},
      {"stop", {}, EX_USAGE, "name is required"},
      // ---- connection: token files and servers ----
      {"list", {"--server", "http://127.0.0.1:1", "--token-file", "/dev/zero"}, -1,
       "token file /dev/zero: larger than 4096 bytes; a token is one line of printable characters",
       false},
      {"list", {"--server", "http://127.0.0.1:1", "--token-file", nul_token}, -1,
       "holds no token: it contains a byte that is not printable ASCII", false},
      {"list", {"--server", "http://127.0.0.1:1", "--token-file", "/nonexistent/token"}, -1,
       "token file /nonexistent/token", false},
      {"start", {"--server", "http://127.0.0.1:1", "--token", "t", "db"}, -1, "127.0.0.1:1",
       false},
      // --server naming something that is not jailwarden.
      {"list", {"--server", kOtherServer, "--token", "t"}, -1,
       "jailwarden list: HTTP 404 without a jailwarden error body (is --server a jailwarden "
       "daemon?): <html><body>Not Found</body></html>",
       false},
      {"start", {"--server", kOtherServer, "--token", "t", "db"}, -1,
       "HTTP 404 without a jailwarden error body (is --server a jailwarden daemon?)", false},
      {"rctl", {"--server", kOtherServer, "--token", "t", "-a", "jail:db:maxproc:deny=5"}, -1,
       "", false},
  };
}

std::vector<PolicyTextCase> PolicyTextCases() {
  const std::string n65(65, 'n');
  return {
      {"too large", std::string((std::size_t{4} << 20) + 1, '#'),
       "p.yaml: File too large (a policy is limited to 4194304 bytes, 4 MiB)"},
      {"65-character name", "jails:\n  " + n65 + ":\n    persist: true\n",
       "p.yaml:2:3: jail name '" + n65 + "': is 65 characters long; at most 64 are allowed"},
      {"template name too long", "templates:\n  " + n65 + ":\n    persist: true\n",
       "is 65 characters long; at most 64 are allowed"},
      {"capability list", "jails:\n  x:\n    persist: true\n    linux.capabilities: [cap_foo]\n",
       "p.yaml:4:26: 'linux.capabilities' in jail 'x': unknown capability 'cap_foo'"},
      {"capability in a template",
       "templates:\n  t:\n    persist: true\n    linux.capabilities: cap_bar\n",
       "p.yaml:4:25: 'linux.capabilities' in template 't': unknown capability 'cap_bar'"},
      {"process rule", "rules:\n  - process:1:maxproc:deny=1\n",
       "p.yaml:2:5: rule 'process:1:maxproc:deny=1': process rules are refused"},
      {"two denies", "jails:\n  x:\n    persist: true\n    limits:\n      memoryuse: [deny=1M, deny=2M]\n",
       "duplicate limit 'jail:x:memoryuse:deny=2M': a deny for memoryuse is already given"},
      {"throttle", "jails:\n  x:\n    persist: true\n    limits:\n      memoryuse: throttle=1M\n",
       "p.yaml:5:18: failed to add rule 'jail:x:memoryuse:throttle=1M': Operation not supported"},
      {"unknown top key", "jail:\n  x:\n    persist: true\n", "p.yaml:1:1:"},
      {"unknown jail key", "jails:\n  x:\n    persit: true\n", "p.yaml:3:5:"},
      {"seccomp unknown call", "jails:\n  x:\n    persist: true\n    linux.seccomp:\n      allow: [no_such_call]\n",
       "p.yaml:5:15:"},
      {"seccomp unknown key", "jails:\n  x:\n    persist: true\n    linux.seccomp:\n      alow: [keyctl]\n",
       "p.yaml:5:7:"},
  };
}

}  // namespace jailwarden::badinput
