// The client's side of an interactive exec, as `jailwarden exec -i/-t` and
// `console` run it (cli::RunInteractiveSession), over a unix socket the
// test serves (exec_interactive_tty_test.cc) instead of the upgraded HTTP
// connection: the request's JSON body on one line, then the frames.
//
//   exec_client SOCKET [-i] [-t] [--console] [-- COMMAND...]
//
// Exits with the session's status.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cli/exec_interactive.h"
#include "jailwarden/api/exec_session.h"

int main(int argc, char** argv) {
  using namespace jailwarden;
  if (argc < 2) {
    fprintf(stderr, "usage: exec_client SOCKET [-i] [-t] [--console] [-- COMMAND...]\n");
    return 64;
  }
  api::ExecSessionRequest req;
  bool console = false;
  int i = 2;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-i") {
      req.stdin = true;
    } else if (a == "-t") {
      req.tty = true;
    } else if (a == "--console") {
      console = true;
      req.tty = req.stdin = true;
    } else if (a == "--") {
      ++i;
      break;
    } else {
      fprintf(stderr, "exec_client: unknown flag %s\n", argv[i]);
      return 64;
    }
  }
  for (; i < argc; ++i) req.exec.argv.push_back(argv[i]);
  if (console) req.exec.argv = cli::ConsoleArgv();
  if (req.tty) {
    if (auto size = cli::TerminalSize(0)) {
      req.rows = size->first;
      req.cols = size->second;
    }
    if (const char* term = getenv("TERM")) req.term = term;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    perror("exec_client: connect");
    return 69;
  }
  std::string line = api::ExecSessionRequestToJson(req) + "\n";
  if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    perror("exec_client: send");
    return 69;
  }
  cli::InteractiveOptions o;
  o.tty = req.tty;
  o.forward_stdin = req.stdin;
  return cli::RunInteractiveSession(fd, o);
}
