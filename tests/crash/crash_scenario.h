#pragma once

// The crash harness's scenario (crash_test.cc): the policies it moves
// between, the operations it drives and the fault points each passes.

#include <string>
#include <vector>

namespace jailwarden::crash {

// The policies the harness moves between. CACHE is replaced by the cache
// jail (or nothing).
constexpr char kPolicy[] = R"(server:
  listen: 127.0.0.1:9
  api_socket: ""
  state_dir: STATE
  token_file: STATE/token
  sample_interval: 100ms
  slow_interval: 500ms
templates:
  t:
    base: BASE
    persist: true
    exec.clean: true
    stop.timeout: 1s
    ip4: disable
jails:
  db:
    template: t
    exec.start: "sleep 100000 </dev/null >/dev/null 2>&1 &"
    limits:
      maxproc: deny=64
  web:
    template: t
    depend: db
    exec.start: "sleep 100000 </dev/null >/dev/null 2>&1 &"
    limits:
      maxproc: deny=60
CACHE
rules:
  - jail:db:nthr:deny=100
)";

struct Variant {
  const char* name;
  const char* cache;                    // YAML for the cache jail
  std::vector<std::string> jails;       // the policy's jails
  std::vector<std::string> rules;       // its rules, kernel form
};

const Variant kVariants[] = {
    {"full",
     "  cache:\n    template: t\n    exec.start: \"sleep 100000 </dev/null >/dev/null 2>&1 &\"\n"
     "    limits:\n      maxproc: deny=48\n",
     {"cache", "db", "web"},
     {"jail:cache:maxproc:deny=48", "jail:db:maxproc:deny=64", "jail:db:nthr:deny=100",
      "jail:web:maxproc:deny=60"}},
    {"nocache", "", {"db", "web"},
     {"jail:db:maxproc:deny=64", "jail:db:nthr:deny=100", "jail:web:maxproc:deny=60"}},
    {"changed",
     "  cache:\n    template: t\n    host.hostname: cache2\n"
     "    exec.start: \"sleep 100000 </dev/null >/dev/null 2>&1 &\"\n"
     "    limits:\n      maxproc: deny=40\n",
     {"cache", "db", "web"},
     {"jail:cache:maxproc:deny=40", "jail:db:maxproc:deny=64", "jail:db:nthr:deny=100",
      "jail:web:maxproc:deny=60"}},
};

enum Op { kCreate, kStart, kStop, kRestart, kDestroy, kApply, kRctlAdd, kRctlRemove, kStartUp,
          kOpCount };
const char* const kOpNames[] = {"create", "start", "stop", "restart", "destroy",
                                "apply", "rctl -a", "rctl -r", "start-up"};

// Fault points each operation passes (jail/crash_point.h callers).
const std::vector<std::string> kPoints[] = {
    /*create*/ {"create.begin", "jail.defined", "create.defined", "create.limits", "jail.prepare.unsaved",
                "jail.prepare", "jail.create.unsaved", "jail.create", "jail.running", "create.started", "create.end"},
    /*start*/ {"start.begin", "jail.prepare.unsaved", "jail.prepare", "jail.create.unsaved", "jail.create", "jail.attach-network", "jail.running",
               "start.end"},
    /*stop*/ {"stop.begin", "jail.stopping", "jail.remove", "jail.teardown", "stop.end"},
    /*restart*/ {"restart.begin", "jail.stopping", "jail.remove", "restart.stopped",
                 "jail.create", "jail.running", "restart.end"},
    /*destroy*/ {"destroy.begin", "jail.stopping", "jail.teardown", "jail.destroy",
                 "destroy.destroyed", "destroy.end"},
    /*apply*/ {"apply.begin", "apply.removed:cache", "jail.stopping", "jail.destroy",
               "apply.rules", "apply.restarted:cache", "jail.defined", "jail.create",
               "jail.running", "apply.jails", "apply.end"},
    /*rctl -a*/ {},
    /*rctl -r*/ {},
    /*start-up*/ {"startup.replayed", "jail.running", "startup-remove.begin"},
};

}  // namespace jailwarden::crash
