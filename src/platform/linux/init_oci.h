#pragma once

// The OCI mode of jailwarden-init (src/oci, `jailwarden oci create`): after
// the jail is built (SetupJail) init does not supervise; it prepares the
// container's process (console, user, rlimits), reports "ok", waits for
// `oci start` on the exec fifo and execve()s the process, which so becomes
// pid 1 of the container's pid namespace, as runc does without --init.
// Shared by the runtime (src/oci) and init (init_main_oci.cc); free of
// abseil like init_config.h.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace jailwarden::platform {

// A runtime-spec hook: path (resolved in the mount namespace and root of
// whoever runs it), args (args[0] included; empty: {path}), env, killed
// after timeout_s seconds (0: none). Run by the runtime (prestart,
// createRuntime, poststart, poststop) and by init (createContainer,
// startContainer).
struct InitOciHook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  int timeout_s = 0;
};

// Runs one hook as a child of the caller: `state` (the runtime-spec state
// JSON) on its stdin, stdout and stderr inherited, every other descriptor
// closed at its execve, SIGKILLed and reaped at its timeout. The caller's
// SIGCHLD must not be ignored or handled by a reaper of its own. Returns ""
// on success, else why ("exit status 1", "killed by signal 9", "timed out
// after 5 s", "fork: EAGAIN"); *timed_out tells the timeout apart. Used by
// the runtime (oci/hooks.cc) and by jailwarden-init: one implementation,
// free of abseil like the rest of this header. Thread-compatible; sets
// SIGPIPE to ignored in the caller (a hook that closes its stdin early).
std::string RunOciHook(const InitOciHook& hook, const std::string& state, bool* timed_out);

struct InitOciProcess {
  std::vector<std::string> args;  // process.args; args[0] looked up in PATH of env
  std::vector<std::string> env;   // "K=V"
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  // setrlimit before exec: {RLIMIT_*, soft, hard}; the runtime has already
  // refused raising a hard limit above init's own (docs/oci.md).
  std::vector<std::array<uint64_t, 3>> rlimits;
  bool no_new_privileges = false;
  int console_rows = 0, console_cols = 0;  // process.consoleSize (0 = unset)
  int umask = -1;  // process.user.umask; -1 = as inherited (022)
  // Descriptor numbers in init: the exec fifo opened O_PATH (open for
  // writing blocks until `start` reads it), and, for a terminal, the
  // connected console socket the pty master is sent over (-1 = none).
  int fifo_fd = -1;
  int console_fd = -1;
  // Descriptors 3..3+preserve_fds-1 stay open across execve.
  int preserve_fds = 0;
  // The OCI seccomp profile compiled to a classic BPF program, as hex of
  // the struct sock_filter array; installed after the jail's own filter,
  // before the capability drop. "" = none.
  std::string seccomp_bpf_hex;
  // root.readonly: / remounted read-only after pivot_root.
  bool root_readonly = false;
  // linux.maskedPaths (an empty read-only tmpfs on a directory, /dev/null
  // on a file) and linux.readonlyPaths, inside the container; absent
  // paths are skipped.
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  // hooks.startContainer, run in order by init in the container once
  // `start` opened the fifo and before the process's execve, each with
  // `hook_state` (the runtime-spec state JSON) on stdin; the first that
  // fails or times out ends the container (init exits 127, naming it).
  std::vector<InitOciHook> start_container_hooks;
  std::string hook_state;
  // The create phase's pause point, before pivot_root (mounts done, the
  // runtime's root still /). With hook_sync_fd >= 0 (a socketpair end) init
  // writes 'h' there and waits: the runtime applies the limits and runs
  // prestart and createRuntime on the host, then writes 'g'; init runs
  // hooks.createContainer in order, in the container's namespaces with
  // `create_hook_state` (status creating) on stdin, and goes on to
  // pivot_root. EOF instead of 'g' (the runtime failed or died) or a hook
  // that fails ends init with a setup error naming it.
  int hook_sync_fd = -1;
  std::vector<InitOciHook> create_container_hooks;
  std::string create_hook_state;
};

std::string InitOciProcessToJson(const InitOciProcess& p);
// Returns false and sets *error on bad JSON.
bool InitOciProcessFromJson(const std::string& text, InitOciProcess* p, std::string* error);

}  // namespace jailwarden::platform
