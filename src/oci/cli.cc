// The runc-compatible command line (jailwarden/oci/oci.h).

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "jailwarden/base/strings.h"
#include "jailwarden/oci/oci.h"
#include "jailwarden/version.h"
#include "oci/run.h"
#include "oci/runtime.h"

namespace jailwarden::oci {
namespace {

constexpr char kUsage[] =
    "usage: jailwarden-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug]\n"
    "                      [--systemd-cgroup] COMMAND [OPTIONS] ID\n"
    "commands: create start run state kill delete exec ps list pause resume update\n"
    "          events features --version (docs/oci.md)\n";

// runc's flag forms: --name value, --name=value, -n value.
class Args {
 public:
  explicit Args(std::vector<std::string> a) : a_(std::move(a)) {}
  bool Done() const { return i_ >= a_.size(); }
  const std::string& Peek() const { return a_[i_]; }
  std::string Next() { return a_[i_++]; }
  // If the next argument is flag `name` (or an alias), takes its value.
  bool Value(std::initializer_list<const char*> names, std::string* value, std::string* error) {
    const std::string& cur = a_[i_];
    for (const char* n : names) {
      std::string name = n;
      if (cur == name || cur == "-" + name) {
        if (i_ + 1 >= a_.size()) {
          *error = StrCat("flag ", cur, " needs a value");
          return true;
        }
        *value = a_[i_ + 1];
        i_ += 2;
        return true;
      }
      if (cur.rfind(name + "=", 0) == 0 || cur.rfind("-" + name + "=", 0) == 0) {
        *value = cur.substr(cur.find('=') + 1);
        ++i_;
        return true;
      }
    }
    return false;
  }
  bool Flag(std::initializer_list<const char*> names) {
    const std::string& cur = a_[i_];
    for (const char* n : names) {
      std::string name = n;
      if (cur == name || cur == "-" + name || cur == name + "=true") {
        ++i_;
        return true;
      }
    }
    return false;
  }
  std::vector<std::string> Rest() { return {a_.begin() + static_cast<long>(i_), a_.end()}; }

 private:
  std::vector<std::string> a_;
  std::size_t i_ = 0;
};

void Log(const GlobalOptions& g, const std::string& level, const std::string& msg,
         std::ostream& err) {
  err << "jailwarden-oci: " << msg << "\n";
  if (g.log.empty()) {
    return;
  }
  std::ofstream f(g.log, std::ios::app);
  if (g.log_json) {
    char buf[64];
    time_t now = time(nullptr);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    nlohmann::json j = {{"level", level}, {"msg", msg}, {"time", buf}};
    f << j.dump() << "\n";
  } else {
    f << level << ": " << msg << "\n";
  }
}

}  // namespace

int OciMain(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  GlobalOptions g;
  // The default --root may come from the environment (scripts, tests).
  if (const char* env = getenv("JAILWARDEN_OCI_ROOT"); env != nullptr && *env == '/') {
    g.root = env;
  }
  Args a(argv);
  std::string v, error;
  while (!a.Done() && a.Peek().rfind("-", 0) == 0) {
    if (a.Value({"--root"}, &g.root, &error) || a.Value({"--log"}, &g.log, &error) ||
        a.Value({"--criu"}, &v, &error)) {
    } else if (a.Value({"--log-format"}, &v, &error)) {
      g.log_json = v == "json";
    } else if (a.Flag({"--debug"})) {
      g.debug = true;
    } else if (a.Flag({"--systemd-cgroup"})) {
      g.systemd_cgroup = true;
    } else if (a.Flag({"--rootless"}) || a.Value({"--rootless"}, &v, &error)) {
    } else if (a.Flag({"--version", "-v"})) {
      out << "jailwarden-oci version " << kVersion << "\nspec: 1.1.0\n";
      return 0;
    } else if (a.Flag({"--help", "-h"})) {
      out << kUsage;
      return 0;
    } else {
      err << "jailwarden-oci: unknown global flag '" << a.Peek() << "'\n" << kUsage;
      return 2;
    }
    if (!error.empty()) {
      err << "jailwarden-oci: " << error << "\n";
      return 2;
    }
  }
  if (a.Done()) {
    err << kUsage;
    return 2;
  }
  const std::string cmd = a.Next();
  absl::Status st;
  int exit_code = 0;
  std::vector<std::string> positional;
  // Per-command flags.
  CreateOptions co;
  ExecOptions eo;
  bool force = false, all = false, json = false, quiet = false, stats = false;
  std::string resources, format, interval;
  while (!a.Done() && error.empty()) {
    if (a.Peek() == "--") {
      a.Next();
      for (std::string& r : a.Rest()) positional.push_back(r);
      break;
    }
    if (a.Peek().rfind("-", 0) != 0 || (!positional.empty() && cmd == "exec")) {
      positional.push_back(a.Next());
      continue;
    }
    if (a.Value({"--bundle", "-b"}, &co.bundle, &error) ||
        a.Value({"--pid-file"}, &co.pid_file, &error) ||
        a.Value({"--console-socket"}, &co.console_socket, &error) ||
        a.Value({"--process", "-p"}, &eo.process_file, &error) ||
        a.Value({"--resources", "-r"}, &resources, &error) ||
        a.Value({"--format", "-f"}, &format, &error) ||
        a.Value({"--interval"}, &interval, &error) || a.Value({"--cwd"}, &v, &error) ||
        a.Value({"--env", "-e"}, &v, &error) || a.Value({"--user", "-u"}, &v, &error)) {
    } else if (a.Value({"--preserve-fds"}, &v, &error)) {
      co.preserve_fds = eo.preserve_fds = std::atoi(v.c_str());
    } else if (a.Flag({"--force", "-f"})) {
      force = true;
    } else if (a.Flag({"--all", "-a"})) {
      all = true;
    } else if (a.Flag({"--tty", "-t"})) {
      eo.tty = true;
    } else if (a.Flag({"--detach", "-d"})) {
      eo.detach = true;
    } else if (a.Flag({"--quiet", "-q"})) {
      quiet = true;
    } else if (a.Flag({"--stats"})) {
      stats = true;
    } else if (a.Flag({"--no-pivot", "--no-new-keyring", "--no-subreaper"})) {
    } else {
      error = StrCat("unknown flag '", a.Peek(), "' for ", cmd);
    }
  }
  if (!error.empty()) {
    Log(g, "error", error, err);
    return 2;
  }
  json = format == "json";
  std::string id = positional.empty() ? "" : positional[0];
  auto need_id = [&]() {
    if (id.empty()) {
      st = absl::InvalidArgumentError(StrCat(cmd, ": container id missing"));
      return false;
    }
    return true;
  };
  eo.pid_file = co.pid_file;
  eo.console_socket = co.console_socket;
  if (cmd == "create" || cmd == "run") {
    co.id = id;
    // `run` is runc's: in the foreground it waits for the process and
    // deletes the container (oci/run.h); with --detach it returns once
    // the process runs, as create + start.
    if (!need_id()) {
    } else if (cmd == "run" && !eo.detach) {
      st = RunForeground(g, co, &exit_code);
    } else {
      st = Create(g, co);
      if (st.ok() && cmd == "run") st = Start(g, id);
    }
  } else if (cmd == "start") {
    if (need_id()) st = Start(g, id);
  } else if (cmd == "state") {
    if (need_id()) st = State(g, id, out);
  } else if (cmd == "kill") {
    if (need_id()) st = Kill(g, id, positional.size() > 1 ? positional[1] : "TERM", all);
  } else if (cmd == "delete") {
    if (need_id()) st = Delete(g, id, force);
  } else if (cmd == "list") {
    st = List(g, json, quiet, out);
  } else if (cmd == "ps") {
    if (need_id()) st = Ps(g, id, json, out);
  } else if (cmd == "pause" || cmd == "resume") {
    if (need_id()) st = Pause(g, id, cmd == "pause");
  } else if (cmd == "update") {
    if (need_id()) st = Update(g, id, resources);
  } else if (cmd == "exec") {
    eo.id = id;
    eo.args.assign(positional.begin() + (positional.empty() ? 0 : 1), positional.end());
    if (need_id()) st = Exec(g, eo, &exit_code);
  } else if (cmd == "features") {
    Features(out);
  } else if (cmd == "events") {
    if (need_id()) st = Events(g, id, stats, interval, out);
  } else {
    st = absl::InvalidArgumentError(StrCat("unknown command '", cmd, "'"));
  }
  if (!st.ok()) {
    Log(g, "error", std::string(st.message()), err);
    return 1;
  }
  return exit_code;
}

}  // namespace jailwarden::oci
