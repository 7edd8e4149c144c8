#pragma once

// The policy file (../shared/design/architecture.md §4, docs/policy.md): one
// YAML document with `server:`, `templates:`, `jails:` and `rules:`, turned
// into plain data. Pure: no syscalls except reading the file in
// LoadPolicyFile/ValidatePolicyFile (and, for `user:NAME` in `rules:`, the
// passwd lookup rctl(8) itself does, replaceable through LoadOptions).
//
// Every problem is reported with its place in the file, 1-based as editors
// show it, in the form "FILE:LINE:COL: message". A policy with any error
// yields no Policy at all, so nothing half-valid is ever applied.
//
// All functions are thread-safe (they share no state).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/platform/jail_spec.h"
#include "jailwarden/policy/checks.h"
#include "jailwarden/rctl/rule.h"
#include "jailwarden/rctl/rule_set.h"
#include "jailwarden/rctl/user_form.h"

namespace jailwarden::policy {

// A place in the policy file, 1-based. line 0 = not tied to a line (an
// unreadable file).
struct SourcePosition {
  int line = 0;
  int column = 0;
  friend bool operator==(const SourcePosition&,
                         const SourcePosition&) = default;
};

// One problem in a policy file.
struct PolicyError {
  std::string file;
  int line = 0;    // 1-based; 0 = the file as a whole
  int column = 0;  // 1-based
  std::string message;

  // "FILE:LINE:COL: message", or "FILE: message" when line is 0.
  std::string ToString() const;
  friend bool operator==(const PolicyError&, const PolicyError&) = default;
};

// Every error's ToString(), each followed by "\n" (ready to print to stderr
// as `jailwarden validate` does). "" for no errors.
std::string FormatErrors(const std::vector<PolicyError>& errors);

// Which host backend `jailwarden serve` uses. kAuto: the one for the OS it
// runs on.
enum class Backend : uint8_t { kAuto, kLinux, kFreeBsd };
std::string_view BackendName(Backend backend);  // "auto", "linux", "freebsd"

// kern.racct.rctl.throttle_* (freebsd-rctl.md §10), in the kernel's units:
// min and max in scheduler ticks (hz; 1000 on a default FreeBSD kernel, and
// jailwarden's Linux backend uses 1000 too), pct and pct2 in percent.
// Validated as the sysctl handlers do: min >= 1, max >= min, pct >= 0,
// pct2 >= 0.
struct ThrottleConfig {
  int64_t min = 1;
  int64_t max = 2000;  // 2 * hz
  int64_t pct = 100;
  int64_t pct2 = 100;
  friend bool operator==(const ThrottleConfig&,
                         const ThrottleConfig&) = default;
};

inline constexpr char kDefaultListen[] = "127.0.0.1:9814";
inline constexpr char kDefaultApiSocket[] = "/run/jailwarden/api.sock";
inline constexpr char kDefaultStateDir[] = "/var/lib/jailwarden";

// The `server:` section. Defaults are what an absent key means.
struct ServerConfig {
  // TCP listeners for /metrics and the REST API: "IPv4:PORT" or
  // "[IPv6]:PORT". Empty = no TCP listener.
  std::vector<std::string> listen = {kDefaultListen};
  std::string api_socket = kDefaultApiSocket;  // "" = no unix socket
  std::string state_dir = kDefaultStateDir;    // absolute
  Backend backend = Backend::kAuto;
  absl::Duration sample_interval = absl::Milliseconds(100);  // 1ms..60s
  absl::Duration slow_interval = absl::Seconds(1);  // >= sample_interval, <= 1h
  absl::Duration history = absl::Seconds(60);  // >= sample_interval, <= 24h
  int64_t log_rate_limit = 10;     // messages per second, 0..1000000
  int64_t devctl_rate_limit = 10;  // events per second, 0..1000000
  ThrottleConfig throttle;
  std::string token_file =
      std::string(kDefaultStateDir) + "/token";  // <state_dir>/token
  std::string metrics_path = "/metrics";
  // Jails an earlier policy defined and this one no longer does, found at
  // start-up (removed from the file while the daemon was down): stopped in
  // jail(8) order and forgotten, as a reload would (true), or kept as they
  // are, as jails the policy does not manage (false).
  bool stop_removed_jails = true;
  // The listeners speak TLS. Refused at start while the HTTP server cannot
  // (docs/api-security.md); false is the only value that starts.
  bool tls = false;
  // GET/HEAD of /v1 from loopback without the token (off: a jail sharing
  // the host's network reads nothing).
  bool public_reads = false;
  // exporter-toolkit web config file (TLS files, basic_auth_users); "" none.
  std::string web_config;
  // Open connections of one peer address served without credentials.
  int64_t max_connections_per_peer = 16;  // 1..10000
  // Concurrent event/exec/run streams of one peer address.
  int64_t max_streams_per_peer = 4;  // 1..1000
  // Time a client has to send a request (and to read what it is sent).
  absl::Duration request_timeout = absl::Seconds(10);  // 100ms..1h
  friend bool operator==(const ServerConfig&, const ServerConfig&) = default;
};

// One jail, after template inheritance.
// ---- healthcheck (issue 17: health checks) ----------------------------------
// A jail's `healthcheck:` (docs/policy.md): a command the daemon runs inside
// the running jail every `interval`, as `jailwarden exec` would; exit 0 is
// healthy. `retries` failures in a row (after `start_period`) make the jail
// unhealthy and trigger `on_failure`.
enum class HealthAction { kNone, kRestart, kStop };
std::string_view HealthActionName(HealthAction action);  // "none", "restart", "stop"

struct HealthCheckPolicy {
  // The command's argv; a string in the policy is {"/bin/sh", "-c", STRING}.
  std::vector<std::string> argv;
  absl::Duration interval = absl::Seconds(30);
  absl::Duration timeout = absl::Seconds(10);  // killed after this; a failure
  int64_t retries = 3;                         // failures in a row
  absl::Duration start_period = absl::ZeroDuration();  // failures not counted
  HealthAction on_failure = HealthAction::kNone;
  friend bool operator==(const HealthCheckPolicy&, const HealthCheckPolicy&) = default;
};
// ---- end healthcheck ---------------------------------------------------------

struct JailPolicy {
  std::string name;
  std::string template_name;  // the template it names directly, "" for none
  platform::JailSpec spec;    // fully resolved; spec.name == name
  // Its `limits:` in kernel form (subject jail:<name>, amounts scaled as the
  // kernel stores them), in the order written.
  std::vector<rctl::Rule> limits;
  // Parallel to `limits`: each rule as rctl(8) would be given it, as
  // written ("jail:web:memoryuse:deny=512M"), for messages.
  std::vector<std::string> limit_texts;
  SourcePosition position;      // of the jail's name in the file
  bool path_defaulted = false;  // spec.path came from <state_dir>/roots/<name>
  // ---- healthcheck (issue 17) ----
  std::optional<HealthCheckPolicy> healthcheck;  // none: no check
  // ---- end healthcheck ----
  friend bool operator==(const JailPolicy&, const JailPolicy&) = default;
};

// One template. `resolved` is the template read as if it were a jail of the
// template's own name (inheritance applied, path defaulted), which is what
// InstantiateTemplate starts from.
struct TemplatePolicy {
  std::string name;
  std::string parent;  // its own `template:`, "" for none
  JailPolicy resolved;
  SourcePosition position;
  friend bool operator==(const TemplatePolicy&,
                         const TemplatePolicy&) = default;
};

struct Policy {
  std::string filename;
  ServerConfig server;
  std::vector<TemplatePolicy> templates;  // file order
  std::vector<JailPolicy> jails;          // file order
  std::vector<rctl::Rule> rules;          // `rules:` in kernel form, file order
  std::vector<std::string> rule_texts;    // parallel to `rules`, as written

  const JailPolicy* FindJail(std::string_view name) const;
  const TemplatePolicy* FindTemplate(std::string_view name) const;

  // Every rule this policy asks the kernel for: each jail's limits in jail
  // order, then `rules:`. A loaded policy never holds two rules that would
  // replace each other, so this is exactly AllRules().rules(), in O(n).
  std::vector<rctl::Rule> KernelRules() const;

  // KernelRules() as a rule database, each added with rctl::RuleSet::Add.
  // RuleSet::Add is linear in the database size, so this is quadratic
  // (about 20 s for 50,000 rules); prefer KernelRules() for large policies.
  rctl::RuleSet AllRules() const;

  // Jail names so that each comes after everything in its `depend` (ties
  // in file order). Stop in the reverse order.
  std::vector<std::string> StartOrder() const;

  friend bool operator==(const Policy&, const Policy&) = default;
};

struct LoadOptions {
  // Turns user:NAME in `rules:` into user:UID as rctl(8) does. nullptr =
  // the host's passwd database (rctl::NameResolver::System()).
  const rctl::NameResolver* resolver = nullptr;
  // The warning channel beside the errors: when not null, receives one
  // PolicyError per key that relaxes isolation (message "warning: ...",
  // sorted by position; docs/security.md lists them). Warnings never make
  // a policy invalid.
  std::vector<PolicyError>* warnings = nullptr;
};

// Parses and validates a policy. `filename` only labels messages.
// Errors: InvalidArgument whose message holds every error, one per line,
// each "FILE:LINE:COL: message" (no trailing newline).
absl::StatusOr<Policy> LoadPolicyText(std::string_view text,
                                      std::string_view filename,
                                      const LoadOptions& options = {});

// Reads `path` (ReadPolicyFileBounded: at most kMaxPolicyBytes) and calls
// LoadPolicyText. An unreadable file gives the errno's status (NotFound,
// PermissionDenied, ...; StatusErrno has the errno) with the message
// "PATH: <strerror>"; a longer file PolicyTooLargeMessage(PATH) (EFBIG).
// Text longer than kMaxPolicyBytes is refused the same way by every entry
// point here.
absl::StatusOr<Policy> LoadPolicyFile(const std::string& path,
                                      const LoadOptions& options = {});

// The same checks, returning every error (empty = valid), sorted by
// position. For `jailwarden validate FILE`:
//   auto errors = policy::ValidatePolicyFile(file);
//   err << policy::FormatErrors(errors);
//   return errors.empty() ? EX_OK : EX_CONFIG;
std::vector<PolicyError> ValidatePolicyText(std::string_view text,
                                            std::string_view filename,
                                            const LoadOptions& options = {});
// An unreadable file is one PolicyError with line 0 ("PATH: <strerror>").
std::vector<PolicyError> ValidatePolicyFile(const std::string& path,
                                            const LoadOptions& options = {});

// One `jailwarden set NAME KEY=VALUE`: a policy key of a jail and its
// value as YAML text ("web.example", "[10.0.0.1, 10.0.0.2]"); an empty
// value removes the key from the jail (its template's or the default
// applies).
struct JailKeyValue {
  std::string key;
  std::string value;
};

// `text` (a policy, `filename` labels messages) with jail `jail`'s keys
// set. The text is edited in place: a changed key's lines replaced (a
// one-line value keeps its trailing comment), a removed key's lines
// deleted, a new key added after the jail's last key, at the jail's
// indentation; every other line, comments and blank lines included, stays
// as it was. A jail written in flow style ({...}) has its entry rewritten
// in block style; only a jails: map in flow style makes the whole text
// written again (comments lost). The result always parses to the same tree
// as the edit made on the parsed text (checked). Only the text is changed:
// the caller validates the result with LoadPolicyText, the one validation
// every policy gets. Errors:
// InvalidArgument for no keys, a key that is not a jail key (with the key
// meant, as the loader suggests it), a value that is not YAML, or a text
// that does not parse ("FILE:LINE:COL: message"); NotFound when the
// policy's jails: defines no `jail`.
absl::StatusOr<std::string> SetJailKeysInText(std::string_view text, std::string_view filename,
                                              std::string_view jail,
                                              const std::vector<JailKeyValue>& keys);

// `jailwarden set NAME KEY=VALUE` of a jail created through the API (its
// spec is runtime state, not policy text): `spec` written as one policy
// jail, `keys` set in that text (SetJailKeysInText), and the result read by
// LoadPolicyText, so a key gets the words, checks and errors it gets in a
// policy ("set NAME:LINE:COL: ..."). depend and template_name are kept.
// Errors, nothing changed: InvalidArgument for an unknown key, a value the
// loader refuses, or limits/template/healthcheck/depend (fixed at create;
// limits are runtime rules: rctl -a/-r); FailedPrecondition for a spec the
// policy keys cannot express (set would change keys nobody named).
// Thread-safe.
absl::StatusOr<platform::JailSpec> SetJailSpecKeys(const platform::JailSpec& spec,
                                                   const std::vector<JailKeyValue>& keys);

// Makes a jail named `jail_name` from template `template_name` of a loaded
// policy (for one-shot `jailwarden run TEMPLATE`): the template's resolved
// definition with its limits re-targeted to jail:<jail_name> and a
// defaulted path recomputed. Errors: NotFound for an unknown template,
// InvalidArgument for a name jail(8) would refuse or that the policy
// already uses.
absl::StatusOr<JailPolicy> InstantiateTemplate(const Policy& policy,
                                               std::string_view template_name,
                                               std::string_view jail_name);

}  // namespace jailwarden::policy
