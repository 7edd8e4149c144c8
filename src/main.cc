// flags → verb → exit code (sysexits). The cli layer owns every verb but
// `serve`, which lives in the service layer (the cli may not include it);
// this file composes the two.
#include <cstring>
#include <iostream>
#include <vector>

#include "jailwarden/cli/verbs.h"
#ifdef __linux__
#include "jailwarden/oci/oci.h"
#endif
#include "jailwarden/service/serve.h"

int main(int argc, char** argv) {
#ifdef __linux__
  // Installed as jailwarden-oci too: the OCI runtime (docs/oci.md).
  const char* slash = argc > 0 ? strrchr(argv[0], '/') : nullptr;
  if (argc > 0 && strcmp(slash != nullptr ? slash + 1 : argv[0], "jailwarden-oci") == 0) {
    return jailwarden::oci::OciMain(std::vector<std::string>(argv + 1, argv + argc), std::cout,
                                    std::cerr);
  }
#endif
  const std::vector<jailwarden::cli::Verb> extra = {
      {"serve", "run the daemon: serve --config FILE",
       [](const std::vector<std::string>& args,
          jailwarden::cli::CommandContext& ctx) {
         return jailwarden::service::RunServe(args, ctx.out, ctx.err);
       }},
  };
  return jailwarden::cli::Main(argc, argv, extra);
}
