#include "jailwarden/jail/depend.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "jailwarden/base/strings.h"

namespace jailwarden::jail {
namespace {

enum class Mark : uint8_t { kNone, kActive, kDone };

class Walker {
 public:
  Walker(const DependGraph& graph, const DependProblemHandler& on_problem)
      : graph_(graph), on_problem_(on_problem) {}

  absl::Status Visit(const std::string& name) {
    Mark& m = mark_[name];
    if (m != Mark::kNone) {
      return absl::OkStatus();
    }
    m = Mark::kActive;
    stack_.push_back(name);
    const std::vector<std::string>& deps = graph_.find(name)->second;
    for (std::size_t i = 0; i < deps.size(); ++i) {
      const std::string& dep = deps[i];
      absl::Status problem;
      if (graph_.find(dep) == graph_.end()) {
        problem = absl::FailedPreconditionError(
            StrCat("jail ", name, " depends on ", dep, ", which is not defined"));
      } else if (Mark dm = mark_[dep]; dm == Mark::kActive) {
        auto it = std::find(stack_.begin(), stack_.end(), dep);
        std::vector<std::string> cycle(it, stack_.end());
        cycle.push_back(dep);
        problem = absl::FailedPreconditionError(
            StrCat("dependency cycle: ", Join(cycle, " -> ")));
      } else if (dm == Mark::kNone) {
        absl::Status st = Visit(dep);
        if (!st.ok()) {
          return st;
        }
        continue;
      } else {
        continue;
      }
      if (on_problem_) {
        absl::Status st = on_problem_(DependProblem{name, i, std::move(problem)});
        if (!st.ok()) {
          return st;
        }
      }
    }
    stack_.pop_back();
    mark_[name] = Mark::kDone;
    out_.push_back(name);
    return absl::OkStatus();
  }

  std::vector<std::string> TakeOrder() { return std::move(out_); }

 private:
  const DependGraph& graph_;
  const DependProblemHandler& on_problem_;
  std::map<std::string, Mark> mark_;
  std::vector<std::string> stack_;
  std::vector<std::string> out_;
};

}  // namespace

absl::StatusOr<std::vector<std::string>> DependWalk(const DependGraph& graph,
                                                    const std::vector<std::string>& roots,
                                                    const DependProblemHandler& on_problem) {
  Walker walker(graph, on_problem);
  for (const std::string& root : roots) {
    if (graph.find(root) == graph.end()) {
      continue;
    }
    absl::Status st = walker.Visit(root);
    if (!st.ok()) {
      return st;
    }
  }
  return walker.TakeOrder();
}

absl::StatusOr<std::vector<std::string>> DependStartOrder(const DependGraph& graph,
                                                          std::string_view name) {
  auto it = graph.find(name);
  if (it == graph.end()) {
    return absl::NotFoundError(StrCat("jail ", name, " is not defined"));
  }
  // The first problem ends the walk.
  return DependWalk(graph, {it->first},
                    [](const DependProblem& p) { return p.status; });
}

std::vector<std::string> DependentsStopOrder(const DependGraph& graph, std::string_view name) {
  // The same walk over reversed edges: a dependent's own dependents come
  // out before it, `name` (the root) last. Every name is a node, so no
  // edge of the reversed graph dangles; cycles are skipped.
  DependGraph rev;
  rev[std::string(name)];
  for (const auto& [n, deps] : graph) {
    rev[n];
    for (const std::string& d : deps) {
      rev[d].push_back(n);
    }
  }
  absl::StatusOr<std::vector<std::string>> order =
      DependWalk(rev, {std::string(name)}, nullptr);
  std::vector<std::string> out = *std::move(order);  // ignores problems: always OK
  out.pop_back();                                    // `name`
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
