#include "jailwarden/jail/depend.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::jail {
namespace {

enum class Mark : uint8_t { kNone, kActive, kDone };

absl::Status Visit(const DependGraph& g, const std::string& name,
                   std::map<std::string, Mark>& mark, std::vector<std::string>& stack,
                   std::vector<std::string>& out) {
  Mark& m = mark[name];
  if (m == Mark::kDone) {
    return absl::OkStatus();
  }
  if (m == Mark::kActive) {
    auto it = std::find(stack.begin(), stack.end(), name);
    std::vector<std::string> cycle(it, stack.end());
    cycle.push_back(name);
    return absl::FailedPreconditionError(StrCat("dependency cycle: ", Join(cycle, " -> ")));
  }
  m = Mark::kActive;
  stack.push_back(name);
  auto node = g.find(name);
  for (const std::string& dep : node->second) {
    if (g.find(dep) == g.end()) {
      return absl::FailedPreconditionError(
          StrCat("jail ", name, " depends on ", dep, ", which is not defined"));
    }
    absl::Status st = Visit(g, dep, mark, stack, out);
    if (!st.ok()) {
      return st;
    }
  }
  stack.pop_back();
  mark[name] = Mark::kDone;
  out.push_back(name);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> DependStartOrder(const DependGraph& graph,
                                                          std::string_view name) {
  auto it = graph.find(name);
  if (it == graph.end()) {
    return absl::NotFoundError(StrCat("jail ", name, " is not defined"));
  }
  std::map<std::string, Mark> mark;
  std::vector<std::string> stack, out;
  absl::Status st = Visit(graph, it->first, mark, stack, out);
  if (!st.ok()) {
    return st;
  }
  return out;
}

std::vector<std::string> DependentsStopOrder(const DependGraph& graph, std::string_view name) {
  // Reverse edges, then a post-order walk over dependents: a dependent's
  // own dependents come out before it.
  std::map<std::string, std::vector<std::string>> rev;
  for (const auto& [n, deps] : graph) {
    for (const std::string& d : deps) {
      rev[d].push_back(n);
    }
  }
  std::vector<std::string> out;
  std::set<std::string> seen{std::string(name)};
  auto visit = [&](auto&& self, const std::string& n) -> void {
    for (const std::string& dependent : rev[n]) {
      if (seen.insert(dependent).second) {
        self(self, dependent);
        out.push_back(dependent);
      }
    }
  };
  visit(visit, std::string(name));
  return out;
}

std::vector<std::string> StopAllOrder(const DependGraph& graph) {
  // Start order over everything (cycles and dangling edges skipped), then
  // reversed.
  std::vector<std::string> order;
  std::set<std::string> placed;
  for (const auto& [name, deps] : graph) {
    absl::StatusOr<std::vector<std::string>> one = DependStartOrder(graph, name);
    std::vector<std::string> seq = one.ok() ? *one : std::vector<std::string>{name};
    for (const std::string& n : seq) {
      if (placed.insert(n).second) {
        order.push_back(n);
      }
    }
  }
  std::reverse(order.begin(), order.end());
  return order;
}

}  // namespace jailwarden::jail
