// flags → verb → exit code (sysexits). The cli layer owns every verb but
// `serve`, which lives in the service layer (the cli may not include it);
// this file composes the two.
#include <vector>

#include "jailwarden/cli/verbs.h"
#include "jailwarden/service/serve.h"

int main(int argc, char** argv) {
  const std::vector<jailwarden::cli::Verb> extra = {
      {"serve", "run the daemon: serve --config FILE",
       [](const std::vector<std::string>& args,
          jailwarden::cli::CommandContext& ctx) {
         return jailwarden::service::RunServe(args, ctx.out, ctx.err);
       }},
  };
  return jailwarden::cli::Main(argc, argv, extra);
}
