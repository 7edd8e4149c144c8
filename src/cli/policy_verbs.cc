#include <sysexits.h>

#include <filesystem>

#include "cli/common.h"
#include "cli/daemon_verbs.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "cli/mkroot_freebsd.h"
#if defined(__linux__)
#include "jailwarden/platform/linux/rootfs.h"
#endif
#include "jailwarden/policy/checks.h"
#include "jailwarden/policy/policy.h"
#include "nlohmann/json.hpp"

namespace jailwarden::cli {

int RunValidateVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app(
      "Check a policy file without a daemon: every error as FILE:LINE:COL: "
      "message. Exit status 0 when valid, 78 (EX_CONFIG) otherwise.",
      "jailwarden validate");
  std::string file;
  bool json = false;
  app.add_option("file", file, "policy file (YAML)")->required();
  app.add_flag("--json", json, "errors as JSON");
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  std::vector<policy::PolicyError> warnings;
  policy::LoadOptions options;
  options.warnings = &warnings;
  const std::vector<policy::PolicyError> errors = policy::ValidatePolicyFile(file, options);
  if (json) {
    nlohmann::json j = nlohmann::json::object();
    j["file"] = file;
    j["valid"] = errors.empty();
    nlohmann::json list = nlohmann::json::array();
    for (const policy::PolicyError& e : errors) {
      list.push_back({{"file", e.file}, {"line", e.line}, {"column", e.column},
                      {"message", e.message}});
    }
    j["errors"] = list;
    nlohmann::json wlist = nlohmann::json::array();
    for (const policy::PolicyError& w : warnings) {
      wlist.push_back({{"file", w.file}, {"line", w.line}, {"column", w.column},
                       {"message", w.message}});
    }
    j["warnings"] = wlist;
    ctx.out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (errors.empty()) {
    // Keys that relax isolation (docs/security.md): valid, but said.
    ctx.err << policy::FormatErrors(warnings);
    ctx.out << file << ": valid\n";
  } else {
    ctx.err << policy::FormatErrors(errors);
  }
  return errors.empty() ? EX_OK : EX_CONFIG;
}

namespace {

// What apply and set print of the daemon's answer: a refused policy
// (InvalidArgument: the loader's errors, with "jailwarden VERB: " first
// when `prefix_refusal`) exits 78; otherwise the changes ("no changes")
// and each failure, exit 1 if any failed. --json prints the body instead.
int ReportApply(CommandContext& ctx, const ConnectionFlags& flags, api::Client& client,
                const absl::StatusOr<api::ApplyResult>& r, const char* verb,
                bool prefix_refusal) {
  if (!r.ok()) {
    if (r.status().code() == absl::StatusCode::kInvalidArgument) {
      if (prefix_refusal) ctx.err << "jailwarden " << verb << ": ";
      ctx.err << r.status().message() << "\n";
      if (flags.json) PrintJson(ctx, client.last_body());
      return EX_CONFIG;
    }
    return Fail(ctx, verb, r.status());
  }
  if (flags.json) {
    PrintJson(ctx, client.last_body());
  } else {
    ctx.out << (r->diff.empty() ? "no changes\n" : r->diff);
    if (!r->diff.empty() && r->diff.back() != '\n') ctx.out << "\n";
    for (const std::string& f : r->failures) {
      ctx.err << "jailwarden " << verb << ": " << f << "\n";
    }
  }
  return r->failures.empty() ? EX_OK : 1;
}

}  // namespace

int RunApplyVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app(
      "Replace the daemon's running policy by FILE (as SIGHUP does with the "
      "policy file): rules swapped in one step, jails added, removed or "
      "restarted only where their definition changed. A bad policy changes "
      "nothing and its errors are printed (exit 78). FILE stays the policy "
      "after a restart (<state_dir>/policy-of-record.yaml) until SIGHUP or an "
      "apply of the daemon's configuration file.",
      "jailwarden apply");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  std::string file;
  bool dry_run = false;
  app.add_option("-f,--file", file, "policy file (YAML)")->required();
  app.add_flag("-n,--dry-run", dry_run, "only show what would change");
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  // Streamed with the one bound on a policy (checks.h), so /dev/zero stops
  // there instead of exhausting memory; the daemon enforces the same bound.
  absl::StatusOr<std::string> text = policy::ReadPolicyFileBounded(file);
  if (!text.ok()) {
    ctx.err << "jailwarden apply: " << text.status().message() << "\n";
    return StatusErrno(text.status()) == EFBIG ? EX_CONFIG : EX_NOINPUT;
  }
  {
    // The warnings `validate` prints (keys that relax isolation), here too:
    // the daemon checks the errors itself.
    std::vector<policy::PolicyError> warnings;
    policy::LoadOptions options;
    options.warnings = &warnings;
    (void)policy::ValidatePolicyText(*text, file, options);
    ctx.err << policy::FormatErrors(warnings);
  }
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "apply", client.status());
  const absl::StatusOr<api::ApplyResult> r = client->Apply(*text, file, dry_run);
  return ReportApply(ctx, flags, *client, r, "apply", /*prefix_refusal=*/false);
}

int RunSetVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app(
      "Change a policy jail's keys through the daemon (PATCH /v1/jails/NAME), as "
      "iocage set does: each KEY=VALUE is a key of the jail in the policy with "
      "its value as YAML ('host.hostname=web.example', 'ip4.addr=[10.0.0.5]'); "
      "KEY= removes the key. The changed policy is validated as 'apply' "
      "validates a file (a bad key or value changes nothing, exit 78), "
      "applied (a jail whose definition changed is restarted, limits change "
      "in place: the printed changes say which) and kept as the policy of "
      "record before the command returns, so a restart keeps it.",
      "jailwarden set");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  std::string name;
  std::vector<std::string> assignments;
  bool dry_run = false;
  app.add_option("name", name, "jail name (defined by the policy)")->required();
  app.add_option("assignments", assignments, "KEY=VALUE (VALUE as YAML; KEY= removes)")
      ->required();
  app.add_flag("-n,--dry-run", dry_run, "only show what would change");
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  std::vector<std::pair<std::string, std::string>> keys;
  for (const std::string& a : assignments) {
    const std::size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      ctx.err << "jailwarden set: '" << a << "' is not KEY=VALUE\n";
      return EX_USAGE;
    }
    for (const auto& [k, v] : keys) {
      if (k == a.substr(0, eq)) {
        ctx.err << "jailwarden set: key '" << k << "' given twice\n";
        return EX_USAGE;
      }
    }
    keys.emplace_back(a.substr(0, eq), a.substr(eq + 1));
  }
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "set", client.status());
  const absl::StatusOr<api::ApplyResult> r = client->SetJailKeys(name, keys, dry_run);
  return ReportApply(ctx, flags, *client, r, "set", /*prefix_refusal=*/true);
}

int RunMkrootVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app(
      "Build a jail root directory: 'busybox DIR' (Linux) makes a ~2 MB root "
      "from Debian's busybox-static (no network needed); 'freebsd-base --from "
      "base.txz DIR' extracts a FreeBSD release's base.txz.",
      "jailwarden mkroot");
  std::string kind, dir, busybox = "/bin/busybox", from;
  app.add_option("kind", kind, "busybox | freebsd-base")
      ->required()
      ->check(CLI::IsMember({"busybox", "freebsd-base"}));
  app.add_option("dir", dir, "directory to fill")->required();
  app.add_option("--busybox", busybox, "static busybox binary to copy");
  app.add_option("--from", from, "freebsd-base: the release's base.txz");
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  if (kind == "freebsd-base") return RunMkrootFreeBsdBase(from, dir, ctx);
#if defined(__linux__)
  std::error_code ec;  // the non-throwing overload
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    ctx.err << "jailwarden mkroot: cannot create " << dir << ": " << ec.message() << "\n";
    return EX_CANTCREAT;
  }
  if (absl::Status s = platform::BuildBusyboxRoot(dir, busybox); !s.ok()) {
    ctx.err << "jailwarden mkroot: " << s.message() << "\n";
    return s.code() == absl::StatusCode::kNotFound ? EX_UNAVAILABLE : EX_CANTCREAT;
  }
  ctx.out << dir << ": busybox root ready\n";
  return EX_OK;
#else
  ctx.err << "jailwarden mkroot: busybox roots are for the Linux backend; on "
             "FreeBSD use 'mkroot freebsd-base --from base.txz DIR'\n";
  return EX_USAGE;
#endif
}

}  // namespace jailwarden::cli
