// cgroup_probe: what a jail's root tries against its own cgroups, run from
// inside a jail by jail_cgroup_test.cc. Static (the jail's root is
// busybox). Each step prints one line, "<step> errno=<n>" (0 = it worked),
// so the test compares exact errnos.
//
//   cgroup_probe mount DIR   mount the cgroup file systems the jail's
//                            /proc/self/cgroup names (v1 memory and pids
//                            on hybrid hosts, and the v2 tree) at DIR/memory,
//                            DIR/pids, DIR/unified
//   cgroup_probe lift DIR    write "no limit" to the memory and pids knobs
//                            at the root of each mount (the jail's own
//                            cgroup as its cgroup namespace shows it)
//   cgroup_probe nest DIR    make a/b/c below each mount's root and put one
//                            sleeping process in each of a, a/b, a/b/c
//                            (left running, detached from the caller)
//   cgroup_probe forks N     fork up to N sleeping children, print how many
//                            forks worked, then kill them
//   cgroup_probe write FILE VALUE   one write(2) of VALUE to FILE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int Report(const std::string& step, long rc) {
  int err = rc < 0 ? errno : 0;
  printf("%s errno=%d\n", step.c_str(), err);
  return err;
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

long WriteFile(const std::string& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  long n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  errno = err;
  return n < 0 ? -1 : 0;
}

// True when /proc/self/cgroup names a v1 hierarchy with `controller`.
bool HasV1(const char* controller) {
  FILE* f = fopen("/proc/self/cgroup", "re");
  if (f == nullptr) {
    return false;
  }
  char line[512];
  bool found = false;
  const std::string want = std::string(":") + controller;
  while (fgets(line, sizeof(line), f) != nullptr) {
    std::string l(line);
    std::size_t a = l.find(':');
    std::size_t b = l.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) {
      continue;
    }
    std::string controllers = "," + l.substr(a + 1, b - a - 1) + ",";
    if (controllers.find("," + std::string(controller) + ",") != std::string::npos) {
      found = true;
    }
  }
  fclose(f);
  return found;
}

// The mounts this probe makes: name -> fstype/options.
struct Hier {
  const char* name;
  bool v1;
};
std::vector<Hier> Hierarchies() {
  std::vector<Hier> out;
  if (HasV1("memory")) {
    out.push_back({"memory", true});
  }
  if (HasV1("pids")) {
    out.push_back({"pids", true});
  }
  out.push_back({"unified", false});
  return out;
}

int Mount(const std::string& dir) {
  mkdir(dir.c_str(), 0700);
  for (const Hier& h : Hierarchies()) {
    std::string target = dir + "/" + h.name;
    mkdir(target.c_str(), 0700);
    long rc = h.v1 ? mount("cgroup", target.c_str(), "cgroup", 0, h.name)
                   : mount("cgroup2", target.c_str(), "cgroup2", 0, nullptr);
    Report(std::string("mount_") + h.name, rc);
  }
  return 0;
}

int Lift(const std::string& dir) {
  struct Knob {
    const char* hier;
    const char* file;
    const char* value;
  };
  for (const Knob& k : {Knob{"memory", "memory.limit_in_bytes", "-1"},
                        Knob{"pids", "pids.max", "max"}, Knob{"unified", "memory.max", "max"},
                        Knob{"unified", "pids.max", "max"}}) {
    std::string path = dir + "/" + k.hier + "/" + k.file;
    if (!Exists(dir + "/" + k.hier + "/cgroup.procs")) {
      continue;  // not mounted
    }
    Report(std::string("write_") + k.hier + "_" + k.file, WriteFile(path, k.value));
  }
  return 0;
}

int Nest(const std::string& dir) {
  std::vector<std::string> mounted;
  for (const Hier& h : Hierarchies()) {
    if (Exists(dir + "/" + h.name + "/cgroup.procs")) {
      mounted.push_back(dir + "/" + h.name);
    }
  }
  int failures = 0;
  for (const char* sub : {"/a", "/a/b", "/a/b/c"}) {
    int mk_err = 0;
    for (const std::string& m : mounted) {
      if (mkdir((m + sub).c_str(), 0755) != 0 && errno != EEXIST) {
        mk_err = errno;
      }
    }
    pid_t pid = fork();
    if (pid == 0) {
      // Detached: the caller's output pipe closes when the probe exits.
      setsid();
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      for (;;) {
        pause();
      }
    }
    int move_err = 0;
    for (const std::string& m : mounted) {
      if (WriteFile(m + sub + "/cgroup.procs", std::to_string(pid)) != 0) {
        move_err = errno;
      }
    }
    printf("nest %s mkdir errno=%d move errno=%d\n", sub + 1, mk_err, move_err);
    failures += (mk_err != 0 || move_err != 0);
  }
  return failures == 0 ? 0 : 1;
}

int Forks(int n) {
  std::vector<pid_t> kids;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      for (;;) {
        pause();
      }
    }
    if (pid < 0) {
      break;
    }
    kids.push_back(pid);
  }
  printf("forked %zu\n", kids.size());
  for (pid_t pid : kids) {
    kill(pid, SIGKILL);
  }
  for (pid_t pid : kids) {
    waitpid(pid, nullptr, 0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mode = argc >= 2 ? argv[1] : "";
  if (mode == "mount" && argc >= 3) {
    return Mount(argv[2]);
  }
  if (mode == "lift" && argc >= 3) {
    return Lift(argv[2]);
  }
  if (mode == "nest" && argc >= 3) {
    return Nest(argv[2]);
  }
  if (mode == "forks" && argc >= 3) {
    return Forks(atoi(argv[2]));
  }
  if (mode == "write" && argc >= 4) {
    Report("write", WriteFile(argv[2], argv[3]));
    return 0;
  }
  fprintf(stderr, "usage: cgroup_probe mount|lift|nest DIR | forks N | write FILE VALUE\n");
  return 2;
}
