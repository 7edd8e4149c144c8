#pragma once

// The options every daemon-talking verb takes (common.h's ConnectionFlags),
// accepted before the verb as well as after it: `jailwarden -c FILE list`
// means `jailwarden list -c FILE`. One table, shared by the dispatcher,
// `jailwarden --help` and the completion generator.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace jailwarden::cli {

struct GlobalFlag {
  std::string_view names;  // CLI11 form: "-c,--config"
  bool takes_value;
  std::string_view value_name;  // "FILE", "URL"; empty for a flag
  std::string_view help;        // one line
};

// Every global option, in --help order.
std::span<const GlobalFlag> GlobalFlags();

// The command line split at the verb. `global` holds the options found
// before it, as given (values included, "--x=v" kept whole), so that the
// verb parses them with its own parser and the same meaning.
struct SplitCommandLine {
  std::vector<std::string> global;
  std::string verb;  // empty: none given
  std::vector<std::string> rest;
  bool help = false;     // --help/-h before the verb
  bool version = false;  // --version before the verb
};

// Splits `args` (argv without the program name). Errors (InvalidArgument,
// exit EX_USAGE): an option before the verb that is not global ("unknown
// option '--jsn'; did you mean '--json'?"), or a global option's value
// missing.
absl::StatusOr<SplitCommandLine> SplitAtVerb(const std::vector<std::string>& args);

// The known word in `candidates` closest to `word` (base::EditDistance,
// two swapped letters counting as one edit), or empty when none is close
// enough to be a likely typo: distance at most 2 and less than half of
// `word`'s length rounded up. Ties go to the earlier candidate.
std::string Suggest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace jailwarden::cli
