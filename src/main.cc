// flags → verb → exit code (sysexits). The cli layer owns every verb but
// `serve`, which lives in the service layer (the cli may not include it);
// this file composes the two.
#include <vector>

#include "jailwarden/cli/verbs.h"
#include "jailwarden/service/serve.h"
#if defined(__linux__)
#include "jailwarden/oci/observe.h"
#endif

namespace {

// The OCI containers `serve` shows read-only (docs/oci.md, "Daemon
// visibility"): those under the root `jailwarden oci` uses by default,
// read by the oci layer (which the service layer may not include).
jailwarden::service::ServeOci OciForServe() {
  jailwarden::service::ServeOci oci;
#if defined(__linux__)
  oci.roots = {jailwarden::oci::DefaultRoot()};
  oci.scanner = [](const std::string& root)
      -> absl::StatusOr<jailwarden::service::OciRootScan> {
    absl::StatusOr<jailwarden::oci::ObservedRoot> seen = jailwarden::oci::ObserveRoot(root);
    if (!seen.ok()) return seen.status();
    jailwarden::service::OciRootScan out;
    out.skipped = std::move(seen->skipped);
    for (jailwarden::oci::ObservedContainer& c : seen->containers) {
      out.containers.push_back({std::move(c.id), std::move(c.name), std::move(c.bundle),
                                std::move(c.created),
                                std::move(c.status), c.pid, std::move(c.backend_state),
                                std::move(c.rules)});
    }
    return out;
  };
#endif
  return oci;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<jailwarden::cli::Verb> extra = {
      {"serve", "run the daemon: serve --config FILE",
       [](const std::vector<std::string>& args,
          jailwarden::cli::CommandContext& ctx) {
         return jailwarden::service::RunServe(args, ctx.out, ctx.err, OciForServe());
       }},
  };
  return jailwarden::cli::Main(argc, argv, extra);
}
