#pragma once

// jail(8)'s `depend` ordering (../shared/reference/freebsd-rctl.md §11.3):
// the jails a jail depends on start first, and stop after it. Pure.
//
// DependWalk is the one depth-first walk behind every ordering of `depend`
// in jailwarden (the manager's, the policy's start order and the policy
// loader's cycle check); the other functions here are built on it.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jailwarden::jail {

// name -> the names it depends on.
using DependGraph = std::map<std::string, std::vector<std::string>, std::less<>>;

// One `depend` entry the walk could not follow.
struct DependProblem {
  std::string jail;   // the jail whose `depend` holds the entry
  std::size_t index;  // the entry's index in graph.at(jail)
  // FailedPrecondition: "dependency cycle: a -> b -> a" when the entry
  // leads back to a jail still being walked, or "jail web depends on db,
  // which is not defined" when it names a jail not in the graph.
  absl::Status status;
};

// Called for each DependProblem; a non-OK return stops the walk, which
// then returns that status.
using DependProblemHandler = std::function<absl::Status(const DependProblem&)>;

// Depth-first walk from each of `roots` in turn (names not in the graph are
// skipped), following each jail's dependencies in listed order. Returns
// every jail reached, each once, in post-order: dependencies before
// dependents. An entry that closes a cycle or names an undefined jail is
// not followed; `on_problem` (may be empty: ignore every problem) hears of
// it. Errors: whatever `on_problem` returns.
absl::StatusOr<std::vector<std::string>> DependWalk(const DependGraph& graph,
                                                    const std::vector<std::string>& roots,
                                                    const DependProblemHandler& on_problem);

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

// All jails in `graph` ordered so that dependents come before their
// dependencies (for stopping everything). Jails in a cycle keep name order.
std::vector<std::string> StopAllOrder(const DependGraph& graph);

}  // namespace jailwarden::jail
