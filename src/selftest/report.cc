// Rendering a selftest Report: the terminal table and the JSON form.

#include <algorithm>
#include <array>
#include <string>

#include "jailwarden/base/strings.h"
#include "jailwarden/selftest/selftest.h"

namespace jailwarden::selftest {
namespace {

constexpr std::array kVerdicts = {Verdict::kMatch, Verdict::kDiffers, Verdict::kMissing,
                                  Verdict::kInfo};

std::string Kernel(const Report& report) {
  return report.kernel.empty() ? std::string("unknown kernel") : report.kernel;
}

}  // namespace

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kMatch:
      return "match";
    case Verdict::kDiffers:
      return "DIFFERS";
    case Verdict::kInfo:
      return "info";
    case Verdict::kMissing:
      return "MISSING";
  }
  return "?";
}

int Report::Count(Verdict v) const {
  return static_cast<int>(
      std::ranges::count_if(rows, [v](const Row& r) { return r.verdict == v; }));
}

std::string RenderTable(const Report& report) {
  const std::array<std::string_view, 5> head = {"AREA", "CHECK", "OBSERVED", "EXPECTED",
                                                "VERDICT"};
  std::array<std::size_t, 5> width{};
  for (std::size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
  for (const Row& r : report.rows) {
    width[0] = std::max(width[0], r.area.size());
    width[1] = std::max(width[1], r.check.size());
    width[2] = std::max(width[2], r.observed.size());
    width[3] = std::max(width[3], r.expected.size());
  }
  std::string out = StrCat("jailwarden selftest: ", report.platform, " (", Kernel(report),
                           ")\n");
  auto line = [&](const std::array<std::string_view, 5>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out.append(cells[i]);
      if (i + 1 < cells.size()) out.append(width[i] - cells[i].size() + 2, ' ');
    }
    out.push_back('\n');
  };
  line(head);
  for (const Row& r : report.rows) {
    line({r.area, r.check, r.observed, r.expected, VerdictName(r.verdict)});
  }
  StrAppend(&out, report.rows.size(), " rows:");
  for (Verdict v : kVerdicts) {
    StrAppend(&out, v == Verdict::kMatch ? " " : ", ", report.Count(v), " ", VerdictName(v));
  }
  out.push_back('\n');
  return out;
}

nlohmann::json ToJson(const Report& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& r : report.rows) {
    rows.push_back({{"area", r.area},
                    {"check", r.check},
                    {"observed", r.observed},
                    {"expected", r.expected},
                    {"verdict", VerdictName(r.verdict)}});
  }
  nlohmann::json summary = nlohmann::json::object();
  for (Verdict v : kVerdicts) summary[std::string(VerdictName(v))] = report.Count(v);
  return {{"platform", report.platform},
          {"kernel", Kernel(report)},
          {"rows", std::move(rows)},
          {"summary", std::move(summary)}};
}

}  // namespace jailwarden::selftest
