#pragma once

// jail(8)'s `depend` ordering (../shared/reference/freebsd-rctl.md §11.3):
// the jails a jail depends on start first, and stop after it. Pure.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace jailwarden::jail {

// name -> the names it depends on.
using DependGraph = std::map<std::string, std::vector<std::string>, std::less<>>;

// Every jail `name` needs, dependencies before dependents, `name` last;
// each jail once (diamonds are fine). FailedPrecondition on a cycle, with
// the cycle spelled out ("dependency cycle: a -> b -> c -> a"), or on a
// dependency that is not in the graph ("jail web depends on db, which is
// not defined"). NotFound if `name` itself is not in the graph.
absl::StatusOr<std::vector<std::string>> DependStartOrder(const DependGraph& graph,
                                                          std::string_view name);

// Every jail that depends on `name`, directly or not, in the order they
// must stop (dependents of dependents first); `name` itself not included.
std::vector<std::string> DependentsStopOrder(const DependGraph& graph, std::string_view name);

// All jails in `names` ordered so that dependents come before their
// dependencies (for stopping everything). Jails in a cycle keep name order.
std::vector<std::string> StopAllOrder(const DependGraph& graph);

}  // namespace jailwarden::jail
