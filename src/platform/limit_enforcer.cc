#include "jailwarden/platform/limit_enforcer.h"

namespace jailwarden::platform {

std::string_view FidelityName(Fidelity f) {
  switch (f) {
    case Fidelity::kExact:
      return "exact";
    case Fidelity::kApproximate:
      return "approximate";
    case Fidelity::kSampled:
      return "sampled";
    case Fidelity::kUnsupported:
      return "unsupported";
  }
  return "unknown";
}

}  // namespace jailwarden::platform
