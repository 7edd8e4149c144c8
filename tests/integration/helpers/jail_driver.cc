// A stand-in for the daemon in the adoption test: opens a Manager on the
// real Linux runtime, starts jails, then blocks in the middle of starting
// one more, where the test SIGKILLs it.
//
//   jail_driver STATE_DIR RUN_DIR CGROUP_PARENT INIT ROOT_A ROOT_B ROOT_C MARKER
//
// adopt-a: persist, a sleep running in it. adopt-b: persist, net=new.
// adopt-c: exec.created touches MARKER, then exec.start blocks (sleep 60),
// so the driver dies with adopt-c half-made.

#include <cstdio>
#include <string>

#include "jailwarden/jail/manager.h"
#include "jailwarden/platform/linux/linux_jail_runtime.h"

int main(int argc, char** argv) {
  using namespace jailwarden;
  if (argc != 9) {
    fprintf(stderr, "usage: jail_driver STATE RUN CGROUP_PARENT INIT ROOT_A ROOT_B ROOT_C MARKER\n");
    return 64;
  }
  platform::LinuxJailRuntimeOptions ro;
  ro.run_dir = argv[2];
  ro.cgroup_parent = argv[3];
  ro.init_path = argv[4];
  auto rt = platform::NewLinuxJailRuntime(ro);
  if (!rt.ok()) {
    fprintf(stderr, "runtime: %s\n", std::string(rt.status().message()).c_str());
    return 1;
  }
  jail::ManagerOptions mo;
  mo.state_dir = argv[1];
  auto m = jail::Manager::Open(mo, *std::move(rt));
  if (!m.ok()) {
    fprintf(stderr, "manager: %s\n", std::string(m.status().message()).c_str());
    return 1;
  }
  platform::JailSpec a;
  a.name = "adopt-a";
  a.path = argv[5];
  a.persist = true;
  a.exec.start = {"sleep 60 > /dev/null 2>&1 &"};
  platform::JailSpec b;
  b.name = "adopt-b";
  b.path = argv[6];
  b.persist = true;
  b.network.mode = platform::NetworkMode::kNew;
  platform::JailSpec c;
  c.name = "adopt-c";
  c.path = argv[7];
  c.persist = true;
  c.exec.created = {std::string("touch ") + argv[8]};
  c.exec.start = {"sleep 60"};
  for (const platform::JailSpec* s : {&a, &b, &c}) {
    absl::Status st = (*m)->Create(*s);
    if (!st.ok()) {
      fprintf(stderr, "create %s: %s\n", s->name.c_str(), std::string(st.message()).c_str());
      return 1;
    }
  }
  for (const char* n : {"adopt-a", "adopt-b", "adopt-c"}) {
    absl::Status st = (*m)->Start(n);
    if (!st.ok()) {
      fprintf(stderr, "start %s: %s\n", n, std::string(st.message()).c_str());
      return 1;
    }
  }
  return 0;
}
