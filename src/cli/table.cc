#include "cli/table.h"

#include <algorithm>

namespace jailwarden::cli {
namespace {

std::string Border(const std::vector<std::size_t>& widths, char fill) {
  std::string out = "+";
  for (std::size_t w : widths) {
    out.append(w + 2, fill);
    out.push_back('+');
  }
  out.push_back('\n');
  return out;
}

std::string Line(const Row& cells, const std::vector<std::size_t>& widths) {
  std::string out = "|";
  for (std::size_t i = 0; i < widths.size(); ++i) {
    const std::string cell = i < cells.size() ? cells[i] : "";
    out += " " + cell + std::string(widths[i] - cell.size(), ' ') + " |";
  }
  out.push_back('\n');
  return out;
}

}  // namespace

std::string FormatTable(const Row& header, const std::vector<Row>& rows) {
  std::vector<std::size_t> widths(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const Row& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], r[i].size());
    }
  }
  std::string out = Border(widths, '-');
  out += Line(header, widths);
  out += Border(widths, '=');
  for (const Row& r : rows) {
    out += Line(r, widths);
    out += Border(widths, '-');
  }
  return out;
}

std::string FormatScripted(const std::vector<Row>& rows) {
  std::string out;
  for (const Row& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (i > 0) out.push_back('\t');
      out += r[i];
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace jailwarden::cli
