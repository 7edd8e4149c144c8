#pragma once

// config.json (the OCI runtime spec, 1.0–1.1) onto a jailwarden jail: what
// jailwarden-init builds (InitConfig, InitOciProcess), the namespaces to
// make or join, and the RCTL rules the resources become. Every field
// jailwarden cannot honour is refused with its JSON pointer; none is
// silently dropped (docs/oci.md lists the mapping). Pure apart from
// reading nothing: parses text, so it tests without root.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "platform/linux/init_config.h"
#include "platform/linux/init_oci.h"

namespace jailwarden::oci {

// A namespace the container joins by path (setns before init's execve).
struct NamespaceJoin {
  int clone_flag = 0;  // CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS
  std::string path;
};

// A runtime-spec hook.
struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  int timeout_s = 0;  // 0 = none
};

struct OciPlan {
  platform::InitConfig init;          // root, mounts, hostname, caps, ...
  platform::InitOciProcess process;   // args, env, user, rlimits, ...
  uint64_t clone_flags = 0;           // CLONE_NEW* made for init
  std::vector<NamespaceJoin> joins;   // joined by path
  bool terminal = false;
  int oom_score_adj = 0;
  bool has_oom_score_adj = false;
  std::string cgroups_path;           // linux.cgroupsPath ("" = none)
  // jail-subject rules ("memoryuse:deny=67108864"), without the
  // "jail:<name>:" prefix, from linux.resources and the
  // org.jailwarden.rctl.* annotations.
  std::vector<std::string> rules;
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::vector<Hook>> hooks;  // "prestart", ...
};

// Parses config.json text. `bundle` resolves a relative root.path.
// InvalidArgument naming the field as a JSON pointer ("/linux/sysctl: not
// supported ..."); for malformed JSON the parser's byte offset.
absl::StatusOr<OciPlan> PlanFromConfig(std::string_view config_json, const std::string& bundle);

// A `process` object (config.json's, or `exec --process`'s file) onto
// InitOciProcess; `pointer` prefixes the field names in errors ("/process").
// Sets *terminal from process.terminal. Capabilities go to *caps (bounding
// set bits) when non-null.
absl::Status ProcessFromJson(std::string_view process_json, const std::string& pointer,
                             platform::InitOciProcess* p, bool* terminal, uint64_t* caps);

// linux.resources (or `update --resources`' document) onto rule texts
// without the subject ("memoryuse:deny=67108864"). InvalidArgument naming
// the field for what has no RCTL equivalent here.
absl::StatusOr<std::vector<std::string>> RulesFromResources(std::string_view resources_json,
                                                            const std::string& pointer);

// org.jailwarden.rctl.<resource> = "deny=64M,devctl=48M" annotations onto
// rule texts ("memoryuse:deny=64M", "memoryuse:devctl=48M"), each checked
// with the rctl grammar. InvalidArgument naming the annotation.
absl::StatusOr<std::vector<std::string>> RulesFromAnnotations(
    const std::map<std::string, std::string>& annotations);

// The OCI seccomp profile (linux.seccomp) compiled with libseccomp for the
// native architecture (and those the profile lists), as the hex of the
// struct sock_filter array jailwarden-init installs. InvalidArgument
// naming the field for an unknown action or operator.
absl::StatusOr<std::string> CompileSeccompProfile(std::string_view seccomp_json);

}  // namespace jailwarden::oci
